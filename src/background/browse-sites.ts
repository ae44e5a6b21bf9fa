/**
 * Browse mode's per-site setting: the origins whose pages show badges, kept in chrome.storage.local under
 * BROWSE_ORIGINS_KEY as a list of origin strings (a setting, never an image). Pure helpers; no chrome.* here.
 */

/** The chrome.storage.local key holding the list of origins with browse mode on. */
export const BROWSE_ORIGINS_KEY = 'browse:origins';
/** Most origins kept (older ones are dropped first). */
export const MAX_BROWSE_ORIGINS = 500;

/** The origin of an http(s) page address, or null (browser pages, files, extension pages, junk: no badges there). */
export function siteOrigin(url: string | undefined | null): string | null {
  if (typeof url !== 'string' || url.length === 0) return null;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return null;
  }
  return u.protocol === 'http:' || u.protocol === 'https:' ? u.origin : null;
}

/** The stored list, cleaned: only http(s) origins in canonical form, no duplicates, at most MAX_BROWSE_ORIGINS. */
export function parseOrigins(raw: unknown): string[] {
  if (!Array.isArray(raw)) return [];
  const out: string[] = [];
  for (const v of raw) {
    const o = typeof v === 'string' ? siteOrigin(v) : null;
    if (o !== null && o === v && !out.includes(o)) out.push(o);
  }
  return out.slice(-MAX_BROWSE_ORIGINS);
}

/** The list with `origin` switched on (appended once) or off (removed). */
export function withOrigin(list: readonly string[], origin: string, enabled: boolean): string[] {
  const rest = list.filter((o) => o !== origin);
  return enabled ? [...rest, origin].slice(-MAX_BROWSE_ORIGINS) : rest;
}
