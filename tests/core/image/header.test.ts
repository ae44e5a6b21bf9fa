import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  checkBeforeDecode,
  checkDeclaredSize,
  JPEG_SCAN_LIMIT,
  MAX_IMAGE_BYTES,
  MAX_IMAGE_PIXELS,
  MAX_JPEG_PIXELS,
  readImageHeader,
  sniffFormat,
} from '../../../src/core/image/header';
import { encodePng } from '../../../src/cli/png';

/* Hand-made headers: each builder writes only the bytes the format specifies. */
const u8 = (...parts: (number[] | Uint8Array)[]): Uint8Array => Uint8Array.from(parts.flatMap((p) => Array.from(p)));
const ascii = (s: string): number[] => [...s].map((c) => c.charCodeAt(0));
const be32 = (v: number): number[] => [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
const be16 = (v: number): number[] => [(v >>> 8) & 255, v & 255];
const le16 = (v: number): number[] => [v & 255, (v >>> 8) & 255];
const le24 = (v: number): number[] => [v & 255, (v >>> 8) & 255, (v >>> 16) & 255];
const le32 = (v: number): number[] => [v & 255, (v >>> 8) & 255, (v >>> 16) & 255, (v >>> 24) & 255];
const PNG_SIG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const chunk = (type: string, data: number[] | Uint8Array): number[] => [...be32(data.length), ...ascii(type), ...Array.from(data), 0, 0, 0, 0];

function pngFile(w: number, h: number, opts: { frames?: number; idat?: Uint8Array } = {}): Uint8Array {
  const ihdr = [...be32(w), ...be32(h), 8, 0, 0, 0, 0];
  const actl = opts.frames ? chunk('acTL', [...be32(opts.frames), ...be32(0)]) : [];
  return u8(PNG_SIG, chunk('IHDR', ihdr), actl, chunk('IDAT', opts.idat ?? deflateSync(Buffer.alloc(64))), chunk('IEND', []));
}

function gifFile(w: number, h: number, frames: number): Uint8Array {
  const frame = [0x21, 0xf9, 4, 0, 10, 0, 0, 0, /* image descriptor */ 0x2c, 0, 0, 0, 0, ...le16(w), ...le16(h), 0, /* LZW */ 2, 2, 0x4c, 0x01, 0];
  // Global colour table of 2 entries (flag 0x80, size bits 0).
  return u8(ascii('GIF89a'), le16(w), le16(h), [0x80, 0, 0], [0, 0, 0, 255, 255, 255], ...Array.from({ length: frames }, () => frame), [0x3b]);
}

function jpegFile(w: number, h: number, opts: { app?: number; sof?: number; fill?: boolean } = {}): Uint8Array {
  const app = opts.app ?? 16;
  const seg = (m: number, body: number[]): number[] => [0xff, m, ...be16(body.length + 2), ...body];
  return u8(
    [0xff, 0xd8],
    seg(0xe0, [...ascii('JFIF'), 0, ...new Array<number>(Math.max(0, app - 5)).fill(0)]),
    seg(0xdb, new Array<number>(65).fill(1)), // DQT
    seg(0xc4, new Array<number>(20).fill(0)), // DHT is C4, not a frame header
    opts.fill ? [0xff, 0xff] : [],
    seg(opts.sof ?? 0xc0, [8, ...be16(h), ...be16(w), 1, 1, 0x11, 0]),
    seg(0xda, [1, 1, 0, 0, 63, 0]),
    [0x12, 0x34, 0xff, 0xd9],
  );
}

const riff = (body: number[]): Uint8Array => u8(ascii('RIFF'), le32(body.length + 4), ascii('WEBP'), body);
const webpVp8 = (w: number, h: number): Uint8Array => riff([...ascii('VP8 '), ...le32(10), 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, ...le16(w), ...le16(h), 0, 0]);
function webpVp8l(w: number, h: number): Uint8Array {
  const bits = ((w - 1) & 0x3fff) | (((h - 1) & 0x3fff) << 14);
  return riff([...ascii('VP8L'), ...le32(5), 0x2f, ...le32(bits >>> 0), 0, 0, 0, 0, 0]);
}
const webpVp8x = (w: number, h: number, animated: boolean): Uint8Array =>
  riff([...ascii('VP8X'), ...le32(10), animated ? 0x12 : 0x10, 0, 0, 0, ...le24(w - 1), ...le24(h - 1), ...ascii(animated ? 'ANIM' : 'ALPH'), ...le32(0)]);
const bmpFile = (w: number, h: number): Uint8Array => u8(ascii('BM'), le32(54), le32(0), le32(54), le32(40), le32(w), le32(h), le16(1), le16(24), new Array<number>(24).fill(0));

const codeOf = (f: () => unknown): string | null => {
  try {
    f();
    return null;
  } catch (e) {
    return (e as { code?: string }).code ?? 'NO_CODE';
  }
};

describe('readImageHeader: declared size of each format', () => {
  it.each([
    ['PNG', pngFile(321, 123), 'png', 321, 123],
    ['real PNG from the encoder', encodePng({ width: 28, height: 17, data: new Uint8Array(28 * 17 * 4) }), 'png', 28, 17],
    ['GIF', gifFile(40, 30, 1), 'gif', 40, 30],
    ['JPEG (baseline)', jpegFile(640, 480), 'jpeg', 640, 480],
    ['JPEG (progressive SOF2, fill bytes, a 60 kB APP segment)', jpegFile(1000, 77, { sof: 0xc2, fill: true, app: 60_000 }), 'jpeg', 1000, 77],
    ['WebP VP8', webpVp8(500, 260), 'webp', 500, 260],
    ['WebP VP8L', webpVp8l(16383, 2), 'webp', 16383, 2],
    ['WebP VP8X', webpVp8x(9000, 7000, false), 'webp', 9000, 7000],
    ['BMP', bmpFile(64, -48), 'bmp', 64, 48],
  ])('%s', (_n, bytes, format, width, height) => {
    const h = readImageHeader(bytes);
    expect(h).toMatchObject({ format, width, height, animated: false });
  });
});

describe('animation is detected from the header', () => {
  it('GIF with two frames is animated, one frame is not', () => {
    expect(readImageHeader(gifFile(8, 8, 2)).animated).toBe(true);
    expect(readImageHeader(gifFile(8, 8, 1)).animated).toBe(false);
  });
  it('APNG (acTL before IDAT) with 3 frames is animated; acTL with 1 frame is not', () => {
    expect(readImageHeader(pngFile(8, 8, { frames: 3 })).animated).toBe(true);
    expect(readImageHeader(pngFile(8, 8, { frames: 1 })).animated).toBe(false);
  });
  it('WebP VP8X with the animation flag is animated', () => {
    expect(readImageHeader(webpVp8x(8, 8, true)).animated).toBe(true);
  });
});

describe('decompression bombs are refused from the header (row 8)', () => {
  it('a 20000×20000 PNG of a few kB is IMAGE_TOO_LARGE', () => {
    const bomb = pngFile(20000, 20000, { idat: deflateSync(Buffer.alloc(200_000)) });
    expect(bomb.length).toBeLessThan(5_000);
    expect(codeOf(() => checkBeforeDecode(bomb))).toBe('IMAGE_TOO_LARGE');
    expect(() => checkBeforeDecode(bomb)).toThrow(/20000×20000/);
  });
  it('a JPEG declaring 64250×64250 is IMAGE_TOO_LARGE', () => {
    expect(codeOf(() => checkBeforeDecode(jpegFile(64250, 64250)))).toBe('IMAGE_TOO_LARGE');
  });
  it.each([
    ['GIF 65535×65535', gifFile(65535, 65535, 1)],
    ['WebP VP8X 16000×16000', webpVp8x(16000, 16000, false)],
    ['BMP 10000×10000', bmpFile(10000, 10000)],
  ])('%s is IMAGE_TOO_LARGE', (_n, bytes) => {
    expect(codeOf(() => checkBeforeDecode(bytes))).toBe('IMAGE_TOO_LARGE');
  });
  it('the caps sit where they say: a PNG just under 50 MP passes, just over is refused; a 12000×9000 JPEG passes', () => {
    expect(checkBeforeDecode(pngFile(10000, Math.floor(MAX_IMAGE_PIXELS / 10000))).width).toBe(10000);
    expect(codeOf(() => checkBeforeDecode(pngFile(10000, Math.floor(MAX_IMAGE_PIXELS / 10000) + 1)))).toBe('IMAGE_TOO_LARGE');
    expect(12000 * 9000).toBeLessThanOrEqual(MAX_JPEG_PIXELS);
    expect(checkBeforeDecode(jpegFile(12000, 9000))).toMatchObject({ width: 12000, height: 9000 });
  });
  it('a file over the byte cap is refused before parsing', () => {
    const big = new Uint8Array(MAX_IMAGE_BYTES + 1);
    big.set(pngFile(10, 10));
    expect(codeOf(() => checkBeforeDecode(big))).toBe('IMAGE_TOO_LARGE');
    expect(checkBeforeDecode(pngFile(10, 10), { maxBytes: 1000, maxPixels: 100, maxJpegPixels: 100 }).width).toBe(10);
    expect(codeOf(() => checkBeforeDecode(pngFile(11, 10), { maxBytes: 1000, maxPixels: 100, maxJpegPixels: 100 }))).toBe('IMAGE_TOO_LARGE');
  });
});

describe('broken input gets a stable code (row 10)', () => {
  const png = pngFile(100, 100);
  const jpg = jpegFile(100, 100);
  it.each([
    ['HTML served as .png', u8(ascii('<!doctype html><html><body>not found</body></html>')), 'NOT_AN_IMAGE'],
    ['SVG text', u8(ascii('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>')), 'NOT_AN_IMAGE'],
    ['an empty file', new Uint8Array(0), 'NOT_AN_IMAGE'],
    ['0×0 PNG', pngFile(0, 0), 'NOT_AN_IMAGE'],
    ['0×5 GIF', gifFile(0, 5, 1), 'NOT_AN_IMAGE'],
    ['PNG signature only', png.subarray(0, 8), 'DECODE_FAILED'],
    ['PNG cut inside IHDR', png.subarray(0, 20), 'DECODE_FAILED'],
    ['PNG whose first chunk is not IHDR', u8(PNG_SIG, chunk('IDAT', [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13])), 'DECODE_FAILED'],
    ['JPEG SOI only', jpg.subarray(0, 3), 'DECODE_FAILED'],
    ['JPEG cut before its frame header', jpg.subarray(0, 30), 'DECODE_FAILED'],
    ['JPEG with SOS before any SOF', u8([0xff, 0xd8, 0xff, 0xda, 0, 8, 1, 1, 0, 0, 63, 0]), 'DECODE_FAILED'],
    ['JPEG with a segment length of 1', u8([0xff, 0xd8, 0xff, 0xe0, 0, 1, 0, 0]), 'DECODE_FAILED'],
    ['JPEG with garbage where a marker belongs', u8([0xff, 0xd8, 0xff, 0xe0, 0, 2, 0x12, 0x34, 0x56]), 'DECODE_FAILED'],
    ['GIF header cut', gifFile(10, 10, 1).subarray(0, 7), 'DECODE_FAILED'],
    ['WebP cut', webpVp8(10, 10).subarray(0, 20), 'DECODE_FAILED'],
    ['WebP with an unknown chunk', riff([...ascii('JUNK'), ...new Array<number>(20).fill(0)]), 'DECODE_FAILED'],
    ['BMP cut', bmpFile(10, 10).subarray(0, 20), 'DECODE_FAILED'],
  ])('%s → %s', (_n, bytes, code) => {
    expect(codeOf(() => checkBeforeDecode(bytes))).toBe(code);
  });
  it('a 1×1 image is accepted', () => {
    expect(checkBeforeDecode(pngFile(1, 1))).toMatchObject({ width: 1, height: 1 });
  });
  it('the JPEG scan is bounded: a frame header beyond the scan limit is not searched for', () => {
    // Many maximal APP segments (64 kB each) push the SOF past the limit.
    const seg = [0xff, 0xe1, 0xff, 0xff, ...new Array<number>(0xfffd).fill(0)];
    const n = Math.ceil(JPEG_SCAN_LIMIT / seg.length) + 1;
    const bytes = u8([0xff, 0xd8], ...Array.from({ length: n }, () => seg), jpegFile(10, 10).subarray(2));
    expect(codeOf(() => readImageHeader(bytes))).toBe('DECODE_FAILED');
    expect(() => readImageHeader(bytes)).toThrow(/first 4194304 bytes/);
  });
  it('random bytes never crash the parser: every outcome is a header or a coded error', () => {
    let seed = 7;
    const rnd = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) & 255;
    const starts = [PNG_SIG, [0xff, 0xd8, 0xff], ascii('GIF89a'), [...ascii('RIFF'), 0, 0, 0, 0, ...ascii('WEBP')], ascii('BM')];
    for (let i = 0; i < 2000; i++) {
      const head = starts[i % starts.length];
      const bytes = u8(head, Array.from({ length: i % 97 }, rnd));
      const code = codeOf(() => checkBeforeDecode(bytes));
      expect([null, 'DECODE_FAILED', 'NOT_AN_IMAGE', 'IMAGE_TOO_LARGE']).toContain(code);
    }
  });
});

describe('sniffFormat and checkDeclaredSize', () => {
  it('sniffs by magic bytes, not by name', () => {
    expect(sniffFormat(pngFile(1, 1))).toBe('png');
    expect(sniffFormat(u8([0, 0, 1, 0]))).toBe('ico');
    expect(sniffFormat(u8([0, 0, 0, 0x1c, ...ascii('ftypavif')]))).toBe('avif');
    expect(sniffFormat(u8(ascii('GIF')))).toBeNull();
  });
  it('checks sizes the page reports', () => {
    expect(codeOf(() => checkDeclaredSize(0, 0, 100))).toBe('NOT_AN_IMAGE');
    expect(codeOf(() => checkDeclaredSize(Number.NaN, 3, 100))).toBe('NOT_AN_IMAGE');
    expect(codeOf(() => checkDeclaredSize(11, 10, 100))).toBe('IMAGE_TOO_LARGE');
    expect(codeOf(() => checkDeclaredSize(10, 10, 100))).toBeNull();
  });
});
