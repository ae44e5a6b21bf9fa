import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Page, Worker } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fireProbe, launchExtension, openPopup, readPopup, tabIdOf, withTimeout, type ExtensionSession } from '../../src/cli/browser';
import { loadMnist } from '../../src/cli/data';
import { LIGHT, encodePng, renderDigit } from '../../src/cli/png';
import { serveStatic, type StaticServer } from '../../src/cli/serve';
import { isErrorCode } from '../../src/core/errors';
import type { MessageType, Reply, Req, Res } from '../../src/protocol/messages';
import type { DiagnosticsView, ProbeState } from '../../src/protocol/types';

/**
 * Reliability checklist (../shared/reliability-checklist.md), the page-side rows 15, 16, 17, 18 and 32, against the
 * built extension in headless Chromium: fixture pages generated here and served on loopback only (127.0.0.1), the real
 * context-menu listener fired, the state read through 'probe/get-state' and the popup, 'probe/diagnostics' asked after
 * the jobs so that "tensors back to baseline" is measured. Uncaught errors are collected from every page (pageerror),
 * from the service worker (console errors, which include "Unchecked runtime.lastError", and error / unhandledrejection
 * events) and required to be none.
 *
 * Parts of rows that cannot run here, and why:
 * - row 17 "menu disabled" on chrome:// pages: Chrome itself never shows extension context-menu items on its own pages,
 *   and headless Chromium has no menu to look at; the test fires the real listener for a chrome:// tab (what a
 *   menu click there would do) and requires a clear error instead.
 */
const DIST = resolve(process.env.PROBE_DIST ?? 'dist');
const DIGITS = 12;
let server: StaticServer;
let session: ExtensionSession;
let control: Page;
let root: string;
const labels: number[] = [];
/** tf.memory().numTensors when idle with the default model loaded (after a warm-up probe). */
let baseline = -1;
/** Uncaught errors anywhere (pages, popup, service worker), with where they came from. */
const uncaught: string[] = [];
/** CSP violation reports POSTed by the strict page (row 15). */
const cspReports: string[] = [];

const CSP_NONCE = 'r0w15n0nce';
const STRICT_CSP =
  `default-src 'none'; img-src 'self'; script-src 'nonce-${CSP_NONCE}'; style-src 'none'; connect-src 'none'; ` +
  `require-trusted-types-for 'script'; trusted-types 'none'; report-uri /csp-report`;

function routes(): ((req: IncomingMessage, res: ServerResponse) => boolean)[] {
  return [
    (req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (path === '/csp-report') {
        let body = '';
        req.on('data', (c: Buffer) => (body += c.toString()));
        req.on('end', () => {
          cspReports.push(body);
          res.writeHead(204).end();
        });
        return true;
      }
      if (path === '/strict.html') {
        // Row 15: the page's only script is the nonce'd one recording violations; no fetch, no inline style, Trusted Types enforced.
        const html =
          `<!doctype html><meta charset="utf-8"><title>strict</title>` +
          `<script nonce="${CSP_NONCE}">window.__v=[];document.addEventListener('securitypolicyviolation',function(e){window.__v.push(e.violatedDirective+' '+e.blockedURI)});</script>` +
          `<body><img id="d1" src="d1.png" alt="d1"></body>`;
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': STRICT_CSP, 'cache-control': 'no-store' }).end(html);
        return true;
      }
      return false;
    },
  ];
}

/** The live service worker (a new one after a restart). */
function currentSw(s: ExtensionSession = session): Worker {
  const all = s.context.serviceWorkers().filter((w) => w.url().startsWith(`chrome-extension://${s.extensionId}/`));
  const sw = all[all.length - 1];
  if (!sw) throw new Error('no service worker');
  return sw;
}

/** Send a typed message from an extension page, as the popup does. */
async function send<T extends MessageType>(type: T, payload: Req<T>, from: Page = control, ms = 60_000): Promise<Reply<T>> {
  return withTimeout(from.evaluate(([t, p]) => chrome.runtime.sendMessage({ type: t, payload: p }), [type, payload] as const), ms, type) as Promise<Reply<T>>;
}

async function ok<T extends MessageType>(type: T, payload: Req<T>, from: Page = control): Promise<Res<T>> {
  const r = await send(type, payload, from);
  if (!r.ok) throw new Error(`${type}: ${r.error.code} ${r.error.message}`);
  return r.data;
}

const diag = (from: Page = control): Promise<DiagnosticsView> => ok('probe/diagnostics', {}, from);
const stateOf = (tabId: number, from: Page = control): Promise<ProbeState> => ok('probe/get-state', { tabId }, from);

async function waitState(tabId: number, pred: (s: ProbeState) => boolean, ms = 60_000, from: Page = control): Promise<ProbeState> {
  const deadline = Date.now() + ms;
  for (;;) {
    const s = await stateOf(tabId, from);
    if (pred(s)) return s;
    if (Date.now() > deadline) throw new Error(`tab ${tabId}: state never matched (last: ${s.status} job ${s.job} ${s.stage ?? ''} ${s.error?.code ?? ''})`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function idle(ms = 60_000, from: Page = control): Promise<DiagnosticsView> {
  const deadline = Date.now() + ms;
  for (;;) {
    const d = await diag(from);
    if (d.queued === 0) return d;
    if (Date.now() > deadline) throw new Error(`queue never drained: ${JSON.stringify(d)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Record uncaught errors of a page (and its console errors) into `uncaught`. */
function watch(p: Page, name: string): Page {
  p.on('pageerror', (e) => uncaught.push(`${name}: ${e.message}`));
  return p;
}

/** Record the service worker's console errors and uncaught errors / rejections. */
async function watchWorker(sw: Worker): Promise<void> {
  sw.on('console', (m) => {
    if (m.type() === 'error') uncaught.push(`worker console: ${m.text()}`);
  });
  await withTimeout(
    sw.evaluate(() => {
      const g = self as unknown as { __errs?: string[] };
      if (g.__errs) return;
      g.__errs = [];
      self.addEventListener('error', (e) => g.__errs!.push(`error: ${(e as ErrorEvent).message}`));
      self.addEventListener('unhandledrejection', (e) => g.__errs!.push(`rejection: ${String((e as PromiseRejectionEvent).reason)}`));
    }),
    10_000,
    'worker error hooks',
  );
}

async function workerErrors(sw: Worker = currentSw()): Promise<string[]> {
  return withTimeout(sw.evaluate(() => (self as unknown as { __errs?: string[] }).__errs ?? []), 10_000, 'worker errors');
}

const html = (title: string, head: string, body: string): string => `<!doctype html><meta charset="utf-8"><title>${title}</title>${head}<body>${body}</body>`;

async function openPage(path: string, s: ExtensionSession = session): Promise<Page> {
  const page = watch(await s.context.newPage(), path);
  // 'load' waits for the images; no page-side helper runs (the hostile page counts calls to its replaced built-ins).
  await page.goto(path.includes('://') ? path : `${server.url}/${path}`, { waitUntil: 'load' });
  return page;
}

/** Probe an image through the real context menu and wait for that job's end. */
async function probe(page: Page, src: string, selector?: string, s: ExtensionSession = session, from: Page = control): Promise<ProbeState> {
  const tabId = await fireProbe({ ...s, sw: currentSw(s) }, page, src.includes(':') ? src : `${server.url}/${src}`, selector);
  const job = (await stateOf(tabId, from)).job;
  return waitState(tabId, (st) => st.job === job && st.status !== 'running', 60_000, from);
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'probe-page-'));
  const test = loadMnist('test');
  const imgs: string[] = [];
  for (let i = 0; i < DIGITS; i++) {
    writeFileSync(join(root, `d${i}.png`), encodePng(renderDigit(test.images.subarray(i * 784, (i + 1) * 784), 3, LIGHT.ink, LIGHT.paper, 6)));
    labels.push(test.labels[i]);
    imgs.push(`<img id="d${i}" src="d${i}.png" alt="digit ${i}">`);
  }
  writeFileSync(join(root, 'plain.html'), html('plain', '', imgs.join('\n')));
  writeFileSync(join(root, 'other.html'), html('other', '', '<p>another page</p>'));
  // Row 16: a hostile page. Its script runs after the content script (document_start) and replaces what an
  // extension might call in the page: fetch, canvas contexts and reads, image properties, Array.prototype.map,
  // Array.from, URL; it spams postMessage with the extension's message shapes. Every call to a replacement is counted.
  const hostile = `<script>
window.__calls = { fetch: 0, getContext: 0, getImageData: 0, drawImage: 0, map: 0, from: 0, url: 0 };
window.__msgs = 0;
window.fetch = function () { __calls.fetch++; return Promise.reject(new Error('hostile fetch')); };
HTMLCanvasElement.prototype.getContext = function () { __calls.getContext++; return null; };
OffscreenCanvas.prototype.getContext = function () { __calls.getContext++; return null; };
CanvasRenderingContext2D.prototype.getImageData = function () { __calls.getImageData++; throw new Error('hostile getImageData'); };
OffscreenCanvasRenderingContext2D.prototype.getImageData = function () { __calls.getImageData++; throw new Error('hostile getImageData'); };
OffscreenCanvasRenderingContext2D.prototype.drawImage = function () { __calls.drawImage++; };
Object.defineProperty(HTMLImageElement.prototype, 'naturalWidth', { get: function () { return 0; } });
Object.defineProperty(HTMLImageElement.prototype, 'complete', { get: function () { return false; } });
Array.prototype.map = function () { __calls.map++; return []; };
Array.from = function () { __calls.from++; return []; };
window.URL = function () { __calls.url++; throw new Error('hostile URL'); };
window.addEventListener('message', function () { __msgs++; });
setInterval(function () {
  for (var i = 0; i < 50; i++) {
    window.postMessage({ type: 'content/capture', payload: { srcUrl: location.href, maxSide: 1 } }, '*');
    window.postMessage({ type: 'probe/run-attack', payload: { tabId: 1, modelId: 'x', attack: 'fgsm', params: {}, target: null } }, '*');
  }
}, 0);
</script>`;
  writeFileSync(join(root, 'hostile.html'), html('hostile', hostile, imgs.slice(0, 4).join('\n')));
  // Row 18: the page removes the right-clicked image 100 ms after the right-click.
  const remover = `<script>document.addEventListener('contextmenu', function (e) { var t = e.target; setTimeout(function () { t.remove(); window.__removed = true; }, 100); });</script>`;
  writeFileSync(join(root, 'remove.html'), html('remove', remover, imgs.slice(0, 6).join('\n')));
  server = await serveStatic(root, '127.0.0.1', routes());
  session = await launchExtension({ dist: DIST });
  await watchWorker(session.sw);
  control = watch(await session.context.newPage(), 'control');
  await control.goto(`chrome-extension://${session.extensionId}/src/popup/index.html?tab=999999`);
  // Warm up (backend, model) and take the idle tensor baseline.
  const page = await openPage('plain.html?warmup');
  const st = await probe(page, 'd0.png', '#d0');
  expect(st.status, st.error?.message).toBe('done');
  baseline = (await idle()).numTensors;
  expect(baseline).toBeGreaterThan(0);
  await page.close();
}, 120_000);

afterAll(async () => {
  await session?.close();
  await server?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('reliability checklist: page-side rows', () => {
  it('row 16: hostile page (fetch, getContext, Array.prototype.map replaced; postMessage spam): extension unaffected', async () => {
    const page = await openPage('hostile.html');
    // The page's replacements are in force in the page itself.
    expect(await page.evaluate(() => [1, 2].map((x) => x * 2).length)).toBe(0);
    await page.evaluate(() => {
      const c = (window as unknown as { __calls: Record<string, number> }).__calls;
      for (const k in c) c[k] = 0;
    });
    // Canvas path: the <img> is read through the content script's own (isolated) canvas APIs.
    const a = await probe(page, 'd1.png', '#d1');
    expect(a.status, a.error?.message).toBe('done');
    expect(a.result?.source.capturedBy).toBe('page');
    expect(a.result?.prediction.label).toBe(labels[1]);
    // Page-context fetch path: an address of the page's origin that no <img> shows, fetched by the content script.
    const b = await probe(page, 'd5.png');
    expect(b.status, b.error?.message).toBe('done');
    expect(b.result?.source.capturedBy).toBe('page');
    expect(b.result?.prediction.label).toBe(labels[5]);
    const calls = await page.evaluate(() => (window as unknown as { __calls: Record<string, number> }).__calls);
    const msgs = await page.evaluate(() => (window as unknown as { __msgs: number }).__msgs);
    // None of the page's replacements was ever called by the extension; the spam really ran.
    expect(calls).toEqual({ fetch: 0, getContext: 0, getImageData: 0, drawImage: 0, map: 0, from: 0, url: 0 });
    expect(msgs).toBeGreaterThan(100);
    // The page is unchanged: its replacements are still the ones it installed.
    expect(await page.evaluate(() => String(window.fetch).includes('hostile'))).toBe(true);
    // The popup shows the result for that tab.
    const popup = watch(await openPopup(session, a.tabId!), 'popup16');
    const shown = await readPopup(popup, 30_000);
    expect(shown.status).toBe('done');
    expect(shown.prediction).toBe(b.result?.prediction.className);
    await popup.close();
    expect((await idle()).numTensors).toBe(baseline);
    expect(uncaught).toEqual([]);
    expect(await workerErrors()).toEqual([]);
    console.log(`row 16: hostile page, ${msgs} postMessages during the test; canvas path → ${a.result?.prediction.label} (label ${labels[1]}), page-fetch path → ${b.result?.prediction.label} (label ${labels[5]}); page replacements called: ${JSON.stringify(calls)}`);
    await page.close();
  });

  it('row 15: page with strict CSP and Trusted Types: works; no CSP violation caused by the extension', async () => {
    const page = await openPage('strict.html');
    // Canvas path.
    const a = await probe(page, 'd1.png', '#d1');
    expect(a.status, a.error?.message).toBe('done');
    expect(a.result?.source.capturedBy).toBe('page');
    expect(a.result?.prediction.label).toBe(labels[1]);
    // An address of the page's origin that no <img> shows: the page's connect-src 'none' forbids the page to fetch it.
    const b = await probe(page, 'd2.png');
    expect(b.status, b.error?.message).toBe('done');
    expect(b.result?.prediction.label).toBe(labels[2]);
    await new Promise((r) => setTimeout(r, 1_000));
    const seen = await page.evaluate(() => (window as unknown as { __v: string[] }).__v.slice());
    const reports = cspReports.slice();
    expect(seen).toEqual([]);
    expect(reports).toEqual([]);
    // The detectors work: a violation the page itself causes is seen by both.
    await page.evaluate(() => {
      const i = document.createElement('img');
      i.src = 'http://localhost:9/x.png';
      document.body.append(i);
    });
    await page.waitForFunction(() => (window as unknown as { __v: string[] }).__v.length > 0, undefined, { timeout: 10_000 });
    const deadline = Date.now() + 10_000;
    while (cspReports.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(cspReports.length).toBeGreaterThan(0);
    expect((await page.evaluate(() => (window as unknown as { __v: string[] }).__v))[0]).toContain('img-src');
    expect((await idle()).numTensors).toBe(baseline);
    expect(uncaught).toEqual([]);
    expect(await workerErrors()).toEqual([]);
    console.log(`row 15: strict CSP page: canvas path → ${a.result?.prediction.label} (label ${labels[1]}), same-origin address without <img> → ${b.result?.prediction.label} (label ${labels[2]}, captured by ${b.result?.source.capturedBy}); violations by the extension 0 (control violation seen: ${cspReports.length} report(s))`);
    await page.close();
  });

  it('row 18: DOM changes mid-job (img removed 100 ms after the right-click; tab navigates during an attack): finishes on captured pixels, result to the right tab only', async () => {
    // (a) The page removes the right-clicked image 100 ms after the right-click; the menu fires before and after it.
    const page = await openPage('remove.html');
    const early = await probe(page, 'd3.png', '#d3');
    const late = await (async () => {
      await page.click('#d4', { button: 'right' });
      await page.waitForFunction(() => (window as unknown as { __removed?: boolean }).__removed === true, undefined, { timeout: 5_000 });
      return probe(page, 'd4.png');
    })();
    // The page's script did remove both (the first one 100 ms after its right-click, whether the job had ended or not).
    await page.waitForFunction(() => document.querySelector('#d3') === null && document.querySelector('#d4') === null, undefined, { timeout: 5_000 });
    for (const [st, i] of [[early, 3], [late, 4]] as const) {
      expect(st.status, st.error?.message).toBe('done');
      expect(st.result?.prediction.label).toBe(labels[i]);
    }
    // (b) Another tab holds a result; this tab navigates away while a CW-L2 runs on its captured pixels.
    const other = await openPage('plain.html?row=18-other');
    const otherSt = await probe(other, 'd7.png', '#d7');
    expect(otherSt.status).toBe('done');
    const tabId = early.tabId!;
    const pageUrl = page.url();
    await control.evaluate((p) => {
      void chrome.runtime.sendMessage({ type: 'probe/run-attack', payload: p }).catch(() => undefined);
    }, { tabId, modelId: 'mnist-lenet', attack: 'cw-l2', params: { maxIterations: 1000, binarySteps: 3, abortEarly: false }, target: null } as const);
    const running = await waitState(tabId, (s) => s.status === 'running' && (s.progress?.done ?? 0) > 0);
    await page.goto(`${server.url}/other.html?navigated`);
    expect(await tabIdOf(session, page)).toBe(tabId);
    // The navigation happened while the attack ran.
    const during = await stateOf(tabId);
    expect(during.status).toBe('running');
    expect(during.job).toBe(running.job);
    const end = await waitState(tabId, (s) => s.status !== 'running', 90_000);
    // Either it finished on the pixels captured before the navigation, or it was cancelled with a notice.
    if (end.error) {
      expect(end.error.code).toBe('CANCELLED');
    } else {
      expect(end.status).toBe('done');
      expect(end.job).toBe(running.job);
      expect(end.result?.attack.choice.attack).toBe('cw-l2');
      expect(end.result?.source.pageUrl).toBe(pageUrl);
      expect(end.result?.prediction.label).toBe(labels[4]);
    }
    // The other tab's result is untouched.
    const otherAfter = await stateOf(otherSt.tabId!);
    expect(otherAfter.job).toBe(otherSt.job);
    expect(otherAfter.result?.id).toBe(otherSt.result?.id);
    expect(otherAfter.result?.source.pageUrl).toBe(other.url());
    // (c) A probe fired and the tab navigated at once: it ends (result or coded error), never stuck, never in another tab.
    const racer = await openPage('plain.html?row=18-race');
    const raceTab = await fireProbe({ ...session, sw: currentSw() }, racer, `${server.url}/d8.png`, '#d8');
    await racer.goto(`${server.url}/other.html?raced`);
    const raced = await waitState(raceTab, (s) => s.status !== 'running');
    if (raced.status === 'error') expect(isErrorCode(raced.error?.code)).toBe(true);
    else expect(raced.result?.prediction.label).toBe(labels[8]);
    expect((await stateOf(otherSt.tabId!)).job).toBe(otherSt.job);
    expect((await idle()).numTensors).toBe(baseline);
    expect(uncaught).toEqual([]);
    expect(await workerErrors()).toEqual([]);
    console.log(
      `row 18: img removed 100 ms after the right-click → ${early.result?.prediction.label}/${late.result?.prediction.label} (labels ${labels[3]}/${labels[4]}); ` +
        `navigated during CW-L2 at step ${running.progress?.done} → ${end.error ? end.error.code : `${end.status}, ${end.result?.prediction.label}→${end.result?.attack.prediction.label}`}; ` +
        `navigated right after a click → ${raced.status}${raced.error ? ` ${raced.error.code}` : ''}; other tab's job ${otherAfter.job} unchanged`,
    );
    await page.close();
    await other.close();
    await racer.close();
  });

  it('row 17: file:// and chrome:// pages: a clear error with instructions; no uncaught error', async () => {
    const fileUrl = pathToFileURL(join(root, 'plain.html')).href;
    const page = await openPage(fileUrl);
    const f = await probe(page, pathToFileURL(join(root, 'd9.png')).href, '#d9');
    expect(f.status).toBe('error');
    expect(f.error?.code).toBe('UNSUPPORTED_PAGE');
    expect(f.error?.message).toMatch(/local file \(file:\/\/\)/);
    expect(f.error?.message).toMatch(/over http/);
    const popup = watch(await openPopup(session, f.tabId!), 'popup17');
    const shown = await readPopup(popup, 30_000);
    expect(shown.status).toBe('error');
    expect(shown.errorCode).toBe('UNSUPPORTED_PAGE');
    expect(shown.errorText).toMatch(/local file \(file:\/\/\)/);
    await popup.close();
    // A chrome:// tab: the extension cannot see its URL (no host permission there), so it is found as the new tab.
    const tabIds = (): Promise<number[]> => withTimeout(currentSw().evaluate(async () => (await chrome.tabs.query({})).map((t) => t.id ?? -1)), 10_000, 'tab ids');
    const before = await tabIds();
    const chromePage = watch(await session.context.newPage(), 'chrome://version');
    await chromePage.goto('chrome://version');
    const [chromeTab] = (await tabIds()).filter((id) => !before.includes(id));
    expect(chromeTab).toBeGreaterThan(0);
    const job0 = (await stateOf(chromeTab)).job;
    await withTimeout(
      currentSw().evaluate(async (tabId: number) => {
        const tab = await chrome.tabs.get(tabId);
        const info = { menuItemId: 'probe-image', srcUrl: 'chrome://version/images/product_logo.png', pageUrl: 'chrome://version/', frameId: 0, editable: false, mediaType: 'image' };
        (chrome.contextMenus.onClicked as unknown as { dispatch(i: unknown, t: unknown): void }).dispatch(info, tab);
      }, chromeTab),
      10_000,
      'context-menu dispatch on chrome://',
    );
    const c = await waitState(chromeTab, (st) => st.job > job0 && st.status !== 'running');
    expect(c.status).toBe('error');
    expect(c.error?.code).toBe('UNSUPPORTED_PAGE');
    expect(c.error?.message).not.toMatch(/Receiving end|Could not establish/);
    expect(c.error?.message).toMatch(/chrome:\/\//);
    expect((await idle()).numTensors).toBe(baseline);
    expect(uncaught).toEqual([]);
    expect(await workerErrors()).toEqual([]);
    console.log(`row 17: file:// → ${f.error?.code} "${f.error?.message}"; chrome:// → ${c.error?.code} "${c.error?.message}"`);
    await page.close();
    await chromePage.close();
  });
});

describe('reliability checklist: extension reloaded', () => {
  it('row 32: extension reloaded mid-job: the page keeps working; the orphaned content script stays quiet; the reloaded extension probes the page', async () => {
    // --enable-unsafe-extension-debugging lets the test load the unpacked extension again over CDP (Extensions.loadUnpacked).
    const s = await launchExtension({ dist: DIST, extraArgs: ['--enable-unsafe-extension-debugging'] });
    try {
      await watchWorker(s.sw);
      let ctl = watch(await s.context.newPage(), 'control32');
      await ctl.goto(`chrome-extension://${s.extensionId}/src/popup/index.html?tab=999999`);
      const page = await openPage('plain.html?row=32', s);
      const first = await probe(page, 'd10.png', '#d10', s, ctl);
      expect(first.status, first.error?.message).toBe('done');
      const tabId = first.tabId!;
      await ctl.evaluate((p) => {
        void chrome.runtime.sendMessage({ type: 'probe/run-attack', payload: p }).catch(() => undefined);
      }, { tabId, modelId: 'mnist-lenet', attack: 'cw-l2', params: { maxIterations: 10000, binarySteps: 20, abortEarly: false }, target: null } as const);
      const running = await waitState(tabId, (st) => st.status === 'running' && (st.progress?.done ?? 0) > 0, 60_000, ctl);
      // Reloaded mid-job, as chrome://extensions' Reload does for an unpacked extension: the same folder loaded again
      // (CDP Extensions.loadUnpacked). chrome.runtime.reload() is the second phase below: here it unloads the extension
      // for good (measured: its pages then answer ERR_BLOCKED_BY_CLIENT, even after loading the folder again).
      const next = s.context.waitForEvent('serviceworker', { timeout: 30_000 });
      const browser = s.context.browser();
      if (!browser) throw new Error('no browser handle for CDP');
      const bcdp = await browser.newBrowserCDPSession();
      const loaded = (await bcdp.send('Extensions.loadUnpacked' as never, { path: DIST } as never)) as { id: string };
      await bcdp.detach();
      expect(loaded.id).toBe(s.extensionId);
      const sw = await next;
      expect(new URL(sw.url()).host).toBe(s.extensionId);
      await watchWorker(sw);
      // The page keeps working, and right-clicks reach the orphaned content script, which lets go quietly.
      expect(await withTimeout(page.evaluate(() => 6 * 7), 5_000, 'page alive')).toBe(42);
      await page.click('#d9', { button: 'right' });
      await page.keyboard.press('Escape');
      expect(uncaught).toEqual([]);
      ctl = watch(await s.context.newPage(), 'control32b');
      await ctl.goto(`chrome-extension://${s.extensionId}/src/popup/index.html?tab=999999`);
      // The job that ran in the unloaded extension is not shown as running forever.
      const reloaded = await stateOf(tabId, ctl);
      expect(reloaded.status).not.toBe('running');
      // The same page, not reloaded, is probed again by the new extension.
      const after = await probe(page, 'd11.png', '#d11', s, ctl);
      expect(after.status, after.error?.message).toBe('done');
      expect(after.job).toBeGreaterThan(0);
      expect(after.result?.prediction.label).toBe(labels[11]);
      expect(after.result?.source.pageUrl).toBe(page.url());
      expect(await withTimeout(page.evaluate(() => document.images.length), 5_000, 'page alive')).toBe(DIGITS);
      const popup = watch(await openPopup({ ...s, sw }, tabId), 'popup32');
      const shown = await readPopup(popup, 30_000);
      expect(shown.status).toBe('done');
      expect(shown.prediction).toBe(after.result?.prediction.className);
      await popup.close();
      expect(uncaught).toEqual([]);
      expect(await workerErrors(sw)).toEqual([]);
      // Second phase: chrome.runtime.reload() from the worker while a job runs. The page keeps working and stays quiet.
      await ctl.evaluate((p) => {
        void chrome.runtime.sendMessage({ type: 'probe/run-attack', payload: p }).catch(() => undefined);
      }, { tabId, modelId: 'mnist-lenet', attack: 'cw-l2', params: { maxIterations: 10000, binarySteps: 20, abortEarly: false }, target: null } as const);
      const running2 = await waitState(tabId, (st) => st.status === 'running' && (st.progress?.done ?? 0) > 0, 60_000, ctl);
      await withTimeout(sw.evaluate(() => chrome.runtime.reload()), 10_000, 'runtime.reload').catch(() => undefined);
      await new Promise((r) => setTimeout(r, 1_000));
      expect(await withTimeout(page.evaluate(() => 6 * 7), 5_000, 'page alive after runtime.reload')).toBe(42);
      for (const id of ['#d10', '#d11']) {
        await page.click(id, { button: 'right' });
        await page.keyboard.press('Escape');
      }
      await page.evaluate(() => document.querySelector('#d0')?.remove());
      expect(await page.evaluate(() => document.images.length)).toBe(DIGITS - 1);
      expect(uncaught).toEqual([]);
      console.log(
        `row 32: reloaded during CW-L2 at step ${running.progress?.done}; page alive, right-clicks quiet; extension back → ` +
          `tab state ${reloaded.status} (job ${reloaded.job}${reloaded.error ? `, ${reloaded.error.code}` : ''}); new probe of the same page → ${after.result?.prediction.label} (label ${labels[11]}), captured by ${after.result?.source.capturedBy}; ` +
          `runtime.reload() during CW-L2 at step ${running2.progress?.done}: page alive and quiet`,
      );
    } finally {
      await s.close();
    }
  }, 120_000);
});
