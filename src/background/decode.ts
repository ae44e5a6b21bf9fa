import { ProbeError } from '../core/errors';
import { checkBeforeDecode, checkDeclaredSize, MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS, MIME, sniffFormat, type ImageHeader } from '../core/image/header';
import type { RgbaImage } from '../core/image/preprocess';

/** Largest encoded image the extension fetches (the header module's byte cap). */
export const MAX_FETCH_BYTES = MAX_IMAGE_BYTES;
/** Largest decoded image (natural size) accepted for formats whose header is not parsed (AVIF, ICO). */
export const MAX_NATURAL_PIXELS = MAX_IMAGE_PIXELS;
export const FETCH_TIMEOUT_MS = 15_000;

/** Sniff the image format from its first bytes (never trust the Content-Type alone); its MIME type or null. */
export function sniffImageType(b: Uint8Array): string | null {
  const f = sniffFormat(b);
  return f ? MIME[f] : null;
}

/** Why an HTTP status failed, in words a person can act on. */
export function httpFailure(status: number): ProbeError {
  if (status === 401 || status === 403) {
    return new ProbeError('FETCH_FAILED', `The image needs the site's sign-in (HTTP ${status}); the extension does not send your cookies to it. Open the image itself in a tab and probe it there.`);
  }
  return new ProbeError('FETCH_FAILED', `The image could not be loaded (HTTP ${status}).`);
}

/**
 * Read a response body with a byte cap, so an oversized or endless body is refused while it
 * streams (never buffered whole). `aborted` tells a timeout from a network error.
 */
export async function readCapped(res: Response, maxBytes: number, aborted: () => boolean, timeoutMs: number): Promise<Uint8Array> {
  const len = Number(res.headers.get('content-length') ?? '0');
  if (len > maxBytes) throw new ProbeError('IMAGE_TOO_LARGE', `The image file is too large (${(len / 1048576).toFixed(1)} MB, limit ${(maxBytes / 1048576).toFixed(0)} MB).`);
  if (!res.body) return new Uint8Array(await res.arrayBuffer());
  const reader = res.body.getReader();
  const parts: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > maxBytes) {
        await reader.cancel().catch(() => undefined);
        throw new ProbeError('IMAGE_TOO_LARGE', `The image file is too large (over ${(maxBytes / 1048576).toFixed(0)} MB).`);
      }
      parts.push(value);
    }
  } catch (e) {
    if (e instanceof ProbeError) throw e;
    if (aborted()) throw new ProbeError('TIMEOUT', `The image did not arrive within ${timeoutMs / 1000} s.`);
    throw new ProbeError('FETCH_FAILED', `The image download broke off: ${e instanceof Error ? e.message : String(e)}`);
  }
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Fetch an image URL from the extension context (host permission), with a timeout, a streaming
 * size cap and no credentials (cookies are never sent by the extension).
 */
export async function fetchImageBytes(url: string, timeoutMs = FETCH_TIMEOUT_MS, maxBytes = MAX_FETCH_BYTES): Promise<Uint8Array> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ProbeError('FETCH_FAILED', 'The image address is not a valid URL.');
  }
  if (parsed.protocol === 'blob:') {
    throw new ProbeError('UNSUPPORTED_PAGE', 'This image only exists inside the page (a blob: address) and the page could not give its pixels.');
  }
  if (!['http:', 'https:', 'data:'].includes(parsed.protocol)) {
    throw new ProbeError('UNSUPPORTED_PAGE', `Images from ${parsed.protocol} addresses cannot be read by the extension.`);
  }
  // A data: URL carries its bytes in the address: refuse an oversized one without decoding it.
  if (parsed.protocol === 'data:' && url.length > maxBytes) {
    throw new ProbeError('IMAGE_TOO_LARGE', `The inline (data:) image is too large (${(url.length / 1048576).toFixed(1)} MB of text, limit ${(maxBytes / 1048576).toFixed(0)} MB).`);
  }
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), timeoutMs);
  try {
    const res = await fetch(url, { credentials: 'omit', signal: ctl.signal, cache: 'force-cache' }).catch((e: unknown) => {
      if (ctl.signal.aborted) throw new ProbeError('TIMEOUT', `The image did not arrive within ${timeoutMs / 1000} s.`);
      throw new ProbeError('FETCH_FAILED', `The image could not be loaded: ${e instanceof Error ? e.message : String(e)}`);
    });
    if (!res.ok) throw httpFailure(res.status);
    return await readCapped(res, maxBytes, () => ctl.signal.aborted, timeoutMs);
  } finally {
    clearTimeout(timer);
  }
}

/** What decoding produced: downscaled pixels, the natural size and the header facts. */
export interface DecodedImage {
  readonly image: RgbaImage;
  readonly naturalWidth: number;
  readonly naturalHeight: number;
  readonly format: ImageHeader['format'];
  /** True when the file is animated (GIF, APNG, WebP): only its first frame was analysed. */
  readonly firstFrameOnly: boolean;
}

/**
 * Check the header (magic bytes, declared size against the caps: a decompression bomb is never
 * decoded), then decode with createImageBitmap, resized at decode to fit maxSide, and read the
 * pixels from an OffscreenCanvas. Works in the service worker and in pages.
 */
export async function decodeImage(bytes: Uint8Array, maxSide: number): Promise<DecodedImage> {
  const header = checkBeforeDecode(bytes);
  const type = header.mime;
  const fit = (w: number, h: number): { width: number; height: number } => {
    const s = Math.min(1, maxSide / Math.max(w, h));
    return { width: Math.max(1, Math.round(w * s)), height: Math.max(1, Math.round(h * s)) };
  };
  const target = header.width !== null && header.height !== null ? fit(header.width, header.height) : null;
  let bitmap: ImageBitmap;
  try {
    const blob = new Blob([bytes as Uint8Array<ArrayBuffer>], { type });
    bitmap = target
      ? await createImageBitmap(blob, { resizeWidth: target.width, resizeHeight: target.height, resizeQuality: 'high' })
      : await createImageBitmap(blob);
  } catch {
    throw new ProbeError('DECODE_FAILED', `The ${type} image could not be decoded (damaged or unsupported).`);
  }
  try {
    const nw = header.width ?? bitmap.width;
    const nh = header.height ?? bitmap.height;
    if (header.width === null) checkDeclaredSize(nw, nh, MAX_NATURAL_PIXELS);
    const { width, height } = target ?? fit(nw, nh);
    const canvas = new OffscreenCanvas(width, height);
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    if (!ctx) throw new ProbeError('INTERNAL', 'No 2D canvas available.');
    ctx.imageSmoothingQuality = 'high';
    ctx.drawImage(bitmap, 0, 0, width, height);
    const data = ctx.getImageData(0, 0, width, height).data;
    return { image: { width, height, data }, naturalWidth: nw, naturalHeight: nh, format: header.format, firstFrameOnly: header.animated };
  } finally {
    bitmap.close();
  }
}
