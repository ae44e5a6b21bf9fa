import { ProbeError } from '../core/errors';
import type { RgbaImage } from '../core/image/preprocess';
import type { ScreenBox } from '../protocol/types';
import { fitWithin } from '../content/capture';

/**
 * The last resort of the acquisition chain: an image the page will not hand over (cross-origin without CORS)
 * and the extension may not, or cannot, download itself (host not allowed; hotlink protection; a cookie-bound
 * address) is cropped from a screenshot of the visible tab, which the right-click's activeTab allows. What comes
 * back is the picture as displayed: its rendered size, with anything drawn over it.
 */

/** The screenshot rectangle (device px) of a box, or null when the box is not wholly on the screenshot. */
export function screenCrop(box: ScreenBox, shotWidth: number, shotHeight: number): { sx: number; sy: number; sw: number; sh: number } | null {
  const fields = [box.x, box.y, box.width, box.height, box.viewportWidth, box.viewportHeight, shotWidth, shotHeight];
  if (!fields.every((v) => typeof v === 'number' && Number.isFinite(v))) return null;
  if (!(box.viewportWidth > 0 && box.viewportHeight > 0 && box.width >= 1 && box.height >= 1)) return null;
  // Screenshot pixels per CSS px, from the screenshot itself (robust to zoom and rounding of devicePixelRatio).
  const kx = shotWidth / box.viewportWidth;
  const ky = shotHeight / box.viewportHeight;
  const sx = Math.round(box.x * kx);
  const sy = Math.round(box.y * ky);
  const sw = Math.round(box.width * kx);
  const sh = Math.round(box.height * ky);
  if (sx < 0 || sy < 0 || sw < 1 || sh < 1 || sx + sw > shotWidth || sy + sh > shotHeight) return null;
  return { sx, sy, sw, sh };
}

/** Crops `box` out of a screenshot (a PNG data: URL from tabs.captureVisibleTab), downscaled to fit maxSide. */
export async function cropScreenshot(dataUrl: string, box: ScreenBox, maxSide: number): Promise<RgbaImage> {
  const blob = await (await fetch(dataUrl)).blob();
  const shot = await createImageBitmap(blob);
  try {
    const r = screenCrop(box, shot.width, shot.height);
    if (!r) throw new ProbeError('NO_IMAGE', 'The image is not wholly on screen: scroll it into view and probe it again.');
    const { width, height } = fitWithin(r.sw, r.sh, maxSide);
    const canvas = new OffscreenCanvas(width, height);
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    if (!ctx) throw new ProbeError('INTERNAL', 'No 2D canvas available in the service worker.');
    ctx.imageSmoothingQuality = 'high';
    ctx.drawImage(shot, r.sx, r.sy, r.sw, r.sh, 0, 0, width, height);
    const data = ctx.getImageData(0, 0, width, height).data;
    return { width, height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
  } finally {
    shot.close();
  }
}
