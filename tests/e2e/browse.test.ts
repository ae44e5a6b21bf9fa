import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fireProbe, launchExtension, openPopup, tabIdOf, withTimeout, type ExtensionSession } from '../../src/cli/browser';
import { loadMnist } from '../../src/cli/data';
import { encodePng, LIGHT, renderDigit } from '../../src/cli/png';
import { serveStatic, type StaticServer } from '../../src/cli/serve';
import type { MessageType, Reply, Req, Res } from '../../src/protocol/messages';
import type { DiagnosticsView, ProbeState } from '../../src/protocol/types';

/**
 * Browse mode (issue 6, "Confidence while browsing") in the built extension, headless Chromium: a loopback page
 * of 24 real MNIST test digits, 4 per row, 300 px apart, so that only the first rows are in view. The switch is
 * flipped in the popup as a user would; badges are read from their host elements (their content is in a closed
 * shadow root), long tasks are measured in the page with a PerformanceObserver, tensors with 'probe/diagnostics'.
 */
const DIST = resolve(process.env.PROBE_DIST ?? 'dist');
const N = 24;
const PER_ROW = 4;
const ROW_PX = 300;
let server: StaticServer;
let session: ExtensionSession;
let control: Page;
let root: string;
const labels: number[] = [];

async function send<T extends MessageType>(type: T, payload: Req<T>, ms = 60_000): Promise<Res<T>> {
  const r = (await withTimeout(control.evaluate(([t, p]) => chrome.runtime.sendMessage({ type: t, payload: p }), [type, payload] as const), ms, type)) as Reply<T>;
  if (!r.ok) throw new Error(`${type}: ${r.error.code} ${r.error.message}`);
  return r.data;
}
const diag = (): Promise<DiagnosticsView> => send('probe/diagnostics', {});
const stateOf = (tabId: number): Promise<ProbeState> => send('probe/get-state', { tabId });

async function waitFor<T>(what: string, read: () => Promise<T>, pred: (v: T) => boolean, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (pred(v)) return v;
    if (Date.now() > deadline) throw new Error(`${what}: never happened (last: ${JSON.stringify(v)})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface BadgeSeen {
  readonly src: string;
  readonly label: number;
  readonly confidence: number;
  readonly unsure: string;
}

/** Every badge in the page, from its host element's attributes. */
const badges = (page: Page): Promise<BadgeSeen[]> =>
  page.evaluate(() =>
    Array.from(document.querySelectorAll<HTMLElement>('adv-probe-badge')).map((h) => ({
      src: h.dataset.src ?? '',
      label: Number(h.dataset.label ?? -1),
      confidence: Number(h.dataset.confidence ?? -1),
      unsure: h.dataset.unsure ?? '',
    })),
  );

const indexOf = (src: string): number => Number(/d(\d+)\.png/.exec(src)?.[1] ?? -1);

/** Images whose box intersects the viewport now, grown by `margin` px on each side (64: the controller's rootMargin). */
const visibleImages = (page: Page, margin = 0): Promise<number[]> =>
  page.evaluate(
    (m) =>
      Array.from(document.images)
        .filter((i) => {
          const r = i.getBoundingClientRect();
          return r.bottom > -m && r.top < innerHeight + m;
        })
        .map((i) => Number(/d(\d+)\.png/.exec(i.src)?.[1] ?? -1)),
    margin,
  );

/** Time from the context-menu click to the finished probe of that job. */
async function timedProbe(page: Page, i: number): Promise<{ ms: number; state: ProbeState }> {
  const t0 = Date.now();
  const tabId = await fireProbe(session, page, `${server.url}/d${i}.png`, `#d${i}`);
  const job = (await stateOf(tabId)).job;
  const state = await waitFor(`probe of d${i}`, () => stateOf(tabId), (s) => s.job === job && s.status !== 'running', 60_000);
  return { ms: Date.now() - t0, state };
}

beforeAll(async () => {
  if (!existsSync(join(DIST, 'manifest.json'))) throw new Error(`build the extension first (npm run build): no ${DIST}/manifest.json`);
  root = mkdtempSync(join(tmpdir(), 'probe-browse-'));
  const test = loadMnist('test');
  const cells: string[] = [];
  for (let i = 0; i < N; i++) {
    writeFileSync(join(root, `d${i}.png`), encodePng(renderDigit(test.images.subarray(i * 784, (i + 1) * 784), 3, LIGHT.ink, LIGHT.paper, 6)));
    labels.push(test.labels[i]);
    cells.push(`<img id="d${i}" src="d${i}.png" alt="digit ${i}">`);
  }
  const longTasks = `<script>window.__long=[];try{new PerformanceObserver((l)=>{for(const e of l.getEntries())window.__long.push(e.duration)}).observe({type:'longtask',buffered:true})}catch(e){}</script>`;
  const css = `<style>body{margin:0;font:14px sans-serif}.grid{display:grid;grid-template-columns:repeat(${PER_ROW},200px);grid-auto-rows:${ROW_PX}px;gap:0}img{width:96px;height:96px}</style>`;
  writeFileSync(join(root, 'digits.html'), `<!doctype html><meta charset="utf-8"><title>digits</title>${longTasks}${css}<body><div class="grid">${cells.join('')}</div><p style="height:400px">end</p></body>`);
  // A scrolling container (issue 6: badges must follow images that move without the document scrolling).
  writeFileSync(
    join(root, 'scroller.html'),
    `<!doctype html><meta charset="utf-8"><title>scroller</title><style>body{margin:0}#box{margin:40px;width:300px;height:200px;overflow:auto;border:1px solid #888}img{width:96px;height:96px;display:block}</style><body><div id="box"><img id="s0" src="d0.png" alt="digit 0"><div style="height:900px"></div><img id="s1" src="d1.png" alt="digit 1"></div></body>`,
  );
  server = await serveStatic(root);
  session = await launchExtension({ dist: DIST });
  control = await session.context.newPage();
  await control.goto(`chrome-extension://${session.extensionId}/src/popup/index.html?tab=999999`);
}, 120_000);

afterAll(async () => {
  await session?.close();
  await server?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('browse mode', () => {
  it('badges visible digits lazily, keeps user probes first and the page free of long tasks, and leaves nothing when switched off', async () => {
    const page = await session.context.newPage();
    await page.goto(`${server.url}/digits.html`);
    await page.waitForFunction(() => Array.from(document.images).every((i) => i.complete));
    const tabId = await tabIdOf(session, page);

    // Off by default: nothing appears.
    await new Promise((r) => setTimeout(r, 800));
    expect(await badges(page)).toEqual([]);

    // Switch on from the popup, as a user would.
    const popup = await openPopup(session, tabId);
    await popup.waitForSelector('[data-testid="browse"][data-enabled="false"]', { timeout: 20_000 });
    expect(await popup.textContent('[data-testid="browse"]')).toContain(server.url);
    await page.evaluate(() => {
      (window as unknown as { __long: number[] }).__long = [];
    });
    const tOn = Date.now();
    await popup.click('[data-testid="browse-switch"]');
    await popup.waitForSelector('[data-testid="browse"][data-enabled="true"]', { timeout: 10_000 });

    // Badges on the images in view (and the 64 px margin), with the right classes; none below the fold yet.
    const inView = await visibleImages(page);
    expect(inView.length).toBeGreaterThan(0);
    expect(inView.length).toBeLessThan(N);
    // The observer also asks about images within its 64 px margin (a row just below the fold): wait for those too,
    // or scrolling away before their turn in the throttle would rightly drop them (they left the margin unasked).
    const inMargin = await visibleImages(page, 64);
    expect(inMargin.length).toBeLessThan(N);
    const first = await waitFor('badges on the visible images', () => badges(page), (b) => inMargin.every((i) => b.some((x) => indexOf(x.src) === i)), 30_000);
    const firstWaveMs = Date.now() - tOn;
    const shown = first.map((b) => indexOf(b.src));
    expect(Math.max(...shown)).toBeLessThan(N - PER_ROW); // the last row is far below the viewport: not asked yet
    const right = first.filter((b) => b.label === labels[indexOf(b.src)]).length;
    expect(right).toBeGreaterThanOrEqual(first.length - 1);
    for (const b of first) {
      expect(b.confidence).toBeGreaterThan(0);
      expect(b.confidence).toBeLessThanOrEqual(1);
      expect(['true', 'false']).toContain(b.unsure); // mnist-lenet: the GPDNN gives its verdict
    }
    const baseline = (await waitFor('idle queue', diag, (d) => d.queued === 0)).numTensors;

    // Scroll: the rest get badges lazily; a user's probe fired in the middle of that burst is timed.
    await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
    const waitingAtProbe = N - (await badges(page)).length;
    const during = await timedProbe(page, N - 1);
    expect(waitingAtProbe).toBeGreaterThan(0); // badge work was still to do when the probe was fired
    const all = await waitFor('badges on every image after scrolling', () => badges(page), (b) => new Set(b.map((x) => indexOf(x.src))).size === N, 30_000);
    expect(all.filter((b) => b.label === labels[indexOf(b.src)]).length).toBeGreaterThanOrEqual(N - 1);
    expect(during.state.status).toBe('done');
    expect(during.state.result?.source.srcUrl).toBe(`${server.url}/d${N - 1}.png`);

    // The same probe with no badge work going on.
    await waitFor('idle queue', diag, (d) => d.queued === 0);
    const quiet = await timedProbe(page, N - 2);
    expect(quiet.state.status).toBe('done');
    // Not delayed behind the badge queue: within twice the quiet time plus half a second of jitter.
    expect(during.ms).toBeLessThan(quiet.ms * 2 + 500);

    // Clicking a badge probes that image (the context menu's path).
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.waitForTimeout(200);
    const before = (await stateOf(tabId)).job;
    await page.click('adv-probe-badge[data-src$="/d5.png"]');
    const clicked = await waitFor('probe from a badge click', () => stateOf(tabId), (s) => s.job > before && s.status !== 'running', 60_000);
    expect(clicked.status).toBe('done');
    expect(clicked.result?.source.srcUrl).toBe(`${server.url}/d5.png`);
    expect(clicked.result?.prediction.label).toBe(labels[5]);

    // No long task over 50 ms in the page while badges were computed.
    const long = await page.evaluate(() => (window as unknown as { __long: number[] }).__long);
    expect(long.filter((d) => d > 50)).toEqual([]);

    // Tensors back to the baseline taken after the first badges (models loaded), after every badge and probe.
    const d = await waitFor('idle queue', diag, (x) => x.queued === 0);
    expect(d.numTensors).toBe(baseline);

    // Switch off: every badge goes, and no observer is left (scrolling brings none back).
    await popup.click('[data-testid="browse-switch"]');
    await popup.waitForSelector('[data-testid="browse"][data-enabled="false"]', { timeout: 10_000 });
    await waitFor('badges removed', () => badges(page), (b) => b.length === 0, 10_000);
    await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
    await page.waitForTimeout(600);
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.waitForTimeout(900);
    expect(await badges(page)).toEqual([]);
    expect(await send('browse/get-site', { tabId })).toEqual({ origin: server.url, enabled: false });
    // Nothing was written for the page but the origin list (settings only; images stay in memory).
    const stored = await session.sw.evaluate(() => chrome.storage.local.get(null));
    expect(Object.keys(stored)).toEqual(['browse:origins']);
    expect((await diag()).numTensors).toBe(baseline);

    console.log(JSON.stringify({
      browse: { visibleAtStart: inView.length, firstWaveMs, badgesWaitingAtProbe: waitingAtProbe, probeDuringBadgesMs: during.ms, probeQuietMs: quiet.ms, longTasksMs: long, tensors: baseline },
    }));
    await popup.close();
    await page.close();
  }, 120_000);

  it('a badge follows its image when a scrolling container scrolls, and hides while the image is scrolled out of it', async () => {
    const page = await session.context.newPage();
    await page.goto(`${server.url}/scroller.html`);
    const tabId = await tabIdOf(session, page);
    await send('browse/set-site', { tabId, enabled: true });
    const where = (): Promise<{ dx: number; dy: number; shown: boolean } | null> =>
      page.evaluate(() => {
        const host = document.querySelector<HTMLElement>('adv-probe-badge[data-src$="/d0.png"]');
        if (!host) return null;
        const r = document.querySelector('#s0')!.getBoundingClientRect();
        const b = host.getBoundingClientRect();
        return { dx: b.left - r.left, dy: b.top - r.top, shown: getComputedStyle(host).display !== 'none' };
      });
    const start = await waitFor('badge of the image in the container', where, (w) => w !== null && w.shown);
    // Placed on the image's top-left corner (2 px in).
    expect(Math.abs(start!.dx - 2)).toBeLessThanOrEqual(1);
    expect(Math.abs(start!.dy - 2)).toBeLessThanOrEqual(1);
    const scroll = (top: number): Promise<void> => page.evaluate((t) => void (document.querySelector('#box')!.scrollTop = t), top);
    // Scrolled 60 px inside the box (the document does not move): the badge moves with the image.
    await scroll(60);
    const moved = await waitFor('badge follows the scroll', where, (w) => w !== null && w.shown && Math.abs(w.dy - 2) <= 1, 5_000);
    expect(Math.abs(moved!.dx - 2)).toBeLessThanOrEqual(1);
    expect(await page.evaluate(() => document.querySelector('#s0')!.getBoundingClientRect().top)).toBeLessThan(41 - 50);
    // Scrolled out of the box: hidden (not left floating over the page); back in: shown on the image again.
    await scroll(600);
    await waitFor('badge hidden while its image is clipped', where, (w) => w !== null && !w.shown, 5_000);
    await scroll(0);
    await waitFor('badge back on its image', where, (w) => w !== null && w.shown && Math.abs(w.dy - 2) <= 1, 5_000);
    await send('browse/set-site', { tabId, enabled: false });
    await waitFor('badges removed', () => badges(page), (b) => b.length === 0, 10_000);
    await page.close();
  }, 60_000);
});
