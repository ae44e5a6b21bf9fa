/**
 * Driving the built extension in real Chromium (playwright-core): used by the e2e tests and
 * by `npm run demo`. Fires the real context-menu listener and reads the popup's DOM.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext, type Page, type Worker } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/lib/chromium/chromium';
export const POPUP_PATH = 'src/popup/index.html';
export const MENU_ID = 'probe-image';

export interface ExtensionSession {
  readonly context: BrowserContext;
  readonly sw: Worker;
  readonly extensionId: string;
  close(): Promise<void>;
}

export async function launchExtension(opts: { dist?: string; headless?: boolean; extraArgs?: string[] } = {}): Promise<ExtensionSession> {
  const dist = resolve(opts.dist ?? 'dist');
  const userDir = mkdtempSync(join(tmpdir(), 'probe-chromium-'));
  const context = await chromium.launchPersistentContext(userDir, {
    executablePath: CHROMIUM,
    headless: opts.headless ?? true,
    viewport: { width: 1200, height: 900 },
    args: [
      '--no-first-run',
      '--disable-quic',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-domain-reliability',
      '--no-pings',
      `--disable-extensions-except=${dist}`,
      `--load-extension=${dist}`,
      '--enable-unsafe-webgpu',
      ...(opts.extraArgs ?? []),
    ],
  });
  try {
    let [sw] = context.serviceWorkers();
    if (!sw) sw = await context.waitForEvent('serviceworker', { timeout: 30_000 });
    const extensionId = new URL(sw.url()).host;
    return {
      context,
      sw,
      extensionId,
      close: async () => {
        await context.close().catch(() => undefined);
        rmSync(userDir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await context.close().catch(() => undefined);
    rmSync(userDir, { recursive: true, force: true });
    throw e;
  }
}

/** Race a promise against a timeout, so a stuck evaluate never hangs a test. */
export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, no) => (timer = setTimeout(() => no(new Error(`timed out after ${ms} ms: ${what}`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** The id of the tab showing `page` (looked up by URL from the service worker). */
export async function tabIdOf(s: ExtensionSession, page: Page): Promise<number> {
  const url = page.url();
  const id = await withTimeout(
    s.sw.evaluate(async (u: string) => {
      const tabs = await chrome.tabs.query({});
      return tabs.find((t) => t.url === u)?.id ?? -1;
    }, url),
    10_000,
    'tab lookup',
  );
  if (id < 0) throw new Error(`no tab for ${url}`);
  return id;
}

/** The stored probe state of a tab (storage.session mirror), read from the service worker. */
async function storedJob(s: ExtensionSession, tabId: number): Promise<{ job: number; status: string } | null> {
  return s.sw.evaluate(async (key: string) => {
    const got = await chrome.storage.session.get(key);
    const st = got[key] as { job?: number; status?: string } | undefined;
    return st && typeof st.job === 'number' ? { job: st.job, status: String(st.status) } : null;
  }, `state:${tabId}`);
}

/**
 * Right-click `srcUrl` for real in the page (so the content script records the target), then fire the
 * extension's real context-menu listener with what Chrome would pass it.
 */
export async function fireProbe(s: ExtensionSession, page: Page, srcUrl: string, selector?: string): Promise<number> {
  if (selector) await page.click(selector, { button: 'right' }).catch(() => undefined);
  await page.keyboard.press('Escape').catch(() => undefined);
  const tabId = await tabIdOf(s, page);
  const before = (await storedJob(s, tabId))?.job ?? 0;
  await withTimeout(
    s.sw.evaluate(
      async ({ src, tabId, menuId }: { src: string; tabId: number; menuId: string }) => {
        const tab = await chrome.tabs.get(tabId);
        const info = { menuItemId: menuId, srcUrl: src, pageUrl: tab.url ?? '', frameId: 0, editable: false, mediaType: 'image' };
        (chrome.contextMenus.onClicked as unknown as { dispatch(i: unknown, t: unknown): void }).dispatch(info, tab);
      },
      { src: srcUrl, tabId, menuId: MENU_ID },
    ),
    10_000,
    'context-menu dispatch',
  );
  // The listener runs asynchronously: wait until the new job is registered for this tab.
  const deadline = Date.now() + 10_000;
  while (((await storedJob(s, tabId))?.job ?? 0) <= before) {
    if (Date.now() > deadline) throw new Error('the context-menu click started no probe job');
    await new Promise((r) => setTimeout(r, 50));
  }
  return tabId;
}

export interface PopupReading {
  readonly status: 'done' | 'error';
  readonly prediction: string | null;
  readonly confidence: string | null;
  readonly advPrediction: string | null;
  readonly advConfidence: string | null;
  readonly linf: string | null;
  readonly l2: string | null;
  readonly backend: string | null;
  readonly errorCode: string | null;
  readonly errorText: string | null;
}

/** Open the popup for a tab (as a tab, like a user would see it) and wait for a result or an error. */
export async function openPopup(s: ExtensionSession, tabId: number): Promise<Page> {
  const page = await s.context.newPage();
  await page.setViewportSize({ width: 600, height: 900 });
  await page.goto(`chrome-extension://${s.extensionId}/${POPUP_PATH}?tab=${tabId}`);
  return page;
}

export async function readPopup(page: Page, timeoutMs = 120_000): Promise<PopupReading> {
  await page.waitForSelector('[data-testid="popup"][data-status="done"], [data-testid="popup"][data-status="error"]', { timeout: timeoutMs });
  // If a result is shown, wait until the adversarial panel is there too.
  const text = async (id: string): Promise<string | null> => {
    const el = await page.$(`[data-testid="${id}"]`);
    return el ? ((await el.textContent()) ?? '').trim() : null;
  };
  const err = await page.$('[data-testid="error"]');
  if (err) {
    return {
      status: 'error',
      prediction: null,
      confidence: null,
      advPrediction: null,
      advConfidence: null,
      linf: null,
      l2: null,
      backend: await text('backend'),
      errorCode: await err.getAttribute('data-code'),
      errorText: ((await err.textContent()) ?? '').trim(),
    };
  }
  await page.waitForSelector('[data-testid="adv-prediction"]', { timeout: timeoutMs });
  return {
    status: 'done',
    prediction: await text('prediction'),
    confidence: await text('confidence'),
    advPrediction: await text('adv-prediction'),
    advConfidence: await text('adv-confidence'),
    linf: await text('linf'),
    l2: await text('l2'),
    backend: await text('backend'),
    errorCode: null,
    errorText: null,
  };
}
