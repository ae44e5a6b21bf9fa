import type { GrayImage } from '../protocol/types';

/** Largest side drawn; larger images are refused (the popup only shows model inputs). */
const MAX_SIDE = 1024;

function clamp01(v: number): number {
  if (!(v > 0)) return 0; // also NaN → 0
  return v > 1 ? 1 : v;
}

/** Is `img` drawable (positive integer size within bounds)? */
export function isDrawable(img: GrayImage): boolean {
  const { width, height } = img;
  return (
    Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0 && width <= MAX_SIDE && height <= MAX_SIDE
  );
}

/**
 * RGBA bytes for a grayscale image: values in [0,1] (clamped) become gray levels 0..255,
 * alpha opaque. Missing pixels (a short `pixels` array) are black.
 */
export function grayToRgba(img: GrayImage): Uint8ClampedArray {
  const n = img.width * img.height;
  const out = new Uint8ClampedArray(n * 4);
  for (let i = 0; i < n; i++) {
    const v = i < img.pixels.length ? Math.round(clamp01(img.pixels[i]) * 255) : 0;
    const o = i * 4;
    out[o] = v;
    out[o + 1] = v;
    out[o + 2] = v;
    out[o + 3] = 255;
  }
  return out;
}

/** The largest |value| of an image's pixels (0 for an empty or all-zero image). */
export function maxAbs(img: GrayImage): number {
  let m = 0;
  for (const v of img.pixels) {
    const a = Math.abs(v);
    if (a > m) m = a;
  }
  return m;
}

/**
 * A signed perturbation made visible: 0 is mid-gray and the largest |value| maps to
 * black or white. Returns the image and the amplification `k` (display = 0.5 + k·p).
 */
export function amplifyPerturbation(p: GrayImage): { image: GrayImage; factor: number } {
  const m = maxAbs(p);
  const factor = m > 0 && Number.isFinite(m) ? 0.5 / m : 1;
  const pixels = p.pixels.map((v) => 0.5 + factor * v);
  return { image: { width: p.width, height: p.height, pixels }, factor };
}

/**
 * Draw `img` on `canvas` at its natural size (CSS scales it). A no-op when the canvas has
 * no 2D context (as in test DOMs) or the image is not drawable.
 */
export function drawGray(canvas: HTMLCanvasElement, img: GrayImage): void {
  if (!isDrawable(img)) return;
  drawRgba(canvas, img.width, img.height, grayToRgba(img));
}

/** Colours of changed pixels: increased (warm) and decreased (cool). */
const UP: readonly [number, number, number] = [255, 64, 32];
const DOWN: readonly [number, number, number] = [40, 150, 255];

/**
 * RGBA bytes of `img` dimmed to gray, with every pixel where `change` is non-zero (|δ| > tol)
 * painted: orange-red where it increased, blue where it decreased.
 */
export function highlightChanges(img: GrayImage, change: GrayImage, tol = 1e-6): Uint8ClampedArray {
  const out = grayToRgba(img);
  const n = img.width * img.height;
  for (let i = 0; i < n; i++) {
    const o = i * 4;
    const d = i < change.pixels.length ? change.pixels[i] : 0;
    if (d > tol || d < -tol) {
      const c = d > 0 ? UP : DOWN;
      out[o] = c[0];
      out[o + 1] = c[1];
      out[o + 2] = c[2];
    } else {
      // Unchanged: 40% of its gray level, so that the changes stand out.
      out[o] = Math.round(out[o] * 0.4);
      out[o + 1] = Math.round(out[o + 1] * 0.4);
      out[o + 2] = Math.round(out[o + 2] * 0.4);
    }
  }
  return out;
}

/** How many pixels of a perturbation are changed (|δ| > tol). */
export function countChanged(change: GrayImage, tol = 1e-6): number {
  let n = 0;
  for (const d of change.pixels) if (d > tol || d < -tol) n++;
  return n;
}

/** Draw RGBA bytes of a width×height image on `canvas` (a no-op without a 2D context). */
export function drawRgba(canvas: HTMLCanvasElement, width: number, height: number, rgba: Uint8ClampedArray): void {
  if (!isDrawable({ width, height, pixels: [] })) return;
  if (canvas.width !== width) canvas.width = width;
  if (canvas.height !== height) canvas.height = height;
  let ctx: CanvasRenderingContext2D | null = null;
  try {
    ctx = canvas.getContext('2d');
  } catch {
    ctx = null;
  }
  if (!ctx) return;
  const data = ctx.createImageData(width, height);
  data.data.set(rgba);
  ctx.putImageData(data, 0, 0);
}
