/** Finding the right-clicked image in a page (DOM only; no chrome.* here). */

/** The element under the last contextmenu event, looked up through open shadow roots. */
export function eventTarget(ev: Event): Element | null {
  const path = ev.composedPath();
  for (const node of path) if (node instanceof Element) return node;
  return null;
}

function resolve(u: string, base: string): string | null {
  try {
    return new URL(u, base).href;
  } catch {
    return null;
  }
}

/** Do two addresses name the same resource (resolved against the document's base)? */
export function sameUrl(a: string, b: string, base: string = document.baseURI): boolean {
  if (a === b) return true;
  const ra = resolve(a, base);
  return ra !== null && ra === resolve(b, base);
}

/** Attributes lazy-loading libraries keep the real address in. */
export const LAZY_ATTRIBUTES = ['data-src', 'data-lazy-src', 'data-original', 'data-lazy', 'data-srcset'] as const;

/** The real address a lazy-loading <img> waits to load (its first lazy attribute), or null. */
export function lazySource(el: Element): string | null {
  for (const a of LAZY_ATTRIBUTES) {
    const v = el.getAttribute(a)?.trim();
    if (v) return a === 'data-srcset' ? (v.split(',')[0]?.trim().split(/\s+/)[0] ?? null) : v;
  }
  return null;
}

/**
 * Is an <img> still showing a lazy-loading placeholder? True when it names a different real
 * address in a lazy attribute and what it shows is an inline (data:) image or at most 2×2 pixels.
 */
export function isLazyPlaceholder(p: { currentSrc: string; naturalWidth: number; naturalHeight: number; lazySrc: string | null }, base: string): boolean {
  if (!p.lazySrc || sameUrl(p.lazySrc, p.currentSrc, base)) return false;
  return p.currentSrc === '' || p.currentSrc.startsWith('data:') || p.naturalWidth * p.naturalHeight <= 4;
}

/** Every element of a root, descending into open shadow roots (closed ones are invisible by design). */
export function* deepElements(root: Document | ShadowRoot | Element): Generator<Element> {
  const stack: ParentNode[] = [root];
  let seen = 0;
  while (stack.length > 0 && seen < 200_000) {
    const node = stack.pop() as ParentNode;
    const children = Array.from(node.children ?? []);
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]);
    if ((node as Node).nodeType === 1) {
      const el = node as Element;
      seen++;
      yield el;
      if (el.shadowRoot) stack.push(el.shadowRoot);
    }
  }
}

/** URLs in a CSS image value: `url("a.png"), linear-gradient(...), url(b.jpg)` → ['a.png', 'b.jpg']. */
export function cssUrls(value: string): string[] {
  const out: string[] = [];
  const re = /url\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|([^)'"\s]*))\s*\)/g;
  for (let m = re.exec(value); m; m = re.exec(value)) {
    const u = (m[1] ?? m[2] ?? m[3] ?? '').replace(/\\(.)/g, '$1');
    if (u) out.push(u);
  }
  return out;
}

/** CSS background images of an element and of its ::before / ::after, resolved to absolute URLs. */
export function backgroundUrls(el: Element, getStyle: (el: Element, pseudo: string | null) => { backgroundImage: string; content?: string }, base: string): string[] {
  const urls: string[] = [];
  for (const pseudo of [null, '::before', '::after']) {
    let st: { backgroundImage: string; content?: string };
    try {
      st = getStyle(el, pseudo);
    } catch {
      continue;
    }
    for (const u of [...cssUrls(st.backgroundImage ?? ''), ...(pseudo ? cssUrls(st.content ?? '') : [])]) {
      const r = resolve(u, base);
      if (r && !urls.includes(r)) urls.push(r);
    }
  }
  return urls;
}

/** What the content script found for the right-clicked address. */
export type Located =
  | { readonly kind: 'img'; readonly img: HTMLImageElement }
  | { readonly kind: 'placeholder'; readonly img: HTMLImageElement; readonly realUrl: string }
  | { readonly kind: 'background'; readonly element: Element; readonly url: string }
  /** The click landed on a custom element whose shadow root is closed (or absent) and nothing matched. */
  | { readonly kind: 'closed-shadow'; readonly host: Element }
  | { readonly kind: 'none'; readonly hadBackgrounds: boolean };

const computed = (el: Element, pseudo: string | null): CSSStyleDeclaration => getComputedStyle(el, pseudo);

/** The <img> that shows `srcUrl`: the remembered target first, then any image in the document or its open shadow roots. */
export function findImage(srcUrl: string, remembered: Element | null): HTMLImageElement | null {
  const base = document.baseURI;
  const matches = (el: Element | null): el is HTMLImageElement =>
    el instanceof HTMLImageElement && (sameUrl(el.currentSrc, srcUrl, base) || sameUrl(el.src, srcUrl, base));
  if (matches(remembered)) return remembered;
  for (const img of Array.from(document.querySelectorAll('img'))) if (matches(img)) return img;
  for (const el of deepElements(document)) if (matches(el)) return el;
  return null;
}

/**
 * Locate what `srcUrl` refers to: an <img> (by currentSrc, so <picture>/srcset pick the source the
 * browser chose), a lazy placeholder, a CSS background (element, ::before, ::after) of the
 * right-clicked element or its ancestors, or say why nothing was found.
 */
export function locate(srcUrl: string, remembered: Element | null): Located {
  const base = document.baseURI;
  const img = findImage(srcUrl, remembered);
  if (img) {
    const lazy = lazySource(img);
    const placeholder = isLazyPlaceholder({ currentSrc: img.currentSrc || img.src, naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight, lazySrc: lazy }, base);
    if (placeholder && lazy) return { kind: 'placeholder', img, realUrl: resolve(lazy, base) ?? lazy };
    return { kind: 'img', img };
  }
  // A right-click on an element (or a child of one) painted with a CSS background image.
  let hadBackgrounds = false;
  for (let el: Element | null = remembered, depth = 0; el && depth < 8; el = el.parentElement, depth++) {
    const urls = backgroundUrls(el, computed, base);
    if (urls.length > 0) hadBackgrounds = true;
    const hit = urls.find((u) => sameUrl(u, srcUrl, base));
    if (hit) return { kind: 'background', element: el, url: hit };
  }
  if (remembered && remembered.localName.includes('-') && !remembered.shadowRoot) return { kind: 'closed-shadow', host: remembered };
  return { kind: 'none', hadBackgrounds };
}

/**
 * The first CSS background image (element, ::before, ::after) at the right-clicked element or its
 * ancestors, or null: "no image here". For a click the browser did not report as an image.
 */
export function backgroundAt(remembered: Element | null): string | null {
  const base = document.baseURI;
  for (let el: Element | null = remembered, depth = 0; el && depth < 8; el = el.parentElement, depth++) {
    const [u] = backgroundUrls(el, computed, base);
    if (u) return u;
  }
  return null;
}
