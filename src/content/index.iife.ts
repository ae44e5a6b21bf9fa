import { toErrorInfo, ProbeError } from '../core/errors';
import { contentMayAccept, parseMessage } from '../protocol/messages';
import type { CaptureResponse } from '../protocol/types';
import { captureImageElement } from './capture';
import { eventTarget, findImage } from './find';

/**
 * Content script: remembers the right-clicked element and, when the background asks,
 * returns its pixels. Never throws into the page; every failure is a coded reply.
 */
let lastTarget: Element | null = null;

document.addEventListener(
  'contextmenu',
  (ev) => {
    try {
      lastTarget = eventTarget(ev);
    } catch {
      lastTarget = null;
    }
  },
  { capture: true, passive: true },
);

function capture(srcUrl: string, maxSide: number): CaptureResponse {
  try {
    const img = findImage(srcUrl, lastTarget);
    if (!img) throw new ProbeError('NO_IMAGE', 'No image with that address was found in the page.');
    return { ok: true, image: captureImageElement(img, maxSide) };
  } catch (e) {
    return { ok: false, error: toErrorInfo(e) };
  }
}

chrome.runtime.onMessage.addListener((raw: unknown, sender, sendResponse) => {
  if (!contentMayAccept(sender, chrome.runtime.id)) return false;
  try {
    const msg = parseMessage(raw);
    if (msg.type !== 'content/capture') return false;
    const { srcUrl, maxSide } = msg.payload;
    sendResponse(capture(srcUrl, maxSide));
  } catch (e) {
    sendResponse({ ok: false, error: toErrorInfo(e, 'BAD_MESSAGE') } satisfies CaptureResponse);
  }
  return false;
});
