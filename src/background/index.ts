import { ProbeError, toErrorInfo } from '../core/errors';
import { classifierEntries } from '../core/models/catalog';
import { MAX_CAPTURE_SIDE, parseMessage, senderAllowed, type AnyEnvelope, type Reply, type Req } from '../protocol/messages';
import type { BenchResult } from '../core/bench';
import type { CaptureResponse, ModelInfo, ProbeState } from '../protocol/types';
import { decodeImage, fetchImageBytes } from './decode';
import { acquireImage } from './acquire';
import { cropScreenshot } from './screen';
import { getModel, getVaeContext } from './engine';
import { BACKEND_KEY, BackendSetting } from './backend-setting';
import { getDefenseAssets } from './defense-assets';
import { benchInExtension } from './bench';
import { ProbeService } from './service';
import { KeepAlive } from './keep-alive';
import { fetchUserModelLoader } from './user-models';
import { diagnostics } from './diagnostics';
import { storedStates } from './jobs-recovery';
import { checkedLoad } from './model-check';
import { noContentScript } from '../content/message';
import { BrowseService, type BrowseSender } from './browse';
import { getBadgeGp } from './browse-assets';
import { BROWSE_ORIGINS_KEY, parseOrigins, siteOrigin } from './browse-sites';
import { originPattern } from '../protocol/site-access';
import { AccessError, ContentScriptSync, injectContentScript, mergeAccess, requireFetchAccess, type AccessDeps } from './access';
// The content script's built file: registered for the sites the user allowed, injected on demand elsewhere.
import contentScriptFile from '../content/index.iife.ts?iife';

/** Context-menu item id: part of the interface (tests fire it). */
export const MENU_ID = 'probe-image';
const STATE_KEY = (tabId: number): string => `state:${tabId}`;

const modelFolderUrl = (id: string): string => chrome.runtime.getURL(`models/${id}/`);

/** chrome.* behind the access logic of access.ts. */
const access: AccessDeps = {
  grantedOrigins: async () => (await chrome.permissions.getAll()).origins ?? [],
  granted: (pattern) => chrome.permissions.contains({ origins: [pattern] }),
  registeredIds: async () => (await chrome.scripting.getRegisteredContentScripts()).map((s) => s.id),
  register: (script) => chrome.scripting.registerContentScripts([script]),
  update: (script) => chrome.scripting.updateContentScripts([script]),
  unregister: (id) => chrome.scripting.unregisterContentScripts({ ids: [id] }),
  inject: async (tabId, frameId, file) => {
    await chrome.scripting.executeScript({ target: { tabId, frameIds: [frameId] }, files: [file] });
  },
};
const contentScripts = new ContentScriptSync(access, contentScriptFile);
/** Registered content script = the origins the user allowed, at every start and after every grant or removal. */
const scriptsSynced: Promise<void> = contentScripts.sync().catch(() => undefined);
chrome.permissions.onAdded.addListener(() => void afterGrant().catch(() => undefined));

/**
 * The user allowed hosts (the popup's prompt, which may close the popup before it hears the answer, or the
 * browser's settings): register the content script there, probe again every tab that was waiting for exactly
 * these hosts, and start badges in open tabs of browse-mode sites that can now have them.
 */
async function afterGrant(): Promise<void> {
  await contentScripts.sync().catch(() => undefined);
  await recovered;
  for (const w of service.waitingForAccess()) {
    const all = await Promise.all(w.origins.map((o) => access.granted(o)));
    if (all.every(Boolean)) void service.retry(w.tabId).catch(() => undefined);
  }
  const stored = parseOrigins((await chrome.storage.local.get(BROWSE_ORIGINS_KEY))[BROWSE_ORIGINS_KEY]);
  for (const origin of stored) if (await siteAllowed(origin)) await browseTell(origin, true);
}

/** May the extension read this site (an http(s) origin) now? */
async function siteAllowed(origin: string): Promise<boolean> {
  const pattern = originPattern(origin);
  return pattern !== null && (await access.granted(pattern));
}
chrome.permissions.onRemoved.addListener(() => void afterWithdrawal().catch(() => undefined));

/**
 * The user withdrew hosts: unregister the content script there, and stop badges in tabs the extension may no longer
 * read (their address is hidden from it now; copies of the script already in those pages stay until they reload).
 */
async function afterWithdrawal(): Promise<void> {
  await contentScripts.sync().catch(() => undefined);
  const tabs = await chrome.tabs.query({}).catch(() => [] as chrome.tabs.Tab[]);
  await Promise.all(
    tabs
      .filter((t) => typeof t.id === 'number' && t.url === undefined)
      .map((t) => chrome.tabs.sendMessage(t.id as number, { type: 'content/browse', payload: { enabled: false } }).catch(() => undefined)),
  );
}

type PageAsk = { readonly reply: CaptureResponse } | { readonly missing: true };

async function askPage(tabId: number, frameId: number, srcUrl: string, maxSide: number): Promise<PageAsk> {
  try {
    const reply = (await chrome.tabs.sendMessage(tabId, { type: 'content/capture', payload: { srcUrl, maxSide } }, { frameId })) as CaptureResponse | undefined;
    if (!reply || typeof reply !== 'object') return { reply: { ok: false, error: { code: 'INTERNAL', message: 'No reply from the page.' } } };
    return { reply };
  } catch {
    return { missing: true };
  }
}

/**
 * The frame's content script captures the image. A frame without it (a site the user has not allowed, or a
 * page opened before the extension) gets it injected now: allowed by activeTab after the right-click.
 * A refused injection is reported through `denied` (NO_ACCESS names the frame's origin).
 */
async function captureFromPage(
  target: { tabId: number; frameId: number; frameUrl: string | null },
  srcUrl: string,
  maxSide: number,
  denied: (e: AccessError) => void,
): Promise<CaptureResponse> {
  await scriptsSynced;
  const first = await askPage(target.tabId, target.frameId, srcUrl, maxSide);
  if ('reply' in first) return first.reply;
  try {
    await injectContentScript(access, contentScriptFile, { ...target, srcUrl });
  } catch (e) {
    if (e instanceof AccessError) denied(e);
    return { ok: false, error: e instanceof ProbeError ? e.toInfo() : noContentScript(srcUrl) };
  }
  const second = await askPage(target.tabId, target.frameId, srcUrl, maxSide);
  return 'reply' in second ? second.reply : { ok: false, error: noContentScript(srcUrl) };
}

/** The compute backend: the stored preference (a name) or the measured choice; a switch waits for the queued jobs. */
const backendSetting = new BackendSetting({
  read: async () => (await chrome.storage.local.get(BACKEND_KEY))[BACKEND_KEY],
  write: (name) => chrome.storage.local.set({ [BACKEND_KEY]: name }),
  // After the queued jobs, and after the badge classification in progress, if any (new badges hold back meanwhile).
  exclusive: (task) => service.exclusive(async () => {
    await browse.queue.idle();
    return task();
  }),
  wasmDir: chrome.runtime.getURL('wasm/'),
});

const service = new ProbeService({
  async capture({ tabId, frameId, srcUrl, pageUrl, frameUrl, maxSide = MAX_CAPTURE_SIDE }) {
    // Page (canvas, page-context fetch) → extension fetch (allowed host, no cookies) → the screen → coded error.
    let pageDenied: AccessError | null = null;
    let got;
    try {
      got = await acquireImage(
        { srcUrl, pageUrl, maxSide },
        {
          fromPage: (url, side) => captureFromPage({ tabId, frameId, frameUrl: frameUrl ?? pageUrl }, url, side, (e) => (pageDenied = e)),
          fetchAndDecode: async (url, maxSide) => {
            await requireFetchAccess(access, url);
            return decodeImage(await fetchImageBytes(url), maxSide);
          },
          // The picture as displayed (activeTab allows the screenshot): top frame, tab in front, image wholly in view.
          fromScreen: async (box, side) => {
            if (frameId !== 0) throw new ProbeError('NO_IMAGE', 'Images in frames are not taken from the screen.');
            const tab = await chrome.tabs.get(tabId);
            if (!tab.active) throw new ProbeError('NO_IMAGE', 'The tab is not in front.');
            return cropScreenshot(await chrome.tabs.captureVisibleTab(tab.windowId, { format: 'png' }), box, side);
          },
        },
      );
    } catch (e) {
      // Not allowed on the page: that is the reason, with the image's host added when it is not allowed either.
      if (pageDenied) throw mergeAccess(pageDenied, e instanceof AccessError ? e : null);
      throw e;
    }
    return { image: got.image, source: got.firstFrameOnly ? { ...got.source, firstFrameOnly: true } : got.source };
  },
  // Damaged weight files are refused before tfjs builds (and leaks) a half-loaded model (checklist row 26).
  model: (id) => checkedLoad(id, modelFolderUrl, (m) => getModel(m, modelFolderUrl)),
  vae: () => getVaeContext(modelFolderUrl),
  defenses: () => getDefenseAssets(modelFolderUrl),
  backend: async () => (await backendSetting.choice()).backend,
  persist(tabId, state) {
    // Page images never go to storage.local; the session area is memory-only and cleared on browser exit.
    chrome.storage.session.set({ [STATE_KEY(tabId)]: state }).catch(() => undefined);
  },
  now: () => Date.now(),
  onEnqueue: () => keepAlive.poke(),
});

/** While jobs are queued or running, an extension API call every 20 s keeps Chrome from stopping the worker; idle, it may sleep. */
const keepAlive = new KeepAlive(() => chrome.runtime.getPlatformInfo(), () => service.queueStats().queued > 0);

/** Tell every frame of every tab showing `origin` to start or stop badges (injecting the content script where it is missing). */
async function browseTell(origin: string, enabled: boolean): Promise<void> {
  const tabs = await chrome.tabs.query({}).catch(() => [] as chrome.tabs.Tab[]);
  await Promise.all(
    tabs
      .filter((t) => typeof t.id === 'number' && siteOrigin(t.url) === origin)
      // No frameId: every frame of the tab gets it. A tab without the content script just does not answer.
      .map(async (t) => {
        try {
          await chrome.tabs.sendMessage(t.id as number, { type: 'content/browse', payload: { enabled } });
        } catch {
          // A tab opened before the site was allowed has no content script yet: inject it (it reads the setting itself).
          if (enabled) {
            await scriptsSynced;
            await chrome.scripting.executeScript({ target: { tabId: t.id as number, allFrames: true }, files: [contentScriptFile] }).catch(() => undefined);
          }
        }
      }),
  );
}

/** Browse mode: per-site badges, classified behind every user probe (src/background/browse.ts). */
const browse = new BrowseService({
  readOrigins: async () => (await chrome.storage.local.get(BROWSE_ORIGINS_KEY))[BROWSE_ORIGINS_KEY],
  writeOrigins: (list) => chrome.storage.local.set({ [BROWSE_ORIGINS_KEY]: list }),
  tabUrl: async (tabId) => (await chrome.tabs.get(tabId).catch(() => null))?.url ?? null,
  tellOrigin: (origin, enabled) => browseTell(origin, enabled),
  allowed: siteAllowed,
  modelIdOf: (tabId) => service.getState(tabId).modelId,
  model: (id) => checkedLoad(id, modelFolderUrl, (m) => getModel(m, modelFolderUrl)),
  gpdnn: () => getBadgeGp(modelFolderUrl, (id) => getModel(id, modelFolderUrl)),
  backend: async () => (await backendSetting.choice()).backend,
  busy: () => service.queueStats().queued > 0,
  probe(req) {
    // The context menu's path: open the popup where the browser allows it, then the default probe.
    chrome.action.openPopup?.().catch(() => undefined);
    void recovered.then(() => service.probeImage(req));
  },
});

/**
 * After a service-worker restart: every tab's stored state comes back, and a job that was running or
 * queued when the worker stopped is closed with a "run it again" notice (jobs-recovery.ts); job numbers
 * continue from the stored ones. Messages and clicks wait for this.
 */
const recovered: Promise<void> = chrome.storage.session
  .get(null)
  .then((all) => {
    for (const { tabId, state } of storedStates(all as Record<string, unknown>)) service.restore(tabId, state);
  })
  .catch(() => undefined);

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

/** The benchmark runs alone (after the queued jobs), on the asked backend for this run if there is one. */
function runBench(req: Req<'probe/bench'>): Promise<BenchResult[]> {
  return backendSetting.during(req.backend, (backend) =>
    benchInExtension(req, {
      backend: async () => backend,
      model: (id) => getModel(id, modelFolderUrl),
      vae: () => getVaeContext(modelFolderUrl),
    }),
  );
}

async function handle(msg: AnyEnvelope, sender: BrowseSender): Promise<unknown> {
  await recovered;
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
    case 'probe/retry':
      return service.retry(msg.payload.tabId);
    case 'probe/list-models':
      return modelInfos();
    case 'probe/bench':
      return runBench(msg.payload);
    case 'probe/defenses':
      await restoreState(msg.payload.tabId);
      return service.defend(msg.payload.tabId);
    case 'probe/sweep':
      await restoreState(msg.payload.tabId);
      return service.sweep(msg.payload.tabId, msg.payload.maxEps, msg.payload.points);
    case 'probe/transfer':
      await restoreState(msg.payload.tabId);
      return service.transfer(msg.payload.tabId);
    case 'probe/lab-progress':
      return service.labProgress(msg.payload.tabId);
    case 'probe/lab-cancel':
      return service.cancelLab(msg.payload.tabId);
    case 'probe/export':
      await restoreState(msg.payload.tabId);
      return service.exportAdversarial(msg.payload.tabId);
    case 'probe/adv-training':
      await restoreState(msg.payload.tabId);
      return service.adversarialTraining(msg.payload.tabId);
    case 'probe/user-model':
      await restoreState(msg.payload.tabId);
      return service.userModel(msg.payload.tabId, msg.payload.source, fetchUserModelLoader(() => backendSetting.choice()));
    case 'probe/user-export':
      return service.userExport(msg.payload.tabId, msg.payload.source, fetchUserModelLoader(() => backendSetting.choice()));
    case 'probe/saliency':
      await restoreState(msg.payload.tabId);
      return service.saliency(msg.payload.tabId, msg.payload.target);
    case 'probe/get-backend':
      return backendSetting.view();
    case 'probe/set-backend':
      return backendSetting.set(msg.payload.backend);
    case 'probe/diagnostics':
      return diagnostics((await backendSetting.choice()).backend, service.queueStats());
    case 'browse/get-site':
      return browse.getSite(msg.payload.tabId);
    case 'browse/set-site':
      return browse.setSite(msg.payload.tabId, msg.payload.enabled);
    case 'browse/classify':
      return browse.classify(sender, msg.payload.image);
    case 'browse/open':
      return browse.open(sender, msg.payload.srcUrl);
    case 'content/capture':
    case 'content/browse':
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
  handle(msg, sender).then(
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
  const req = { tabId, frameId: info.frameId ?? 0, srcUrl: info.srcUrl, pageUrl: info.pageUrl ?? tab.url ?? '', frameUrl: info.frameUrl };
  void recovered.then(() => service.probeImage(req));
});

chrome.tabs.onRemoved.addListener((tabId) => {
  service.forgetTab(tabId);
  browse.forgetTab(tabId);
  chrome.storage.session.remove(STATE_KEY(tabId)).catch(() => undefined);
});

// Warm up the backend (the stored preference first) so the first probe is quick.
void backendSetting.choice().catch(() => undefined);
