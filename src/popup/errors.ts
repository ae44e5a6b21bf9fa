import type { ErrorInfo } from '../core/errors';

/** An error as the popup shows it. `code` is usually an ErrorCode but is shown as given. */
export interface ShownError {
  readonly code: string;
  readonly message: string;
}

/**
 * Any thrown value as a ShownError: the code is the value's `.code` when that is a string,
 * else 'INTERNAL'; the message is its `.message` when that is a string, else String(value).
 */
export function shownErrorOf(e: unknown): ShownError {
  let code = 'INTERNAL';
  let message = '';
  if (typeof e === 'object' && e !== null) {
    const rec = e as { code?: unknown; message?: unknown };
    if (typeof rec.code === 'string' && rec.code.length > 0) code = rec.code;
    if (typeof rec.message === 'string') message = rec.message;
    else message = safeString(e);
  } else {
    message = safeString(e);
  }
  return { code, message: message || 'Unknown error' };
}

function safeString(v: unknown): string {
  try {
    return String(v);
  } catch {
    return '';
  }
}

/** The error of a state whose status is 'error' (a missing one reads as INTERNAL). */
export function shownErrorOfState(error: ErrorInfo | null): ShownError {
  if (error && typeof error.code === 'string') {
    return { code: error.code, message: typeof error.message === 'string' && error.message ? error.message : 'Unknown error' };
  }
  return { code: 'INTERNAL', message: 'The probe failed without saying why.' };
}

const HINTS: Readonly<Record<string, string>> = {
  NO_IMAGE: 'Right-click directly on an image and choose “Probe this image”.',
  CROSS_ORIGIN_BLOCKED: 'The site does not allow its image to be read. Try another image.',
  FETCH_FAILED: 'The image could not be downloaded. Check the connection or try another image.',
  NOT_AN_IMAGE: 'That link is not an image.',
  DECODE_FAILED: 'The image could not be decoded.',
  IMAGE_TOO_LARGE: 'The image is too large to probe.',
  BLANK_IMAGE: 'The image is blank: there is nothing for the model to see.',
  UNSUPPORTED_PAGE: 'The extension cannot read images here: browser pages and the Web Store are closed to extensions, and local files (file://) need to be served over http first.',
  MODEL_LOAD_FAILED: 'The model could not be loaded. Reload the extension and try again.',
  BACKEND_FAILED: 'No compute backend (WebGPU, WebGL, WASM) worked in this browser.',
  NO_ACCESS: 'The extension reads only the sites you allow. A right-click on “Probe this image” allows the page for that tab; images from other hosts need the button below.',
  GPU_RESET: 'The GPU was reset; the extension switched to another backend. Run it again.',
  NO_RESULT: 'Nothing has been probed in this tab yet.',
  TIMEOUT: 'The probe took too long. Try again.',
};

/** A short, constant suggestion for a code (never built from page text). */
export function hintFor(code: string): string | null {
  return Object.prototype.hasOwnProperty.call(HINTS, code) ? HINTS[code] : null;
}
