import { toErrorInfo, ProbeError, type ErrorInfo } from '../core/errors';
import type { CaptureResponse } from '../protocol/types';
import { capturePageFetch, captureImageElement, pageMayFetch, screenBoxOf } from './capture';
import { eventTarget, locate, type Located } from './find';
import { fromOwnBackground, LOCAL_FILE_MESSAGE, parseBrowseRequest, parseCaptureRequest } from './message';
import { BrowseController, type BadgeAnswer } from './browse';
import { BROWSE_ORIGINS_KEY, parseOrigins, siteOrigin } from '../background/browse-sites';
import type { ErrorInfo as BadgeError } from '../core/errors';

/**
 * Content script: remembers the right-clicked element and, when the background asks,
 * returns its pixels. Never throws into the page; every failure is a coded reply.
 */
let lastTarget: Element | null = null;

/**
 * One live copy per frame: the script is registered for allowed sites and also injected on demand (after a
 * right-click, or when browse mode is switched on in an open tab), so it may arrive twice. A copy left by a
 * previous load of the extension (orphaned) does not count.
 */
const LIVE_KEY = '__adversarialProbeContentLive';
const scope = globalThis as unknown as Record<string, (() => boolean) | undefined>;
const earlier = scope[LIVE_KEY];
const duplicate = typeof earlier === 'function' && safeAlive(earlier);

function safeAlive(f: () => boolean): boolean {
  try {
    return f();
  } catch {
    return false;
  }
}

/**
 * Is this script's extension still there? After the extension is reloaded, updated or removed, this copy is
 * orphaned: chrome.runtime.id reads undefined (or throws) and no message will reach it again (checklist row 32).
 */
function connected(): boolean {
  try {
    return typeof chrome.runtime?.id === 'string';
  } catch {
    return false;
  }
}

function onContextMenu(ev: Event): void {
  if (!connected()) {
    // Orphaned: let go of the page (no listener, no element kept alive); a fresh copy is injected on the next load.
    document.removeEventListener('contextmenu', onContextMenu, { capture: true });
    lastTarget = null;
    return;
  }
  try {
    lastTarget = eventTarget(ev);
  } catch {
    lastTarget = null;
  }
}


/** Why the canvas could not be used, for the case where the page cannot fetch the image either. */
function notFound(loc: Located): ProbeError {
  if (loc.kind === 'closed-shadow') {
    return new ProbeError('NO_IMAGE', `The image is inside <${loc.host.localName}>, whose shadow root is closed to extensions, and the page cannot fetch it.`);
  }
  if (loc.kind === 'none' && loc.hadBackgrounds) return new ProbeError('NO_IMAGE', 'No image here: the clicked element’s CSS backgrounds do not include that address.');
  return new ProbeError('NO_IMAGE', 'No image here: no picture or CSS background with that address was found in the page.');
}

/**
 * The capture chain inside the page: the <img>'s canvas, else (for addresses the page may read:
 * its own origin, blob:, data:) a page-context fetch with header checks and decoding.
 * Errors the page settles (too large, not an image, placeholder) are final; others let the
 * background try its own fetch.
 */
async function capture(srcUrl: string, maxSide: number): Promise<CaptureResponse> {
  let first: ErrorInfo | null = null;
  try {
    const loc = locate(srcUrl, lastTarget);
    if (loc.kind === 'placeholder') {
      throw new ProbeError('BLANK_IMAGE', `This is a lazy-loading placeholder; the real image (${loc.realUrl.slice(0, 200)}) has not loaded yet. Scroll it into view and probe it again.`);
    }
    if (loc.kind === 'img') {
      try {
        return { ok: true, image: captureImageElement(loc.img, maxSide) };
      } catch (e) {
        first = toErrorInfo(e);
        if (first.code === 'IMAGE_TOO_LARGE') return { ok: false, error: first };
      }
    }
    if (pageMayFetch(srcUrl, location.origin)) {
      const got = await capturePageFetch(srcUrl, maxSide);
      return { ok: true, image: got.image };
    }
    if (srcUrl.startsWith('file:')) throw new ProbeError('UNSUPPORTED_PAGE', LOCAL_FILE_MESSAGE);
    if (first) {
      // Where the picture is shown, so that the extension can take it from the screen as a last resort.
      const box = loc.kind === 'img' && first.code === 'CROSS_ORIGIN_BLOCKED' ? screenBoxOf(loc.img) : null;
      return box ? { ok: false, error: first, box } : { ok: false, error: first };
    }
    throw notFound(loc);
  } catch (e) {
    return { ok: false, error: toErrorInfo(e) };
  }
}

/** Browse mode (badges on visible images), off unless the user switched it on for this site. */
const browse = new BrowseController({
  async classify(srcUrl, image) {
    try {
      const r = (await chrome.runtime.sendMessage({ type: 'browse/classify', payload: { srcUrl, image } })) as
        | { ok: true; data: BadgeAnswer }
        | { ok: false; error: BadgeError }
        | undefined;
      return r && typeof r === 'object' ? r : { ok: false, error: { code: 'INTERNAL', message: 'No reply from the extension.' } };
    } catch (e) {
      return { ok: false, error: toErrorInfo(e) };
    }
  },
  open(img, srcUrl) {
    // The probe then captures this very element, as after a right-click on it.
    lastTarget = img;
    chrome.runtime.sendMessage({ type: 'browse/open', payload: { srcUrl } }).catch(() => undefined);
  },
  connected,
});

/** The site the user sees: the top page's origin (a frame asks about the page it is in). */
function topOrigin(): string | null {
  const anc = location.ancestorOrigins;
  return siteOrigin(anc && anc.length > 0 ? anc[anc.length - 1] : location.href);
}

/** Listeners and browse mode: installed once per frame by the first live copy. */
function install(): void {
  scope[LIVE_KEY] = connected;
  document.addEventListener('contextmenu', onContextMenu, { capture: true, passive: true });
  chrome.storage?.local
    .get(BROWSE_ORIGINS_KEY)
    .then((got) => {
      const origin = topOrigin();
      if (origin !== null && parseOrigins(got[BROWSE_ORIGINS_KEY]).includes(origin)) browse.start();
    })
    .catch(() => undefined);

  chrome.runtime.onMessage.addListener((raw: unknown, sender, sendResponse) => {
    if (!fromOwnBackground(sender, chrome.runtime.id)) return false;
    try {
      const b = parseBrowseRequest(raw);
      if (b) {
        if (b.enabled) browse.start();
        else browse.stop();
        sendResponse({ badges: browse.count });
        return false;
      }
    } catch (e) {
      sendResponse({ ok: false, error: toErrorInfo(e, 'BAD_MESSAGE') });
      return false;
    }
    let srcUrl: string;
    let maxSide: number;
    try {
      const req = parseCaptureRequest(raw);
      if (!req) return false;
      ({ srcUrl, maxSide } = req);
    } catch (e) {
      sendResponse({ ok: false, error: toErrorInfo(e, 'BAD_MESSAGE') } satisfies CaptureResponse);
      return false;
    }
    capture(srcUrl, maxSide).then(sendResponse, (e: unknown) => sendResponse({ ok: false, error: toErrorInfo(e) } satisfies CaptureResponse));
    return true;
  });
}

if (!duplicate) install();
