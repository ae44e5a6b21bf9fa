import { ProbeError } from '../core/errors';
import type { RgbaImage } from '../core/image/preprocess';

/** Largest encoded image the extension fetches. */
export const MAX_FETCH_BYTES = 25 * 1024 * 1024;
/** Largest decoded image (natural size) accepted. */
export const MAX_NATURAL_PIXELS = 16384 * 16384;
export const FETCH_TIMEOUT_MS = 15_000;

/** Sniff the image format from its first bytes (never trust the Content-Type alone). */
export function sniffImageType(b: Uint8Array): string | null {
  const starts = (...sig: number[]): boolean => sig.every((v, i) => b[i] === v);
  if (starts(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return 'image/png';
  if (starts(0xff, 0xd8, 0xff)) return 'image/jpeg';
  if (starts(0x47, 0x49, 0x46, 0x38)) return 'image/gif';
  if (starts(0x52, 0x49, 0x46, 0x46) && b[8] === 0x57 && b[9] === 0x45 && b[10] === 0x42 && b[11] === 0x50) return 'image/webp';
  if (starts(0x42, 0x4d)) return 'image/bmp';
  if (starts(0x00, 0x00, 0x01, 0x00)) return 'image/x-icon';
  if (b[4] === 0x66 && b[5] === 0x74 && b[6] === 0x79 && b[7] === 0x70) return 'image/avif';
  return null;
}

/** Fetch an image URL from the extension context (host permission), with a timeout and size cap. */
export async function fetchImageBytes(url: string, timeoutMs = FETCH_TIMEOUT_MS): Promise<Uint8Array> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ProbeError('FETCH_FAILED', 'The image address is not a valid URL.');
  }
  if (!['http:', 'https:', 'data:'].includes(parsed.protocol)) {
    throw new ProbeError('UNSUPPORTED_PAGE', `Images from ${parsed.protocol} addresses cannot be read by the extension.`);
  }
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), timeoutMs);
  try {
    const res = await fetch(url, { credentials: 'omit', signal: ctl.signal, cache: 'force-cache' }).catch((e: unknown) => {
      if (ctl.signal.aborted) throw new ProbeError('TIMEOUT', `The image did not arrive within ${timeoutMs / 1000} s.`);
      throw new ProbeError('FETCH_FAILED', `The image could not be loaded: ${e instanceof Error ? e.message : String(e)}`);
    });
    if (!res.ok) throw new ProbeError('FETCH_FAILED', `The image could not be loaded (HTTP ${res.status}).`);
    const len = Number(res.headers.get('content-length') ?? '0');
    if (len > MAX_FETCH_BYTES) throw new ProbeError('IMAGE_TOO_LARGE', `The image file is too large (${len} bytes).`);
    const buf = new Uint8Array(await res.arrayBuffer());
    if (buf.length > MAX_FETCH_BYTES) throw new ProbeError('IMAGE_TOO_LARGE', `The image file is too large (${buf.length} bytes).`);
    return buf;
  } finally {
    clearTimeout(timer);
  }
}

/** Decode image bytes with createImageBitmap and draw them, downscaled to fit maxSide, on an OffscreenCanvas. */
export async function decodeImage(bytes: Uint8Array, maxSide: number): Promise<{ image: RgbaImage; naturalWidth: number; naturalHeight: number }> {
  const type = sniffImageType(bytes);
  if (!type) throw new ProbeError('NOT_AN_IMAGE', 'The address does not point to an image this extension can read.');
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(new Blob([bytes as Uint8Array<ArrayBuffer>], { type }));
  } catch {
    throw new ProbeError('DECODE_FAILED', `The ${type} image could not be decoded (damaged or unsupported).`);
  }
  try {
    const nw = bitmap.width;
    const nh = bitmap.height;
    if (nw < 1 || nh < 1) throw new ProbeError('NOT_AN_IMAGE', 'The image has no pixels.');
    if (nw * nh > MAX_NATURAL_PIXELS) throw new ProbeError('IMAGE_TOO_LARGE', `The image is too large (${nw}×${nh}).`);
    const s = Math.min(1, maxSide / Math.max(nw, nh));
    const width = Math.max(1, Math.round(nw * s));
    const height = Math.max(1, Math.round(nh * s));
    const canvas = new OffscreenCanvas(width, height);
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    if (!ctx) throw new ProbeError('INTERNAL', 'No 2D canvas in the service worker.');
    ctx.imageSmoothingQuality = 'high';
    ctx.drawImage(bitmap, 0, 0, width, height);
    const data = ctx.getImageData(0, 0, width, height).data;
    return { image: { width, height, data }, naturalWidth: nw, naturalHeight: nh };
  } finally {
    bitmap.close();
  }
}
