import { ProbeError } from '../core/errors';
import { bytesToBase64 } from '../protocol/base64';
import type { CapturedImage } from '../protocol/types';

/** Target size for drawing an image of natural size w×h so that its longer side is at most maxSide. */
export function fitWithin(w: number, h: number, maxSide: number): { width: number; height: number } {
  const s = Math.min(1, maxSide / Math.max(w, h));
  return { width: Math.max(1, Math.round(w * s)), height: Math.max(1, Math.round(h * s)) };
}

/**
 * Read an <img>'s pixels through a canvas, downscaled to fit maxSide.
 * Throws ProbeError IMAGE_BROKEN (not loaded) or CROSS_ORIGIN_BLOCKED (tainted canvas).
 */
export function captureImageElement(img: HTMLImageElement, maxSide: number): CapturedImage {
  if (!img.complete || img.naturalWidth === 0 || img.naturalHeight === 0) {
    throw new ProbeError('IMAGE_BROKEN', 'The image has not loaded (broken link or still loading).');
  }
  const { width, height } = fitWithin(img.naturalWidth, img.naturalHeight, maxSide);
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
  return {
    width,
    height,
    naturalWidth: img.naturalWidth,
    naturalHeight: img.naturalHeight,
    rgbaBase64: bytesToBase64(data.data),
  };
}
