import { PNG } from 'pngjs';
import type { RgbaImage } from '../core/image/preprocess';

/** Decode a PNG file's bytes to RGBA (Node; the extension decodes with createImageBitmap). */
export function decodePng(bytes: Uint8Array): RgbaImage {
  const png = PNG.sync.read(Buffer.from(bytes));
  return { width: png.width, height: png.height, data: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.length) };
}

/** Encode RGBA pixels as PNG bytes. */
export function encodePng(img: RgbaImage): Buffer {
  const png = new PNG({ width: img.width, height: img.height });
  png.data = Buffer.from(img.data.buffer, img.data.byteOffset, img.data.length);
  return PNG.sync.write(png);
}

export type Rgb = readonly [number, number, number];

/**
 * Render a 28×28 MNIST digit (ink in [0,1]) as a scale× larger RGBA image, ink colour on paper
 * colour, bilinear-upsampled so it looks like a scanned digit rather than pixel art.
 */
export function renderDigit(pixels: ArrayLike<number>, scale: number, ink: Rgb, paper: Rgb, pad = 0): RgbaImage {
  const n = 28;
  const inner = n * scale;
  const side = inner + 2 * pad;
  const data = new Uint8Array(side * side * 4);
  const at = (x: number, y: number): number => (x < 0 || y < 0 || x >= n || y >= n ? 0 : pixels[y * n + x]);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const fx = (x - pad + 0.5) / scale - 0.5;
      const fy = (y - pad + 0.5) / scale - 0.5;
      const x0 = Math.floor(fx);
      const y0 = Math.floor(fy);
      const tx = fx - x0;
      const ty = fy - y0;
      const v =
        at(x0, y0) * (1 - tx) * (1 - ty) + at(x0 + 1, y0) * tx * (1 - ty) + at(x0, y0 + 1) * (1 - tx) * ty + at(x0 + 1, y0 + 1) * tx * ty;
      const p = (y * side + x) * 4;
      for (let c = 0; c < 3; c++) data[p + c] = Math.round(paper[c] * (1 - v) + ink[c] * v);
      data[p + 3] = 255;
    }
  }
  return { width: side, height: side, data };
}

export const LIGHT: { ink: Rgb; paper: Rgb } = { ink: [20, 24, 40], paper: [250, 248, 240] };
export const DARK: { ink: Rgb; paper: Rgb } = { ink: [245, 245, 245], paper: [24, 28, 40] };
