/** Finding the right-clicked image in a page (DOM only; no chrome.* here). */

/** The element under the last contextmenu event, looked up through open shadow roots. */
export function eventTarget(ev: Event): Element | null {
  const path = ev.composedPath();
  for (const node of path) if (node instanceof Element) return node;
  return null;
}

function sameUrl(a: string, b: string): boolean {
  if (a === b) return true;
  try {
    return new URL(a, document.baseURI).href === new URL(b, document.baseURI).href;
  } catch {
    return false;
  }
}

/** The <img> that shows `srcUrl`: the remembered target first, then any image in the document. */
export function findImage(srcUrl: string, remembered: Element | null): HTMLImageElement | null {
  const matches = (el: Element | null): el is HTMLImageElement =>
    el instanceof HTMLImageElement && (sameUrl(el.currentSrc, srcUrl) || sameUrl(el.src, srcUrl));
  if (matches(remembered)) return remembered;
  for (const img of Array.from(document.images)) if (matches(img)) return img;
  return null;
}
