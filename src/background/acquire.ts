import { ProbeError, toErrorInfo, type ErrorCode } from '../core/errors';
import type { RgbaImage } from '../core/image/preprocess';
import type { CaptureResponse, ImageSource, ScreenBox } from '../protocol/types';
import { base64ToBytes } from '../protocol/base64';
import type { DecodedImage } from './decode';

/**
 * Errors the page settles for good: trying the extension's own fetch would only repeat them
 * (a decompression bomb, not an image, a placeholder, a damaged file, a stalled server).
 */
export const FINAL_PAGE_ERRORS: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['IMAGE_TOO_LARGE', 'NOT_AN_IMAGE', 'BLANK_IMAGE', 'DECODE_FAILED', 'TIMEOUT']);

export interface AcquireRequest {
  readonly srcUrl: string;
  readonly pageUrl: string;
  readonly maxSide: number;
}

export interface AcquireDeps {
  /** Ask the frame's content script (canvas read, then a page-context fetch for addresses the page may read). */
  fromPage(srcUrl: string, maxSide: number): Promise<CaptureResponse>;
  /** Extension-context fetch (host permission, no cookies), header checks, decode. */
  fetchAndDecode(srcUrl: string, maxSide: number): Promise<DecodedImage>;
  /** The last resort: the image as displayed, cropped from a screenshot of the visible tab (screen.ts). */
  fromScreen?(box: ScreenBox, maxSide: number): Promise<RgbaImage>;
}

export interface Acquired {
  readonly image: RgbaImage;
  readonly source: ImageSource;
  /** The file was animated and only its first frame was analysed (known when the extension decoded it). */
  readonly firstFrameOnly: boolean;
}

/**
 * The acquisition chain: the page (canvas, or a page-context fetch) → the extension's own fetch
 * → the picture as displayed, from a screenshot (when the page said where it is) → a clear coded error.
 * Pixels from the page are checked (size matches, within maxSide).
 */
export async function acquireImage(req: AcquireRequest, deps: AcquireDeps): Promise<Acquired> {
  const { srcUrl, pageUrl, maxSide } = req;
  const page = await deps.fromPage(srcUrl, maxSide).catch((e: unknown): CaptureResponse => ({ ok: false, error: toErrorInfo(e, 'NO_IMAGE') }));
  if (page.ok) {
    const img = page.image;
    const data = base64ToBytes(img.rgbaBase64);
    if (data.length !== img.width * img.height * 4 || img.width > maxSide || img.height > maxSide || img.width < 1 || img.height < 1) {
      throw new ProbeError('BAD_MESSAGE', 'The page sent malformed pixels.');
    }
    const source: ImageSource = { srcUrl, pageUrl, naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight, capturedBy: 'page' };
    return { image: { width: img.width, height: img.height, data }, source, firstFrameOnly: false };
  }
  if (FINAL_PAGE_ERRORS.has(page.error.code)) throw new ProbeError(page.error.code, page.error.message);
  let decoded: DecodedImage;
  try {
    decoded = await deps.fetchAndDecode(srcUrl, maxSide);
  } catch (e) {
    // The page showed the picture but would not hand it over, and the extension's own fetch failed or is not
    // allowed: take it from the screen where it is shown (no prompt; activeTab). Else the fetch's reason stands.
    if (page.box && deps.fromScreen) {
      const box = page.box;
      const shot = await deps.fromScreen(box, maxSide).catch(() => null);
      if (shot) {
        const source: ImageSource = { srcUrl, pageUrl, naturalWidth: box.naturalWidth, naturalHeight: box.naturalHeight, capturedBy: 'screen' };
        return { image: shot, source, firstFrameOnly: false };
      }
    }
    const info = toErrorInfo(e);
    // The page found nothing and the address is not fetchable: the page's reason is the clearer one.
    if (info.code === 'UNSUPPORTED_PAGE' && page.error.code !== 'INTERNAL') throw new ProbeError(page.error.code, page.error.message);
    // Coded errors go on as they are (NO_ACCESS carries the hosts to allow).
    if (e instanceof ProbeError) throw e;
    throw new ProbeError(info.code, info.message);
  }
  const source: ImageSource = { srcUrl, pageUrl, naturalWidth: decoded.naturalWidth, naturalHeight: decoded.naturalHeight, capturedBy: 'extension' };
  return { image: decoded.image, source, firstFrameOnly: decoded.firstFrameOnly };
}
