import { ProbeError } from '../core/errors';
import { checkDeclaredSize, MAX_IMAGE_BYTES, MAX_JPEG_PIXELS } from '../core/image/header';
import { decodeImage, httpFailure, readCapped } from '../background/decode';
import { bytesToBase64 } from '../protocol/base64';
import type { CapturedImage, ScreenBox } from '../protocol/types';

/** Target size for drawing an image of natural size w×h so that its longer side is at most maxSide. */
export function fitWithin(w: number, h: number, maxSide: number): { width: number; height: number } {
  const s = Math.min(1, maxSide / Math.max(w, h));
  return { width: Math.max(1, Math.round(w * s)), height: Math.max(1, Math.round(h * s)) };
}

/**
 * Largest natural size read from a page's <img>. The page has already decoded it, so only the
 * format-independent upper cap applies (the header module's JPEG cap); bigger ones are refused.
 */
export const MAX_PAGE_IMAGE_PIXELS = MAX_JPEG_PIXELS;
/** Page-context fetches give up after this long. */
export const PAGE_FETCH_TIMEOUT_MS = 15_000;

const isSvg = (img: HTMLImageElement): boolean => /^data:image\/svg\+xml|\.svg(?:[?#]|$)/i.test(img.currentSrc || img.src);

/**
 * Read an <img>'s pixels through a canvas, downscaled to fit maxSide. An SVG without an intrinsic
 * size is rasterised at its rendered aspect ratio with its longer side maxSide.
 * Throws ProbeError IMAGE_BROKEN (not loaded), IMAGE_TOO_LARGE or CROSS_ORIGIN_BLOCKED (tainted canvas).
 */
export function captureImageElement(img: HTMLImageElement, maxSide: number): CapturedImage {
  let nw = img.naturalWidth;
  let nh = img.naturalHeight;
  if (img.complete && (nw === 0 || nh === 0) && isSvg(img)) {
    const box = img.getBoundingClientRect();
    const w = box.width > 0 ? box.width : 300;
    const h = box.height > 0 ? box.height : 150;
    nw = Math.max(1, Math.round((maxSide * w) / Math.max(w, h)));
    nh = Math.max(1, Math.round((maxSide * h) / Math.max(w, h)));
  }
  if (!img.complete || nw === 0 || nh === 0) {
    throw new ProbeError('IMAGE_BROKEN', 'The image has not loaded (broken link or still loading).');
  }
  checkDeclaredSize(nw, nh, MAX_PAGE_IMAGE_PIXELS);
  const { width, height } = fitWithin(nw, nh, maxSide);
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new ProbeError('INTERNAL', 'No 2D canvas available in this page.');
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(img, 0, 0, width, height);
  let data: ImageData;
  try {
    data = ctx.getImageData(0, 0, width, height);
  } catch {
    throw new ProbeError('CROSS_ORIGIN_BLOCKED', 'The page does not allow reading this image (cross-origin).');
  }
  return { width, height, naturalWidth: nw, naturalHeight: nh, rgbaBase64: bytesToBase64(data.data) };
}

/**
 * May the page itself fetch this address for us? Only addresses the page could read anyway:
 * its own origin (its cookies go back to the site that set them, never elsewhere), blob: URLs
 * it made, and data: URLs.
 */
export function pageMayFetch(url: string, pageOrigin: string): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  if (u.protocol === 'data:') return true;
  if (u.protocol === 'blob:') return true;
  return (u.protocol === 'http:' || u.protocol === 'https:') && u.origin === pageOrigin;
}

/**
 * Fetch an image in the page's context (same-origin with the page's cookies, or a page-made blob:
 * / data: URL), check its header (caps, magic bytes: a bomb is never decoded), decode the first
 * frame and downscale it. `firstFrameOnly` says whether the file was animated.
 */
export async function capturePageFetch(url: string, maxSide: number, timeoutMs = PAGE_FETCH_TIMEOUT_MS): Promise<{ image: CapturedImage; firstFrameOnly: boolean }> {
  if (url.startsWith('data:') && url.length > MAX_IMAGE_BYTES) {
    throw new ProbeError('IMAGE_TOO_LARGE', `The inline (data:) image is too large (${(url.length / 1048576).toFixed(1)} MB of text, limit ${(MAX_IMAGE_BYTES / 1048576).toFixed(0)} MB).`);
  }
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), timeoutMs);
  let bytes: Uint8Array;
  try {
    const res = await fetch(url, { credentials: 'same-origin', signal: ctl.signal }).catch((e: unknown) => {
      if (ctl.signal.aborted) throw new ProbeError('TIMEOUT', `The image did not arrive within ${timeoutMs / 1000} s.`);
      throw new ProbeError('FETCH_FAILED', `The image could not be loaded in the page: ${e instanceof Error ? e.message : String(e)}`);
    });
    if (!res.ok) throw httpFailure(res.status);
    bytes = await readCapped(res, MAX_IMAGE_BYTES, () => ctl.signal.aborted, timeoutMs);
  } finally {
    clearTimeout(timer);
  }
  const d = await decodeImage(bytes, maxSide);
  return {
    image: { width: d.image.width, height: d.image.height, naturalWidth: d.naturalWidth, naturalHeight: d.naturalHeight, rgbaBase64: bytesToBase64(d.image.data) },
    firstFrameOnly: d.firstFrameOnly,
  };
}

/**
 * The <img>'s content box (inside border and padding) in the viewport, when it is loaded and wholly visible in
 * a top-level page; else null. Images in frames are left out: a frame does not know where it sits on the screen.
 */
export function screenBoxOf(img: HTMLImageElement, win: Window = window): ScreenBox | null {
  if (win.top !== win || !img.complete || img.naturalWidth === 0) return null;
  const r = img.getBoundingClientRect();
  const cs = win.getComputedStyle(img);
  const px = (v: string): number => Number.parseFloat(v) || 0;
  const left = r.left + px(cs.borderLeftWidth) + px(cs.paddingLeft);
  const top = r.top + px(cs.borderTopWidth) + px(cs.paddingTop);
  const width = r.width - px(cs.borderLeftWidth) - px(cs.paddingLeft) - px(cs.borderRightWidth) - px(cs.paddingRight);
  const height = r.height - px(cs.borderTopWidth) - px(cs.paddingTop) - px(cs.borderBottomWidth) - px(cs.paddingBottom);
  const vw = win.innerWidth;
  const vh = win.innerHeight;
  if (!(width >= 1 && height >= 1) || left < 0 || top < 0 || left + width > vw || top + height > vh) return null;
  // object-fit other than fill draws the picture in part of the box: not what a crop of the box would show.
  if (cs.objectFit && cs.objectFit !== 'fill') return null;
  return { x: left, y: top, width, height, dpr: win.devicePixelRatio || 1, viewportWidth: vw, viewportHeight: vh, naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight };
}
