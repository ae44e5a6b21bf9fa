import { ProbeError, toErrorInfo, type ErrorInfo } from '../core/errors';
import { classifierEntries } from '../core/models/catalog';
import { MAX_CAPTURE_SIDE, parseMessage, senderAllowed, type AnyEnvelope, type Reply, type Req } from '../protocol/messages';
import type { BenchResult } from '../core/bench';
import type { CaptureResponse, ImageSource, ModelInfo, ProbeState } from '../protocol/types';
import { base64ToBytes } from '../protocol/base64';
import { decodeImage, fetchImageBytes } from './decode';
import { chooseBackend, getModel, getVaeContext } from './engine';
import { benchInExtension } from './bench';
import { ProbeService } from './service';

/** Context-menu item id: part of the interface (tests fire it). */
export const MENU_ID = 'probe-image';
const STATE_KEY = (tabId: number): string => `state:${tabId}`;

const modelFolderUrl = (id: string): string => chrome.runtime.getURL(`models/${id}/`);

async function captureFromPage(tabId: number, frameId: number, srcUrl: string): Promise<CaptureResponse> {
  try {
    const reply = (await chrome.tabs.sendMessage(
      tabId,
      { type: 'content/capture', payload: { srcUrl, maxSide: MAX_CAPTURE_SIDE } },
      { frameId },
    )) as CaptureResponse | undefined;
    if (!reply || typeof reply !== 'object') return { ok: false, error: { code: 'INTERNAL', message: 'No reply from the page.' } };
    return reply;
  } catch (e) {
    // No content script in that frame (restricted page, or page loaded before the extension).
    return { ok: false, error: toErrorInfo(e, 'NO_IMAGE') };
  }
}

const service = new ProbeService({
  async capture({ tabId, frameId, srcUrl, pageUrl }) {
    const page = await captureFromPage(tabId, frameId, srcUrl);
    if (page.ok) {
      const img = page.image;
      const data = base64ToBytes(img.rgbaBase64);
      if (data.length !== img.width * img.height * 4 || img.width > MAX_CAPTURE_SIDE || img.height > MAX_CAPTURE_SIDE) {
        throw new ProbeError('BAD_MESSAGE', 'The page sent malformed pixels.');
      }
      const source: ImageSource = { srcUrl, pageUrl, naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight, capturedBy: 'page' };
      return { image: { width: img.width, height: img.height, data }, source };
    }
    // The page could not give the pixels (cross-origin, not loaded, no content script): fetch them ourselves.
    let decoded;
    try {
      decoded = await decodeImage(await fetchImageBytes(srcUrl), MAX_CAPTURE_SIDE);
    } catch (e) {
      const fetchErr: ErrorInfo = toErrorInfo(e);
      // A page that said "broken" and a fetch that failed: report the fetch's reason.
      throw new ProbeError(fetchErr.code, fetchErr.message);
    }
    const source: ImageSource = { srcUrl, pageUrl, naturalWidth: decoded.naturalWidth, naturalHeight: decoded.naturalHeight, capturedBy: 'extension' };
    return { image: decoded.image, source };
  },
  model: (id) => getModel(id, modelFolderUrl),
  vae: () => getVaeContext(modelFolderUrl),
  backend: async () => (await chooseBackend(chrome.runtime.getURL('wasm/'))).backend,
  persist(tabId, state) {
    // Page images never go to storage.local; the session area is memory-only and cleared on browser exit.
    chrome.storage.session.set({ [STATE_KEY(tabId)]: state }).catch(() => undefined);
  },
  now: () => Date.now(),
});

async function restoreState(tabId: number | null): Promise<void> {
  if (tabId === null) return;
  const key = STATE_KEY(tabId);
  const got = await chrome.storage.session.get(key).catch(() => ({}) as Record<string, unknown>);
  const st = (got as Record<string, unknown>)[key] as ProbeState | undefined;
  if (st && typeof st === 'object' && typeof st.status === 'string') service.restore(tabId, st);
}

/** The classifiers the popup can pick: every catalog classifier whose files ship with this build. */
async function modelInfos(): Promise<ModelInfo[]> {
  const infos = await Promise.all(
    classifierEntries().map(async (e): Promise<ModelInfo | null> => {
      try {
        const card = (await (await fetch(chrome.runtime.getURL(`models/${e.id}/card.json`))).json()) as { testAccuracy?: unknown };
        return { id: e.id, title: e.title, dataset: e.dataset, testAccuracy: typeof card.testAccuracy === 'number' ? card.testAccuracy : null };
      } catch {
        return null;
      }
    }),
  );
  return infos.filter((i): i is ModelInfo => i !== null);
}

function runBench(req: Req<'probe/bench'>): Promise<BenchResult[]> {
  return benchInExtension(req, {
    backend: async () => (await chooseBackend(chrome.runtime.getURL('wasm/'))).backend,
    model: (id) => getModel(id, modelFolderUrl),
    vae: () => getVaeContext(modelFolderUrl),
  });
}

async function handle(msg: AnyEnvelope): Promise<unknown> {
  switch (msg.type) {
    case 'probe/get-state':
      await restoreState(msg.payload.tabId);
      return service.getState(msg.payload.tabId);
    case 'probe/run-attack': {
      const { tabId, modelId, attack, params, target } = msg.payload;
      await restoreState(tabId);
      return service.rerunAttack(tabId, modelId, { attack, params, target });
    }
    case 'probe/cancel':
      return service.cancel(msg.payload.tabId);
    case 'probe/list-models':
      return modelInfos();
    case 'probe/bench':
      return runBench(msg.payload);
    case 'content/capture':
      throw new ProbeError('FORBIDDEN_SENDER', 'That message is not for the background.');
  }
}

chrome.runtime.onMessage.addListener((raw: unknown, sender, sendResponse) => {
  let msg: AnyEnvelope;
  try {
    msg = parseMessage(raw);
    if (!senderAllowed(msg.type, sender, chrome.runtime.id, chrome.runtime.getURL(''))) {
      throw new ProbeError('FORBIDDEN_SENDER', 'This sender may not send that message.');
    }
  } catch (e) {
    sendResponse({ ok: false, error: toErrorInfo(e, 'BAD_MESSAGE') } satisfies Reply<'probe/get-state'>);
    return false;
  }
  handle(msg).then(
    (data) => sendResponse({ ok: true, data }),
    (e: unknown) => sendResponse({ ok: false, error: toErrorInfo(e) }),
  );
  return true;
});

function registerMenu(): void {
  chrome.contextMenus.removeAll(() => {
    chrome.contextMenus.create({ id: MENU_ID, title: 'Probe this image', contexts: ['image'] }, () => void chrome.runtime.lastError);
  });
}
chrome.runtime.onInstalled.addListener(registerMenu);
chrome.runtime.onStartup.addListener(registerMenu);

chrome.contextMenus.onClicked.addListener((info, tab) => {
  if (info.menuItemId !== MENU_ID || !tab || typeof tab.id !== 'number' || !info.srcUrl) return;
  const tabId = tab.id;
  // Open the popup where the browser allows it (needs a user gesture; tests open it as a tab instead).
  chrome.action.openPopup?.().catch(() => undefined);
  void service.probeImage({ tabId, frameId: info.frameId ?? 0, srcUrl: info.srcUrl, pageUrl: info.pageUrl ?? tab.url ?? '' });
});

chrome.tabs.onRemoved.addListener((tabId) => {
  service.forgetTab(tabId);
  chrome.storage.session.remove(STATE_KEY(tabId)).catch(() => undefined);
});

// Warm up the backend so the first probe is quick.
void chooseBackend(chrome.runtime.getURL('wasm/')).catch(() => undefined);
