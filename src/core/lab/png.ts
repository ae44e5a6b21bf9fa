/**
 * A minimal PNG encoder (8-bit grayscale or RGB, zlib "stored" blocks: no compression library, the
 * same bytes in the browser and in Node). Export images are at model resolution (a few KB at most),
 * so compression is not worth a dependency. Free of TensorFlow.js and the DOM.
 */
import { ProbeError } from '../errors';

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (ISO 3309) of `bytes`, as PNG chunks use it. */
export function crc32(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Adler-32 of `bytes` (the zlib stream's checksum). */
export function adler32(bytes: Uint8Array): number {
  let a = 1;
  let b = 0;
  for (let i = 0; i < bytes.length; i++) {
    a = (a + bytes[i]) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/** A zlib stream of `raw` in stored (uncompressed) deflate blocks. */
function zlibStored(raw: Uint8Array): Uint8Array {
  const blocks = Math.max(1, Math.ceil(raw.length / 65535));
  const out = new Uint8Array(2 + raw.length + blocks * 5 + 4);
  out[0] = 0x78;
  out[1] = 0x01;
  let o = 2;
  for (let b = 0; b < blocks; b++) {
    const start = b * 65535;
    const len = Math.min(65535, raw.length - start);
    out[o++] = b === blocks - 1 ? 1 : 0;
    out[o++] = len & 0xff;
    out[o++] = len >>> 8;
    out[o++] = ~len & 0xff;
    out[o++] = (~len >>> 8) & 0xff;
    out.set(raw.subarray(start, start + len), o);
    o += len;
  }
  const ad = adler32(raw);
  out[o++] = ad >>> 24;
  out[o++] = (ad >>> 16) & 0xff;
  out[o++] = (ad >>> 8) & 0xff;
  out[o++] = ad & 0xff;
  return out;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  dv.setUint32(8 + data.length, crc32(out, 4, 8 + data.length));
  return out;
}

/** Checks the shape and lays out the scanlines (filter byte 0, then the row) of an 8-bit image. */
function scanlines(levels: Uint8Array, width: number, height: number, channels: 1 | 3): Uint8Array {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || width > 8192 || height > 8192) {
    throw new ProbeError('BAD_INPUT', `PNG size must be 1–8192 pixels a side, got ${width}×${height}`);
  }
  if (channels !== 1 && channels !== 3) throw new ProbeError('BAD_INPUT', `PNG export takes 1 or 3 channels, got ${String(channels)}`);
  const row = width * channels;
  if (levels.length !== row * height) throw new ProbeError('BAD_INPUT', `expected ${row * height} values, got ${levels.length}`);
  const raw = new Uint8Array((row + 1) * height);
  for (let y = 0; y < height; y++) raw.set(levels.subarray(y * row, (y + 1) * row), y * (row + 1) + 1);
  return raw;
}

function assemble(width: number, height: number, channels: 1 | 3, zlib: Uint8Array): Uint8Array {
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, width);
  dv.setUint32(4, height);
  ihdr[8] = 8;
  ihdr[9] = channels === 1 ? 0 : 2;
  const parts = [new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', zlib), chunk('IEND', new Uint8Array(0))];
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * PNG bytes of an 8-bit image: `levels` row-major, `channels` values per pixel (1: grayscale, 3: RGB),
 * width·height·channels long. BAD_INPUT for other shapes.
 */
export function encodePng8(levels: Uint8Array, width: number, height: number, channels: 1 | 3): Uint8Array {
  return assemble(width, height, channels, zlibStored(scanlines(levels, width, height, channels)));
}

/**
 * The same PNG with its pixel data deflate-compressed by the platform's CompressionStream ('deflate' is
 * the zlib format PNG uses; browsers and Node have it), for full-resolution photos, where stored blocks
 * would make a file of width·height·3 bytes. Falls back to stored blocks where there is no CompressionStream.
 */
export async function encodePng8Compressed(levels: Uint8Array, width: number, height: number, channels: 1 | 3): Promise<Uint8Array> {
  const raw = scanlines(levels, width, height, channels);
  const CS = (globalThis as { CompressionStream?: new (format: 'deflate') => TransformStream<Uint8Array, Uint8Array> }).CompressionStream;
  if (!CS) return assemble(width, height, channels, zlibStored(raw));
  const stream = new Blob([raw as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new CS('deflate'));
  const zlib = new Uint8Array(await new Response(stream).arrayBuffer());
  return assemble(width, height, channels, zlib);
}
