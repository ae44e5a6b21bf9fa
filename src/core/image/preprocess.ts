import { ProbeError } from '../errors';
import type { PreprocessMode } from '../models/types';

/** Decoded image pixels, 4 bytes (RGBA) per pixel, row-major. Decode-independent. */
export interface RgbaImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array | Uint8ClampedArray;
}

export interface Preprocessed {
  /** Model input, values in [0,1] (ink = 1), size*size long. */
  readonly pixels: Float32Array;
  readonly size: number;
  readonly mode: PreprocessMode;
  /** True when the source had a light background and was inverted to MNIST's white-on-black. */
  readonly inverted: boolean;
  /** Bounding box of the ink in the source image (mnist mode). */
  readonly bbox: { x0: number; y0: number; x1: number; y1: number } | null;
}

export interface PreprocessOptions {
  readonly mode?: PreprocessMode;
  /** Output side (28 for MNIST). */
  readonly size?: number;
  /** Side of the box the ink is scaled into (20 for MNIST). */
  readonly box?: number;
}

/** Largest image (in pixels) preprocessing accepts; capture downsizes far below this. */
export const MAX_PREPROCESS_PIXELS = 4096 * 4096;
/** A pixel is ink when it is at least this far (0..1) from the background level. */
const INK_THRESHOLD = 0.2;
/** Below this contrast between ink and background the image is called blank. */
const MIN_CONTRAST = 0.1;

function validate(img: RgbaImage): void {
  const { width, height, data } = img;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new ProbeError('NOT_AN_IMAGE', `Image has no pixels (${width}×${height}).`);
  }
  if (width * height > MAX_PREPROCESS_PIXELS) {
    throw new ProbeError('IMAGE_TOO_LARGE', `Image is too large to preprocess (${width}×${height}).`);
  }
  if (data.length !== width * height * 4) {
    throw new ProbeError('BAD_INPUT', `RGBA buffer has ${data.length} bytes, expected ${width * height * 4}.`);
  }
}

/** Luminance in [0,1] per pixel, composited over white (transparent = paper). */
export function toGray(img: RgbaImage): Float32Array {
  validate(img);
  const { width, height, data } = img;
  const out = new Float32Array(width * height);
  for (let i = 0, p = 0; i < out.length; i++, p += 4) {
    const a = data[p + 3] / 255;
    const lum = (0.299 * data[p] + 0.587 * data[p + 1] + 0.114 * data[p + 2]) / 255;
    out[i] = lum * a + (1 - a);
  }
  return out;
}

/** Median of the image border: the background level. */
function borderLevel(g: Float32Array, w: number, h: number): number {
  const vals: number[] = [];
  for (let x = 0; x < w; x++) {
    vals.push(g[x], g[(h - 1) * w + x]);
  }
  for (let y = 1; y < h - 1; y++) {
    vals.push(g[y * w], g[y * w + w - 1]);
  }
  vals.sort((a, b) => a - b);
  return vals[Math.floor(vals.length / 2)];
}

/**
 * Area-weighted resampling of a w×h single-channel image to dw×dh (box filter with
 * fractional overlaps: exact averaging when shrinking, smooth enough when enlarging).
 */
export function resampleArea(src: Float32Array, w: number, h: number, dw: number, dh: number): Float32Array {
  const out = new Float32Array(dw * dh);
  const sx = w / dw;
  const sy = h / dh;
  for (let oy = 0; oy < dh; oy++) {
    const y0 = oy * sy;
    const y1 = y0 + sy;
    for (let ox = 0; ox < dw; ox++) {
      const x0 = ox * sx;
      const x1 = x0 + sx;
      let acc = 0;
      let area = 0;
      for (let iy = Math.floor(y0); iy < Math.min(h, Math.ceil(y1)); iy++) {
        const wy = Math.min(y1, iy + 1) - Math.max(y0, iy);
        if (wy <= 0) continue;
        for (let ix = Math.floor(x0); ix < Math.min(w, Math.ceil(x1)); ix++) {
          const wx = Math.min(x1, ix + 1) - Math.max(x0, ix);
          if (wx <= 0) continue;
          acc += src[iy * w + ix] * wx * wy;
          area += wx * wy;
        }
      }
      out[oy * dw + ox] = area > 0 ? acc / area : 0;
    }
  }
  return out;
}

/** Ink map: 0 at the background level, 1 at full contrast; inverted when the background is light. */
function inkMap(g: Float32Array, w: number, h: number): { ink: Float32Array; inverted: boolean; contrast: number } {
  const bg = borderLevel(g, w, h);
  const inverted = bg > 0.5;
  const ink = new Float32Array(g.length);
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < g.length; i++) {
    const v = inverted ? 1 - g[i] : g[i];
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const base = inverted ? 1 - bg : bg;
  const span = hi - base;
  for (let i = 0; i < g.length; i++) {
    const v = inverted ? 1 - g[i] : g[i];
    ink[i] = span > 0 ? Math.min(1, Math.max(0, (v - base) / span)) : 0;
  }
  return { ink, inverted, contrast: Number.isFinite(hi - lo) ? span : 0 };
}

/**
 * Turn any RGBA image into a model input.
 * 'mnist' (LeCun's MNIST recipe): grayscale, invert a light background, crop to the ink's
 * bounding box, scale to fit box×box keeping aspect, and place in size×size so that the
 * centre of mass is at the centre. 'resize': grayscale, invert a light background, pad to a
 * square with the background and resize to size×size.
 */
export function preprocess(img: RgbaImage, opts: PreprocessOptions = {}): Preprocessed {
  const mode = opts.mode ?? 'mnist';
  const size = opts.size ?? 28;
  const box = opts.box ?? 20;
  const { width: w, height: h } = img;
  const g = toGray(img);
  const { ink, inverted, contrast } = inkMap(g, w, h);
  if (contrast < MIN_CONTRAST) {
    throw new ProbeError('BLANK_IMAGE', 'The image is blank: there is nothing to classify.');
  }
  if (mode === 'resize') {
    const side = Math.max(w, h);
    const sq = new Float32Array(side * side);
    const ox = Math.floor((side - w) / 2);
    const oy = Math.floor((side - h) / 2);
    for (let y = 0; y < h; y++) sq.set(ink.subarray(y * w, y * w + w), (y + oy) * side + ox);
    return { pixels: resampleArea(sq, side, side, size, size), size, mode, inverted, bbox: null };
  }
  let x0 = w;
  let y0 = h;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (ink[y * w + x] >= INK_THRESHOLD) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  if (x1 < 0) throw new ProbeError('BLANK_IMAGE', 'The image is blank: there is nothing to classify.');
  const cw = x1 - x0 + 1;
  const ch = y1 - y0 + 1;
  const crop = new Float32Array(cw * ch);
  for (let y = 0; y < ch; y++) crop.set(ink.subarray((y + y0) * w + x0, (y + y0) * w + x0 + cw), y * cw);
  const scale = box / Math.max(cw, ch);
  const dw = Math.max(1, Math.round(cw * scale));
  const dh = Math.max(1, Math.round(ch * scale));
  const small = resampleArea(crop, cw, ch, dw, dh);
  // Centre of mass of the scaled digit.
  let m = 0;
  let mx = 0;
  let my = 0;
  for (let y = 0; y < dh; y++) {
    for (let x = 0; x < dw; x++) {
      const v = small[y * dw + x];
      m += v;
      mx += v * x;
      my += v * y;
    }
  }
  // Pixel-index coordinates, as MNIST: the test set's mean centre of mass is (14.0, 14.0).
  const cx = m > 0 ? mx / m : (dw - 1) / 2;
  const cy = m > 0 ? my / m : (dh - 1) / 2;
  // Integer shift puts the centre of mass at pixel index size/2, clamped so the digit stays inside.
  const offX = Math.min(size - dw, Math.max(0, Math.round(size / 2 - cx)));
  const offY = Math.min(size - dh, Math.max(0, Math.round(size / 2 - cy)));
  const pixels = new Float32Array(size * size);
  for (let y = 0; y < dh; y++) {
    for (let x = 0; x < dw; x++) pixels[(y + offY) * size + x + offX] = small[y * dw + x];
  }
  return { pixels, size, mode, inverted, bbox: { x0, y0, x1, y1 } };
}
