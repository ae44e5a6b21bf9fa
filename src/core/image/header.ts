import { ProbeError } from '../errors';

/**
 * Image headers read without decoding: magic-byte sniffing, the declared width and height of
 * PNG, GIF, JPEG, WebP and BMP files, and whether the file is animated (GIF with several frames,
 * APNG, animated WebP). Used to refuse decompression bombs and broken files before any decoder runs.
 * Pure functions over bytes: no DOM, no chrome.*.
 */

/** Formats whose size the header parser reads. AVIF and ICO are sniffed but not parsed. */
export type ImageFormat = 'png' | 'jpeg' | 'gif' | 'webp' | 'bmp' | 'avif' | 'ico';

export const MIME: Readonly<Record<ImageFormat, string>> = {
  png: 'image/png',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  bmp: 'image/bmp',
  avif: 'image/avif',
  ico: 'image/x-icon',
};

/** Largest declared image (width × height) decoded, for formats that are always decoded in full. */
export const MAX_IMAGE_PIXELS = 50_000_000;
/**
 * Largest declared JPEG. Higher than MAX_IMAGE_PIXELS so a real 108-megapixel camera photo
 * (12000×9000) still works; a header declaring 64250×64250 (4.1 gigapixels) is refused.
 */
export const MAX_JPEG_PIXELS = 120_000_000;
/** Largest encoded image file accepted (bytes). */
export const MAX_IMAGE_BYTES = 50 * 1024 * 1024;
/** How far into a JPEG the SOF marker is searched for (APPn/EXIF segments come first). */
export const JPEG_SCAN_LIMIT = 4 * 1024 * 1024;
/** How many PNG chunks / GIF blocks are walked looking for animation before giving up. */
const MAX_WALK = 100_000;

export interface ImageHeader {
  readonly format: ImageFormat;
  readonly mime: string;
  /** Declared size; null for formats whose header is not parsed (AVIF, ICO). */
  readonly width: number | null;
  readonly height: number | null;
  /** True for a GIF with more than one frame, an APNG with more than one frame, or an animated WebP. */
  readonly animated: boolean;
}

/** Sniff the format from the first bytes (never trust the Content-Type or the file name). */
export function sniffFormat(b: Uint8Array): ImageFormat | null {
  const starts = (...sig: number[]): boolean => b.length >= sig.length && sig.every((v, i) => b[i] === v);
  if (starts(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return 'png';
  if (starts(0xff, 0xd8, 0xff)) return 'jpeg';
  if (starts(0x47, 0x49, 0x46, 0x38)) return 'gif';
  if (starts(0x52, 0x49, 0x46, 0x46) && b.length >= 12 && b[8] === 0x57 && b[9] === 0x45 && b[10] === 0x42 && b[11] === 0x50) return 'webp';
  if (starts(0x42, 0x4d)) return 'bmp';
  if (starts(0x00, 0x00, 0x01, 0x00)) return 'ico';
  if (b.length >= 12 && b[4] === 0x66 && b[5] === 0x74 && b[6] === 0x79 && b[7] === 0x70) return 'avif';
  return null;
}

const truncated = (what: string): ProbeError => new ProbeError('DECODE_FAILED', `The ${what} image is truncated or damaged (its header is incomplete).`);

const be16 = (b: Uint8Array, o: number): number => (b[o] << 8) | b[o + 1];
const be32 = (b: Uint8Array, o: number): number => ((b[o] << 24) >>> 0) + ((b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]);
const le16 = (b: Uint8Array, o: number): number => b[o] | (b[o + 1] << 8);
const le24 = (b: Uint8Array, o: number): number => b[o] | (b[o + 1] << 8) | (b[o + 2] << 16);
const le32s = (b: Uint8Array, o: number): number => b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24);
const tag = (b: Uint8Array, o: number): string => String.fromCharCode(b[o], b[o + 1], b[o + 2], b[o + 3]);

function png(b: Uint8Array): Omit<ImageHeader, 'format' | 'mime'> {
  if (b.length < 24) throw truncated('PNG');
  if (tag(b, 12) !== 'IHDR' || be32(b, 8) !== 13) throw new ProbeError('DECODE_FAILED', 'The PNG image is damaged (its first chunk is not IHDR).');
  const width = be32(b, 16);
  const height = be32(b, 20);
  // APNG: an acTL chunk before the first IDAT declares the frame count.
  let animated = false;
  let o = 8;
  for (let n = 0; n < MAX_WALK && o + 8 <= b.length; n++) {
    const len = be32(b, o);
    const t = tag(b, o + 4);
    if (t === 'IDAT' || t === 'IEND') break;
    if (t === 'acTL' && o + 12 <= b.length) {
      animated = be32(b, o + 8) > 1;
      break;
    }
    o += 12 + len;
  }
  return { width, height, animated };
}

function gif(b: Uint8Array): Omit<ImageHeader, 'format' | 'mime'> {
  if (b.length < 10) throw truncated('GIF');
  const width = le16(b, 6);
  const height = le16(b, 8);
  // Count image descriptors (stop at two): header 6 + logical screen descriptor 7 + global colour table.
  let o = 13;
  if (b.length > 10 && b[10] & 0x80) o += 3 * (1 << ((b[10] & 0x07) + 1));
  const skipSubBlocks = (p: number): number => {
    for (let n = 0; n < MAX_WALK && p < b.length; n++) {
      const size = b[p];
      if (size === 0) return p + 1;
      p += size + 1;
    }
    return b.length;
  };
  let frames = 0;
  for (let n = 0; n < MAX_WALK && o < b.length && frames < 2; n++) {
    const block = b[o];
    if (block === 0x2c) {
      frames++;
      if (o + 10 > b.length) break;
      const flags = b[o + 9];
      o += 10;
      if (flags & 0x80) o += 3 * (1 << ((flags & 0x07) + 1));
      o = skipSubBlocks(o + 1); // LZW minimum code size, then the image data
    } else if (block === 0x21) {
      o = skipSubBlocks(o + 2);
    } else {
      break; // trailer (0x3b) or junk
    }
  }
  return { width, height, animated: frames > 1 };
}

/** SOFn markers carry the frame size; C4 (DHT), C8 (JPG) and CC (DAC) share the range but do not. */
const isSof = (m: number): boolean => m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;

function jpeg(b: Uint8Array): Omit<ImageHeader, 'format' | 'mime'> {
  const end = Math.min(b.length, JPEG_SCAN_LIMIT);
  let o = 2;
  for (;;) {
    // Markers are 0xFF followed by a code; extra 0xFF bytes are fill.
    if (o >= end) {
      if (end < b.length) throw new ProbeError('DECODE_FAILED', `The JPEG image has no frame header in its first ${JPEG_SCAN_LIMIT} bytes.`);
      throw truncated('JPEG');
    }
    if (b[o] !== 0xff) throw new ProbeError('DECODE_FAILED', 'The JPEG image is damaged (a segment does not start with a marker).');
    while (o < end && b[o] === 0xff) o++;
    if (o >= end) throw truncated('JPEG');
    const m = b[o++];
    if (m === 0xd8 || m === 0x01 || (m >= 0xd0 && m <= 0xd7)) continue; // stand-alone markers
    if (m === 0xd9 || m === 0xda) throw new ProbeError('DECODE_FAILED', 'The JPEG image is damaged (no frame header before the image data).');
    if (o + 2 > end) throw truncated('JPEG');
    const len = be16(b, o);
    if (len < 2) throw new ProbeError('DECODE_FAILED', 'The JPEG image is damaged (a segment length is invalid).');
    if (isSof(m)) {
      if (o + 7 > b.length) throw truncated('JPEG');
      const height = be16(b, o + 3);
      const width = be16(b, o + 5);
      if (height === 0) throw new ProbeError('DECODE_FAILED', 'The JPEG image declares its height later in the file (DNL), which is not supported.');
      return { width, height, animated: false };
    }
    o += len;
  }
}

function webp(b: Uint8Array): Omit<ImageHeader, 'format' | 'mime'> {
  if (b.length < 30) throw truncated('WebP');
  const chunk = tag(b, 12);
  if (chunk === 'VP8 ') {
    if (b[23] !== 0x9d || b[24] !== 0x01 || b[25] !== 0x2a) throw new ProbeError('DECODE_FAILED', 'The WebP image is damaged (bad VP8 start code).');
    return { width: le16(b, 26) & 0x3fff, height: le16(b, 28) & 0x3fff, animated: false };
  }
  if (chunk === 'VP8L') {
    if (b[20] !== 0x2f) throw new ProbeError('DECODE_FAILED', 'The WebP image is damaged (bad VP8L signature).');
    const bits = (b[21] | (b[22] << 8) | (b[23] << 16) | (b[24] << 24)) >>> 0;
    return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1, animated: false };
  }
  if (chunk === 'VP8X') {
    return { width: le24(b, 24) + 1, height: le24(b, 27) + 1, animated: (b[20] & 0x02) !== 0 };
  }
  throw new ProbeError('DECODE_FAILED', `The WebP image is damaged (unknown first chunk "${chunk.replace(/[^\x20-\x7e]/g, '?')}").`);
}

function bmp(b: Uint8Array): Omit<ImageHeader, 'format' | 'mime'> {
  if (b.length < 26) throw truncated('BMP');
  const dib = le32s(b, 14);
  if (dib === 12) return { width: le16(b, 18), height: le16(b, 20), animated: false };
  if (dib < 40) throw new ProbeError('DECODE_FAILED', 'The BMP image is damaged (unknown header).');
  return { width: Math.abs(le32s(b, 18)), height: Math.abs(le32s(b, 22)), animated: false };
}

/**
 * Read the format, declared size and animation flag of an encoded image without decoding it.
 * Throws ProbeError NOT_AN_IMAGE (not a known image format: HTML, text, SVG…) or DECODE_FAILED
 * (truncated or damaged header).
 */
export function readImageHeader(bytes: Uint8Array): ImageHeader {
  const format = sniffFormat(bytes);
  if (!format) throw new ProbeError('NOT_AN_IMAGE', 'The address does not point to an image this extension can read (PNG, JPEG, GIF, WebP, BMP, AVIF, ICO).');
  const mime = MIME[format];
  switch (format) {
    case 'png':
      return { format, mime, ...png(bytes) };
    case 'gif':
      return { format, mime, ...gif(bytes) };
    case 'jpeg':
      return { format, mime, ...jpeg(bytes) };
    case 'webp':
      return { format, mime, ...webp(bytes) };
    case 'bmp':
      return { format, mime, ...bmp(bytes) };
    case 'avif':
    case 'ico':
      return { format, mime, width: null, height: null, animated: false };
  }
}

export interface ImageCaps {
  readonly maxPixels: number;
  readonly maxJpegPixels: number;
  readonly maxBytes: number;
}

export const DEFAULT_CAPS: ImageCaps = { maxPixels: MAX_IMAGE_PIXELS, maxJpegPixels: MAX_JPEG_PIXELS, maxBytes: MAX_IMAGE_BYTES };

/** The pixel cap for a format (JPEG decoders can downscale while decoding; the others decode in full). */
export function pixelCapOf(format: ImageFormat, caps: ImageCaps = DEFAULT_CAPS): number {
  return format === 'jpeg' ? caps.maxJpegPixels : caps.maxPixels;
}

/**
 * Check a declared size against the caps. Throws NOT_AN_IMAGE for 0×0 and IMAGE_TOO_LARGE above
 * the pixel cap. Used on parsed headers and on sizes the page reports (naturalWidth × naturalHeight).
 */
export function checkDeclaredSize(width: number, height: number, maxPixels: number): void {
  if (!(width >= 1 && height >= 1)) throw new ProbeError('NOT_AN_IMAGE', `The image has no pixels (${width}×${height}).`);
  const pixels = width * height;
  if (pixels > maxPixels) {
    const mp = (n: number): string => (n / 1e6).toFixed(n >= 1e9 ? 0 : 1);
    throw new ProbeError('IMAGE_TOO_LARGE', `The image declares ${width}×${height} pixels (${mp(pixels)} megapixels), over the ${mp(maxPixels)}-megapixel limit; it was not decoded.`);
  }
}

/**
 * Everything to check before an encoded image is handed to a decoder: file size, format (magic
 * bytes), declared size (not 0×0, under the cap). Returns the header. Throws ProbeError
 * IMAGE_TOO_LARGE, NOT_AN_IMAGE or DECODE_FAILED.
 */
export function checkBeforeDecode(bytes: Uint8Array, caps: ImageCaps = DEFAULT_CAPS): ImageHeader {
  if (bytes.length > caps.maxBytes) {
    throw new ProbeError('IMAGE_TOO_LARGE', `The image file is too large (${(bytes.length / 1048576).toFixed(1)} MB, limit ${(caps.maxBytes / 1048576).toFixed(0)} MB).`);
  }
  if (bytes.length === 0) throw new ProbeError('NOT_AN_IMAGE', 'The address returned an empty file.');
  const header = readImageHeader(bytes);
  if (header.width !== null && header.height !== null) checkDeclaredSize(header.width, header.height, pixelCapOf(header.format, caps));
  return header;
}
