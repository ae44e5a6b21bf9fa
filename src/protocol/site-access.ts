/** Host-permission patterns for addresses: shared by the worker (what to ask for) and the popup (asking). */

/** Is this an address the extension could be allowed to read (http or https)? */
export function grantable(url: string | null | undefined): boolean {
  if (typeof url !== 'string') return false;
  try {
    const u = new URL(url);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

/**
 * The host-permission match pattern for an address: `https://example.com/*` (match patterns carry no port,
 * so one grant covers every port of that host). Null for anything not http(s).
 */
export function originPattern(url: string | null | undefined): string | null {
  if (!grantable(url)) return null;
  const u = new URL(url as string);
  return `${u.protocol}//${u.hostname}/*`;
}

/** The host of an address, for messages ("example.com"); the address itself when it has none. */
export function hostOf(url: string): string {
  try {
    return new URL(url).hostname || url;
  } catch {
    return url;
  }
}

/** The host of a host-permission pattern: "example.com" for "https://example.com/*"; the pattern itself otherwise. */
export function hostOfPattern(pattern: string): string {
  const m = /^[a-z*]+:\/\/([^/]+)\//.exec(pattern);
  return m ? m[1] : pattern;
}
