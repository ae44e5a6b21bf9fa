/**
 * Driving the built extension in real Chromium (playwright-core): used by the e2e tests and
 * by `npm run demo`. Fires the real context-menu listener and reads the popup's DOM.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

/**
 * Sites allowed by default in these sessions: the loopback fixture servers. The extension installs with no
 * host permission (least privilege); a user allows a site from the popup, which headless Chromium cannot
 * click through (the permission prompt is browser UI), so the session starts as if the user had allowed these.
 */
export const LOOPBACK_GRANTS: readonly string[] = ['http://127.0.0.1/*', 'http://localhost/*'];

function chromiumArgs(dist: string, extra: readonly string[]): string[] {
  return [
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
    ...extra,
  ];
}

async function workerOf(context: BrowserContext): Promise<Worker> {
  const [sw] = context.serviceWorkers();
  return sw ?? (await context.waitForEvent('serviceworker', { timeout: 30_000 }));
}

/**
 * Record optional host permissions as granted in a closed profile, exactly where Chromium keeps what the
 * user allowed through chrome.permissions.request (the extension's entry in the profile's Preferences).
 */
export function grantInProfile(userDir: string, extensionId: string, origins: readonly string[]): void {
  const file = join(userDir, 'Default', 'Preferences');
  if (!existsSync(file)) throw new Error(`no profile preferences at ${file}`);
  const prefs = JSON.parse(readFileSync(file, 'utf8')) as { extensions?: { settings?: Record<string, Record<string, unknown>> } };
  const entry = prefs.extensions?.settings?.[extensionId];
  if (!entry) throw new Error(`the profile has no settings for extension ${extensionId}`);
  const add = (key: string): void => {
    const set = (entry[key] ?? {}) as { explicit_host?: string[] };
    set.explicit_host = [...new Set([...(set.explicit_host ?? []), ...origins])];
    entry[key] = set;
  };
  add('granted_permissions');
  add('runtime_granted_permissions');
  add('active_permissions');
  writeFileSync(file, JSON.stringify(prefs));
}

/**
 * The built extension in Chromium. `grant` (default LOOPBACK_GRANTS) are the sites the user has allowed:
 * the profile is started once to install the extension, the grants are recorded, and it starts again; the
 * session is handed over once the worker has registered its content script for them. `grant: []` is a
 * fresh install.
 */
export async function launchExtension(
  opts: { dist?: string; headless?: boolean; extraArgs?: string[]; grant?: readonly string[] } = {},
): Promise<ExtensionSession> {
  const dist = resolve(opts.dist ?? 'dist');
  const grant = opts.grant ?? LOOPBACK_GRANTS;
  const userDir = mkdtempSync(join(tmpdir(), 'probe-chromium-'));
  const launch = (): Promise<BrowserContext> =>
    chromium.launchPersistentContext(userDir, {
      executablePath: CHROMIUM,
      headless: opts.headless ?? true,
      viewport: { width: 1200, height: 900 },
      args: chromiumArgs(dist, opts.extraArgs ?? []),
    });
  let context = await launch();
  try {
    let sw = await workerOf(context);
    const extensionId = new URL(sw.url()).host;
    if (grant.length > 0) {
      await context.close();
      grantInProfile(userDir, extensionId, grant);
      context = await launch();
      sw = await workerOf(context);
      const deadline = Date.now() + 15_000;
      while (!(await sw.evaluate(async () => (await chrome.scripting.getRegisteredContentScripts()).length > 0).catch(() => false))) {
        if (Date.now() > deadline) throw new Error('the extension did not register its content script for the allowed sites');
        await new Promise((r) => setTimeout(r, 100));
      }
    }
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

/** The id of the tab showing `page` (looked up by URL from the service worker, else as the tab in front). */
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
  if (id >= 0) return id;
  // Tabs of sites the extension is not allowed on show it no URL: take the page to the front and ask for the active tab.
  await page.bringToFront();
  const front = await withTimeout(
    s.sw.evaluate(async () => (await chrome.tabs.query({ active: true, lastFocusedWindow: true }))[0]?.id ?? -1),
    10_000,
    'front tab lookup',
  );
  if (front < 0) throw new Error(`no tab for ${url}`);
  return front;
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
      async ({ src, tabId, menuId, pageUrl }: { src: string; tabId: number; menuId: string; pageUrl: string }) => {
        const tab = await chrome.tabs.get(tabId);
        // Chrome passes the page's address in the click info even where the tab's URL is hidden from the extension.
        const info = { menuItemId: menuId, srcUrl: src, pageUrl: tab.url ?? pageUrl, frameId: 0, editable: false, mediaType: 'image' };
        (chrome.contextMenus.onClicked as unknown as { dispatch(i: unknown, t: unknown): void }).dispatch(info, tab);
      },
      { src: srcUrl, tabId, menuId: MENU_ID, pageUrl: page.url() },
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
