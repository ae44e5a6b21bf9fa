import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Page, Worker } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fireProbe, launchExtension, openPopup, readPopup, tabIdOf, withTimeout, type ExtensionSession } from '../../src/cli/browser';
import { loadMnist } from '../../src/cli/data';
import { DARK, LIGHT, encodePng, renderDigit } from '../../src/cli/png';
import { serveStatic, type StaticServer } from '../../src/cli/serve';
import { isErrorCode } from '../../src/core/errors';
import { nonFiniteField, RESTARTED_DURING_ATTACK, RESTARTED_DURING_PROBE } from '../../src/background/jobs-recovery';
import type { Reply, MessageType, Req, Res } from '../../src/protocol/messages';
import type { AttackChoice, DiagnosticsView, ProbeState } from '../../src/protocol/types';

/**
 * Reliability checklist (../shared/reliability-checklist.md), the jobs, numerics, GPU and load rows, against the
 * built extension in headless Chromium: fixture pages generated here and served on loopback only, the real
 * context-menu listener fired, the popup read as a user sees it, and 'probe/diagnostics' asked after every job
 * so that "tensors back to baseline" is measured, not assumed. The load figures (ms per image, tensors, bytes,
 * wasm heap) are printed for quoting.
 *
 * Rows 27 and 36, the behaviour chosen (src/background/jobs-recovery.ts): a job cannot outlive the worker that
 * holds its tensors, so when a new worker starts it closes every job it finds running or queued once, with a
 * CANCELLED "run it again" notice (a re-run keeps its previous result); nothing is re-run behind the user's back, so
 * no result arrives twice, and job numbers keep growing. Row 36 stops the worker while a CW runs and six probes from
 * six tabs wait behind it (a queue that a 50-image run in one tab never has: a newer probe of the same tab replaces
 * the queued older ones, see the burst in row 34).
 *
 * Rows of this group that cannot run here, and why:
 * - 23 (GPU device lost mid-attack): automated in Node with a real WebGPU device (Dawn on Mesa llvmpipe):
 *   tests/background/gpu-loss-webgpu.test.ts has engine.ts choose webgpu (forced), destroys the device
 *   (`GPUDevice.destroy()`, test hook destroyGpuDevice) at BIM step 3 of a ProbeService job and requires GPU_RESET
 *   within 15 s with no result stored, the fall-back to wasm with the models loaded again, tensors back to baseline,
 *   'probe/diagnostics' saying fallen-back with one loss, and the next job equal to a fresh wasm run;
 *   tests/background/gpu-loss-readback.test.ts destroys it under a pending read-back. Not here in Chromium: the
 *   background picks wasm on this machine (SwiftShader's WebGPU runs on the CPU and is skipped, see engine.ts), so
 *   there is no GPU device to lose, and the suite has no handle on the worker's GPUDevice to destroy.
 * - 24 (WEBGL_FORCE_F16_TEXTURES): refused. A WebGL backend computing in 16-bit floats is not used (engine.ts
 *   precisionProblem: CW-L2 and JSMA need 32-bit floats), so the next backend (wasm) runs the attacks and the reason
 *   is listed in the diagnostics. Unit-tested with the flag itself (tests/background/engine.test.ts); not here:
 *   webgl is never the chosen backend in this Chromium (SwiftShader's WebGL is skipped for wasm) and Node has no WebGL.
 * - 28 (multi-minute job with the popup closed): the worker keeps itself alive while work is queued or running
 *   (src/background/keep-alive.ts: an extension API call every 20 s, under Chrome's 30 s idle limit, stopped when
 *   idle; unit-tested in tests/background/keep-alive.test.ts and service.test.ts). Not here: a worker driven over
 *   the DevTools protocol, as every worker in this suite is, is not stopped for idleness, and a run of several
 *   minutes does not fit the suite's budget; row 30 runs a long CW with the popup closed and reopened, and row 27
 *   covers the worker being stopped under a job anyway.
 * - 29 (offscreen document closed): no offscreen document is used; long jobs run in the service worker, which
 *   is kept busy only while a job runs, and rows 27 and 36 cover the worker being stopped under a job.
 * - 33 (Firefox host permission revoked): in tests/e2e/firefox.test.ts: the site is granted and withdrawn through
 *   Firefox's own ExtensionPermissions (Marionette's chrome context), and the add-on's registered content script
 *   follows; the "permission request shown" part (NO_ACCESS with the grant button after a withdrawal) runs in
 *   Chromium, tests/e2e/permissions.test.ts, on the same code.
 * - 32 (extension reloaded mid-job): in tests/e2e/reliability-page.test.ts (reloaded through the DevTools
 *   protocol's Extensions.loadUnpacked, as chrome://extensions' Reload button does).
 */
const DIST = resolve(process.env.PROBE_DIST ?? 'dist');
const N_LOAD = 50;
let server: StaticServer;
let session: ExtensionSession;
let control: Page;
let root: string;
const labels: number[] = [];
/** tf.memory().numTensors when idle with the default model loaded (taken after the first probe). */
let baseline = -1;

/** The live service worker (a new one after a restart). */
function currentSw(): Worker {
  const all = session.context.serviceWorkers().filter((w) => w.url().startsWith(`chrome-extension://${session.extensionId}/`));
  const sw = all[all.length - 1];
  if (!sw) throw new Error('no service worker');
  return sw;
}

/** The session with today's worker (fireProbe evaluates in it). */
function live(): ExtensionSession {
  return { ...session, sw: currentSw() };
}

/** Send a typed message from an extension page, as the popup does. */
async function send<T extends MessageType>(type: T, payload: Req<T>, page: Page = control, ms = 60_000): Promise<Reply<T>> {
  return withTimeout(page.evaluate(([t, p]) => chrome.runtime.sendMessage({ type: t, payload: p }), [type, payload] as const), ms, type) as Promise<Reply<T>>;
}

async function ok<T extends MessageType>(type: T, payload: Req<T>): Promise<Res<T>> {
  const r = await send(type, payload);
  if (!r.ok) throw new Error(`${type}: ${r.error.code} ${r.error.message}`);
  return r.data;
}

const diag = (): Promise<DiagnosticsView> => ok('probe/diagnostics', {});
const stateOf = (tabId: number): Promise<ProbeState> => ok('probe/get-state', { tabId });

/** Poll the tab's state until `pred` holds. */
async function waitState(tabId: number, pred: (s: ProbeState) => boolean, ms = 60_000): Promise<ProbeState> {
  const deadline = Date.now() + ms;
  for (;;) {
    const s = await stateOf(tabId);
    if (pred(s)) return s;
    if (Date.now() > deadline) throw new Error(`tab ${tabId}: state never matched (last: ${s.status} job ${s.job} ${s.stage ?? ''} ${s.error?.code ?? ''})`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Poll diagnostics until the queue is empty; returns the idle snapshot. */
async function idle(ms = 60_000): Promise<DiagnosticsView> {
  const deadline = Date.now() + ms;
  for (;;) {
    const d = await diag();
    if (d.queued === 0) return d;
    if (Date.now() > deadline) throw new Error(`queue never drained: ${JSON.stringify(d)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Stop the service worker the way Chrome's DevTools does (CDP Target.closeTarget on the worker target). */
async function killWorker(): Promise<void> {
  const cdp = await session.context.newCDPSession(control);
  try {
    const { targetInfos } = (await cdp.send('Target.getTargets')) as { targetInfos: { targetId: string; type: string; url: string }[] };
    const workers = targetInfos.filter((t) => t.type === 'service_worker' && t.url.includes(session.extensionId));
    expect(workers.length).toBeGreaterThan(0);
    for (const w of workers) await cdp.send('Target.closeTarget', { targetId: w.targetId });
  } finally {
    await cdp.detach().catch(() => undefined);
  }
}

async function openPage(path: string): Promise<Page> {
  const page = await session.context.newPage();
  await page.goto(`${server.url}/${path}`);
  await page.waitForFunction(() => Array.from(document.images).every((i) => i.complete));
  return page;
}

/** Probe an image through the real context menu and wait for that job's end. */
async function probe(page: Page, file: string, id: string): Promise<ProbeState> {
  const tabId = await fireProbe(live(), page, `${server.url}/${file}`, `#${id}`);
  const job = (await stateOf(tabId)).job;
  return waitState(tabId, (s) => s.job === job && s.status !== 'running');
}

/** Tabs with a long CW started by a test: cancelled after each test, so a failing test never blocks the queue for the next. */
const longJobs = new Set<number>();

const LONG_CW = { attack: 'cw-l2', params: { maxIterations: 10000, binarySteps: 20, abortEarly: false }, target: null } as const;

/** Start a long CW-L2 on the tab's image without waiting for its answer; resolves when its first progress is reported. */
async function startLongCw(tabId: number): Promise<ProbeState> {
  longJobs.add(tabId);
  await control.evaluate((p) => {
    void chrome.runtime.sendMessage({ type: 'probe/run-attack', payload: p }).catch(() => undefined);
  }, { tabId, modelId: 'mnist-lenet', ...LONG_CW });
  return waitState(tabId, (s) => s.status === 'running' && (s.progress?.done ?? 0) > 0);
}

beforeAll(async () => {
  if (!existsSync(join(DIST, 'manifest.json'))) throw new Error(`build the extension first (npm run build): no ${DIST}/manifest.json`);
  root = mkdtempSync(join(tmpdir(), 'probe-reliab-'));
  const test = loadMnist('test');
  const imgs: string[] = [];
  for (let i = 0; i < N_LOAD; i++) {
    const { ink, paper } = i % 2 === 0 ? LIGHT : DARK;
    writeFileSync(join(root, `d${i}.png`), encodePng(renderDigit(test.images.subarray(i * 784, (i + 1) * 784), 3, ink, paper, 6)));
    labels.push(test.labels[i]);
    imgs.push(`<img id="d${i}" src="d${i}.png" alt="digit ${i}">`);
  }
  // Row 25: an all-black image, an all-white (saturated) one and a saturated colour, 96×96.
  const flat = (rgb: readonly [number, number, number]): Buffer => {
    const data = new Uint8ClampedArray(96 * 96 * 4);
    for (let p = 0; p < 96 * 96; p++) data.set([rgb[0], rgb[1], rgb[2], 255], p * 4);
    return encodePng({ width: 96, height: 96, data });
  };
  writeFileSync(join(root, 'black.png'), flat([0, 0, 0]));
  writeFileSync(join(root, 'white.png'), flat([255, 255, 255]));
  writeFileSync(join(root, 'red.png'), flat([255, 0, 0]));
  // Long tasks on the page while the extension works on it (checklist row 34: < 50 ms).
  const longTasks = `<script>window.__long=[];try{new PerformanceObserver((l)=>{for(const e of l.getEntries())window.__long.push(e.duration)}).observe({type:'longtask',buffered:true})}catch(e){}</script>`;
  const page = (title: string, body: string): string => `<!doctype html><meta charset="utf-8"><title>${title}</title>${longTasks}<body>${body}</body>`;
  writeFileSync(join(root, 'load.html'), page('load', imgs.join('\n')));
  writeFileSync(join(root, 'one.html'), page('one', imgs.slice(0, 8).join('\n')));
  writeFileSync(join(root, 'nan.html'), page('nan', '<img id="black" src="black.png" alt="black"><img id="white" src="white.png" alt="white"><img id="red" src="red.png" alt="red"><img id="d0" src="d0.png" alt="d0">'));
  server = await serveStatic(root);
  session = await launchExtension({ dist: DIST });
  control = await session.context.newPage();
  // An extension page to send messages from (the popup for a tab that does not exist: it shows "idle").
  await control.goto(`chrome-extension://${session.extensionId}/src/popup/index.html?tab=999999`);
}, 120_000);

afterEach(async () => {
  for (const tabId of longJobs) await send('probe/cancel', { tabId }).catch(() => undefined);
  longJobs.clear();
});

afterAll(async () => {
  await session?.close();
  await server?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('reliability checklist: jobs, numerics, GPU and load', () => {
  it('row 34: 50 images probed in a row: all finish, tensor count flat, memory plateaus; a burst queues and drains', async () => {
    const page = await openPage('load.html');
    // Warm up: backend and model load; the baseline is the idle tensor count with the model's weights.
    const first = await probe(page, 'd0.png', 'd0');
    expect(first.status).toBe('done');
    // Long tasks from here on happen while the extension works on the page.
    await page.evaluate(() => {
      (window as unknown as { __long: number[] }).__long.length = 0;
    });
    const d0 = await idle();
    baseline = d0.numTensors;
    expect(baseline).toBeGreaterThan(0);
    const rows: { ms: number; tensors: number; bytes: number; heap: number | null; job: number }[] = [];
    const states: ProbeState[] = [];
    for (let i = 0; i < N_LOAD; i++) {
      const t0 = performance.now();
      const st = await probe(page, `d${i}.png`, `d${i}`);
      const ms = performance.now() - t0;
      const d = await diag();
      states.push(st);
      rows.push({ ms, tensors: d.numTensors, bytes: d.numBytes, heap: d.backendBytes, job: st.job });
    }
    for (const [i, st] of states.entries()) {
      expect(st.status, `image ${i}: ${st.error?.message}`).toBe('done');
      expect(st.result?.source.srcUrl).toBe(`${server.url}/d${i}.png`);
      expect(nonFiniteField(st.result!)).toBeNull();
    }
    // Job numbers strictly increase: nothing ran twice.
    for (let i = 1; i < rows.length; i++) expect(rows[i].job).toBeGreaterThan(rows[i - 1].job);
    // Tensor count flat: back to the baseline after every single job.
    expect(rows.map((r) => r.tensors)).toEqual(rows.map(() => baseline));
    expect(new Set(rows.map((r) => r.bytes)).size).toBe(1);
    // Memory plateaus: the backend heap after image 50 is what it was after image 10.
    const heap10 = rows[9].heap;
    const heap50 = rows[N_LOAD - 1].heap;
    if (heap10 !== null && heap50 !== null) expect(heap50).toBeLessThanOrEqual(heap10 * 1.05);
    const ms = rows.map((r) => r.ms).sort((a, b) => a - b);
    const correct = states.filter((s, i) => s.result?.prediction.label === labels[i]).length;
    const longTasks = await page.evaluate(() => (window as unknown as { __long: number[] }).__long);
    console.log(
      `row 34: ${N_LOAD} images on ${d0.backend}: median ${ms[N_LOAD >> 1].toFixed(0)} ms per image (min ${ms[0].toFixed(0)}, max ${ms[N_LOAD - 1].toFixed(0)}, ` +
        `mean ${(ms.reduce((a, b) => a + b, 0) / N_LOAD).toFixed(0)}; right-click to result, measured by the test), ` +
        `tensors ${rows[0].tensors}→${rows[N_LOAD - 1].tensors} (baseline ${baseline}), tensor bytes ${rows[0].bytes}→${rows[N_LOAD - 1].bytes}, ` +
        `backend heap ${heap10 ?? 'n/a'} B after image 10 → ${heap50 ?? 'n/a'} B after image 50, clean correct ${correct}/${N_LOAD}, ` +
        `page long tasks ${longTasks.length} (max ${longTasks.length ? Math.max(...longTasks).toFixed(0) : 0} ms)`,
    );
    // A burst: 10 clicks of the real menu listener in one go. Each queues; the tab ends on the last image; the
    // older ones, whose results would be replaced unseen, are merged into it.
    const before = await diag();
    const tabId = await tabIdOf(live(), page);
    const srcs = Array.from({ length: 10 }, (_, k) => `${server.url}/d${10 + k}.png`);
    await withTimeout(
      currentSw().evaluate(
        async ({ srcs, tabId }: { srcs: string[]; tabId: number }) => {
          const tab = await chrome.tabs.get(tabId);
          const ev = chrome.contextMenus.onClicked as unknown as { dispatch(i: unknown, t: unknown): void };
          for (const src of srcs) ev.dispatch({ menuItemId: 'probe-image', srcUrl: src, pageUrl: tab.url ?? '', frameId: 0, editable: false, mediaType: 'image' }, tab);
        },
        { srcs, tabId },
      ),
      10_000,
      'burst of menu clicks',
    );
    await waitState(tabId, (s) => s.job >= before.lastJob + 10);
    const after = await idle();
    const final = await stateOf(tabId);
    expect(final.status).toBe('done');
    expect(final.result?.source.srcUrl).toBe(`${server.url}/d19.png`);
    expect(final.job).toBe(after.lastJob);
    expect(after.jobsDone - before.jobsDone).toBe(10);
    expect(after.jobsMerged - before.jobsMerged).toBeGreaterThan(0);
    expect(after.numTensors).toBe(baseline);
    console.log(`row 34 burst: 10 menu clicks at once in one tab → ${after.jobsMerged - before.jobsMerged} merged into the newest, ${10 - (after.jobsMerged - before.jobsMerged)} run`);
    const popup = await openPopup(live(), tabId);
    const shown = await readPopup(popup);
    expect(shown.status).toBe('done');
    expect(shown.prediction).toBe(final.result?.prediction.className);
    await popup.close();
    await page.close();
  });

  it('row 35: two tabs, the same image: FIFO order, each result to its own tab', async () => {
    const a = await openPage('one.html?tab=a');
    const b = await openPage('one.html?tab=b');
    const ta = await fireProbe(live(), a, `${server.url}/d7.png`, '#d7');
    const tb = await fireProbe(live(), b, `${server.url}/d7.png`, '#d7');
    expect(ta).not.toBe(tb);
    const [sa, sb] = await Promise.all([waitState(ta, (s) => s.status !== 'running'), waitState(tb, (s) => s.status !== 'running')]);
    expect(sa.status).toBe('done');
    expect(sb.status).toBe('done');
    expect(sa.job).toBeLessThan(sb.job);
    expect(sa.result!.createdAt).toBeLessThanOrEqual(sb.result!.createdAt);
    expect(sa.result?.source.pageUrl).toBe(a.url());
    expect(sb.result?.source.pageUrl).toBe(b.url());
    expect(sa.result?.prediction.label).toBe(sb.result?.prediction.label);
    for (const [tab, st] of [[ta, sa], [tb, sb]] as const) {
      const popup = await openPopup(live(), tab);
      expect((await readPopup(popup)).status).toBe('done');
      expect(Number(await popup.getAttribute('[data-testid="popup"]', 'data-job'))).toBe(st.job);
      await popup.close();
    }
    expect((await idle()).numTensors).toBe(baseline);
    await a.close();
    await b.close();
  });

  it('row 30: popup reopened mid-job shows the progress; cancel stops the CW within one step; tensors freed', async () => {
    const page = await openPage('one.html?row=30');
    const first = await probe(page, 'd3.png', 'd3');
    expect(first.status).toBe('done');
    const s1 = await startLongCw(first.tabId!);
    // The popup opened mid-job shows the running job's progress.
    const popup1 = await openPopup(live(), first.tabId!);
    await popup1.waitForSelector('[data-testid="progress"]', { timeout: 30_000 });
    await popup1.close();
    // The popup is closed; the job goes on.
    await new Promise((r) => setTimeout(r, 600));
    const s2 = await stateOf(first.tabId!);
    expect(s2.status).toBe('running');
    expect(s2.progress!.done).toBeGreaterThan(s1.progress!.done);
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, 400));
    const s3 = await stateOf(first.tabId!);
    const msPerStep = (performance.now() - t0) / Math.max(1, s3.progress!.done - s2.progress!.done);
    // Reopened: the bar comes back at least where it was.
    const popup2 = await openPopup(live(), first.tabId!);
    await popup2.waitForSelector('[data-testid="progress"]', { timeout: 30_000 });
    const shownDone = Number(await popup2.getAttribute('[data-testid="progress"]', 'aria-valuenow'));
    expect(shownDone).toBeGreaterThanOrEqual(s2.progress!.done);
    expect(Number(await popup2.getAttribute('[data-testid="progress"]', 'aria-valuemax'))).toBe(s3.progress!.total);
    // Cancel from the popup, as a user does.
    const c0 = performance.now();
    await popup2.click('[data-testid="cancel"]');
    const end = await waitState(first.tabId!, (s) => s.status !== 'running', 30_000);
    const cancelMs = performance.now() - c0;
    expect(end.status).toBe('done');
    expect(end.error?.code).toBe('CANCELLED');
    expect(end.result?.id).toBe(first.result?.id);
    await popup2.waitForSelector('[data-testid="cancelled"]', { timeout: 30_000 });
    await popup2.close();
    // The same, timed without the popup: cancel sent from an extension page, state polled every 5 ms in that page.
    await startLongCw(first.tabId!);
    const timed = (await withTimeout(
      control.evaluate(async (tabId) => {
        const t0 = performance.now();
        await chrome.runtime.sendMessage({ type: 'probe/cancel', payload: { tabId } });
        const acked = performance.now() - t0;
        for (;;) {
          const r = (await chrome.runtime.sendMessage({ type: 'probe/get-state', payload: { tabId } })) as { ok: boolean; data: { status: string } };
          if (r.ok && r.data.status !== 'running') return { acked, stopped: performance.now() - t0 };
          await new Promise((res) => setTimeout(res, 5));
        }
      }, first.tabId!),
      30_000,
      'timed cancel',
    )) as { acked: number; stopped: number };
    const d = await idle();
    expect(d.numTensors).toBe(baseline);
    // "Within one step": the cancel is seen by the attack loop at its next iteration; what the test can measure
    // from outside is click → state no longer running, which includes the popup's message and the 25 ms poll.
    console.log(
      `row 30: CW step ${msPerStep.toFixed(2)} ms (${s3.progress!.total} steps planned); popup Cancel click → state stopped in ${cancelMs.toFixed(0)} ms; ` +
        `cancel message → acknowledged ${timed.acked.toFixed(0)} ms, job stopped ${timed.stopped.toFixed(0)} ms (≈ ${(timed.stopped / msPerStep).toFixed(1)} step times, message round trips included); tensors ${d.numTensors} (baseline ${baseline})`,
    );
    expect(cancelMs).toBeLessThan(2_000);
    // The cancel message gets through within a few of the attack's event-loop yields (ATTACK_YIELD_MS; it waited
    // ~300 ms with the attacks' default 30 ms), and once it is acknowledged the job ends at its next step.
    expect(timed.acked).toBeLessThan(250);
    expect(timed.stopped - timed.acked).toBeLessThan(100);
    await page.close();
  });

  it('row 25: all-black and saturated images, extreme CW c and learning rate: no NaN shown, a message where it fails', async () => {
    const page = await openPage('nan.html');
    const seen: string[] = [];
    const check = async (tabId: number, st: ProbeState, what: string): Promise<void> => {
      if (st.status === 'done') {
        expect(nonFiniteField(st.result!), what).toBeNull();
      } else {
        expect(st.status, what).toBe('error');
        expect(isErrorCode(st.error?.code), what).toBe(true);
        expect(st.error!.message.length, what).toBeGreaterThan(10);
      }
      const popup = await openPopup(live(), tabId);
      const r = await readPopup(popup);
      const text = (await popup.textContent('[data-testid="popup"]')) ?? '';
      expect(text, what).not.toMatch(/NaN|Infinity/);
      if (st.status === 'error') expect(r.errorCode, what).toBe(st.error!.code);
      seen.push(`${what}: ${st.status === 'done' ? `done (${st.result!.prediction.className} → ${st.result!.attack.prediction.className})` : `${st.error!.code} "${st.error!.message}"`}`);
      await popup.close();
    };
    for (const id of ['black', 'white', 'red']) {
      const st = await probe(page, `${id}.png`, id);
      await check(st.tabId!, st, id);
    }
    const digit = await probe(page, 'd0.png', 'd0');
    expect(digit.status).toBe('done');
    const tabId = digit.tabId!;
    const extreme: AttackChoice[] = [
      { attack: 'cw-l2', params: { initialConst: 1e6, learningRate: 1, maxIterations: 60, binarySteps: 2 }, target: null },
      { attack: 'cw-l2', params: { initialConst: 1e-6, learningRate: 1e-5, maxIterations: 30, binarySteps: 1 }, target: null },
      { attack: 'lbfgs', params: { initialConst: 1e6, searchSteps: 2, maxIterations: 20 }, target: (digit.result!.prediction.label + 1) % 10 },
      { attack: 'fgsm', params: { eps: 1e6 }, target: null },
    ];
    for (const choice of extreme) {
      const r = await send('probe/run-attack', { tabId, modelId: 'mnist-lenet', ...choice }, control, 120_000);
      if (!r.ok) {
        // Rejected by the validator (a parameter outside its range): a clear coded error, no job.
        expect(r.error.code).toBe('BAD_MESSAGE');
        seen.push(`${choice.attack} ${JSON.stringify(choice.params)}: refused ${r.error.code} "${r.error.message}"`);
        continue;
      }
      await check(tabId, r.data, `${choice.attack} ${JSON.stringify(choice.params)}`);
    }
    expect((await idle()).numTensors).toBe(baseline);
    console.log(`row 25:\n  ${seen.join('\n  ')}`);
    await page.close();
  });

  it('row 19: page postMessage and a content-script sender sending popup-only commands are rejected', async () => {
    const page = await openPage('one.html?row=19');
    const st = await probe(page, 'd1.png', 'd1');
    const tabId = st.tabId!;
    const before = await diag();
    // (a) The page posts extension-shaped messages to itself: nothing listens to them.
    await page.evaluate((tab) => {
      for (let i = 0; i < 20; i++) {
        window.postMessage({ type: 'probe/run-attack', payload: { tabId: tab, modelId: 'mnist-lenet', attack: 'cw-l2', params: {}, target: null } }, '*');
        window.postMessage({ type: 'probe/cancel', payload: { tabId: tab } }, '*');
      }
    }, tabId);
    await new Promise((r) => setTimeout(r, 500));
    const after = await diag();
    expect(after.lastJob).toBe(before.lastJob);
    expect(after.jobsDone).toBe(before.jobsDone);
    expect((await stateOf(tabId)).job).toBe(st.job);
    // (b) The content script's own world (a real content-script sender: sender.tab set, sender.url the page)
    // sends popup-only commands through chrome.runtime.sendMessage: every one is refused with FORBIDDEN_SENDER.
    const cdp = await session.context.newCDPSession(page);
    const worlds: { id: number; origin: string; name: string; auxData?: { type?: string; isDefault?: boolean } }[] = [];
    cdp.on('Runtime.executionContextCreated', (e: { context: (typeof worlds)[number] }) => worlds.push(e.context));
    await cdp.send('Runtime.enable');
    await new Promise((r) => setTimeout(r, 300));
    const world = worlds.find((w) => w.auxData?.type === 'isolated' && w.origin.includes(session.extensionId));
    expect(world, JSON.stringify(worlds.map((w) => [w.name, w.origin, w.auxData?.type]))).toBeDefined();
    const forged: [MessageType, unknown][] = [
      ['probe/get-state', { tabId }],
      ['probe/run-attack', { tabId, modelId: 'mnist-lenet', attack: 'fgsm', params: { eps: 0.3 }, target: null }],
      ['probe/cancel', { tabId }],
      ['probe/diagnostics', {}],
      ['probe/list-models', {}],
      ['probe/sweep', { tabId, maxEps: 0.5, points: 41 }],
    ];
    for (const [type, payload] of forged) {
      const res = (await cdp.send('Runtime.evaluate', {
        expression: `chrome.runtime.sendMessage(${JSON.stringify({ type, payload })})`,
        contextId: world!.id,
        awaitPromise: true,
        returnByValue: true,
      })) as { result: { value?: { ok?: boolean; error?: { code?: string } } } };
      expect(res.result.value, type).toMatchObject({ ok: false, error: { code: 'FORBIDDEN_SENDER' } });
    }
    await cdp.detach();
    const end = await diag();
    expect(end.lastJob).toBe(before.lastJob);
    expect(end.numTensors).toBe(baseline);
    console.log(`row 19: ${forged.length} popup-only commands from the content-script world refused with FORBIDDEN_SENDER; 40 page postMessages started no job`);
    await page.close();
  });

  it('row 27: service worker stopped mid-CW: no stuck spinner, no duplicate result, a clean "run it again"', async () => {
    const page = await openPage('one.html?row=27');
    const first = await probe(page, 'd4.png', 'd4');
    expect(first.status).toBe('done');
    const tabId = first.tabId!;
    const startedAt = (await diag()).startedAt;
    const running = await startLongCw(tabId);
    // The popup, opened mid-job, shows the running CW.
    const popup = await openPopup(live(), tabId);
    await popup.waitForSelector('[data-testid="progress"]', { timeout: 30_000 });
    await killWorker();
    // The open popup keeps polling. A poll in flight when the worker stopped fails: the popup then shows a coded
    // error with Retry (measured: "Could not reach the extension background … Receiving end does not exist");
    // otherwise its next poll starts a new worker, which closes the interrupted job once. Either way no spinner is left.
    await popup.waitForSelector('[data-testid="popup"][data-status="done"] [data-testid="cancelled"], [data-testid="popup"][data-status="error"] [data-testid="retry"]', { timeout: 30_000 });
    let viaRetry = false;
    if ((await popup.getAttribute('[data-testid="popup"]', 'data-status')) === 'error') {
      viaRetry = true;
      expect(await popup.getAttribute('[data-testid="error"]', 'data-code')).toMatch(/^[A-Z_]+$/);
      await popup.click('[data-testid="retry"]');
      await popup.waitForSelector('[data-testid="popup"][data-status="done"] [data-testid="cancelled"]', { timeout: 30_000 });
    }
    expect(await popup.$('[data-testid="job"]')).toBeNull();
    const d = await diag();
    expect(d.startedAt).toBeGreaterThan(startedAt);
    const st = await stateOf(tabId);
    expect(st.status).toBe('done');
    expect(st.job).toBe(running.job);
    expect(st.result?.id).toBe(first.result?.id);
    expect(st.error).toEqual({ code: 'CANCELLED', message: RESTARTED_DURING_ATTACK });
    // Nothing finishes later behind the user's back (no duplicate result).
    await new Promise((r) => setTimeout(r, 2_000));
    const later = await stateOf(tabId);
    expect(later.job).toBe(running.job);
    expect(later.result?.id).toBe(first.result?.id);
    // "Resume": running it again works on the new worker, with a newer job number.
    const again = await send('probe/run-attack', { tabId, modelId: 'mnist-lenet', attack: 'cw-l2', params: { maxIterations: 50, binarySteps: 2 }, target: null }, control, 120_000);
    expect(again.ok).toBe(true);
    if (again.ok) {
      expect(again.data.status).toBe('done');
      expect(again.data.job).toBe(running.job + 1);
      expect(nonFiniteField(again.data.result!)).toBeNull();
    }
    const d2 = await idle();
    baseline = d2.numTensors;
    console.log(`row 27: worker stopped during a CW of ${running.progress?.total} steps (past step ${running.progress?.done}); popup showed ${viaRetry ? 'a coded error with Retry, then after Retry ' : ''}"cancelled" with the previous result; re-run → job ${running.job + 1}; tensors on the new worker ${d2.numTensors}`);
    await popup.close();
    await page.close();
  });

  it('row 36: worker stopped with a queue of probes from 6 tabs behind a CW: every job finished or reported, none lost or duplicated', async () => {
    const blocker = await openPage('one.html?row=36');
    const first = await probe(blocker, 'd5.png', 'd5');
    await startLongCw(first.tabId!);
    const pages: Page[] = [];
    const tabs: number[] = [];
    for (let i = 0; i < 6; i++) {
      const p = await openPage(`load.html?row=36&i=${i}`);
      pages.push(p);
      tabs.push(await fireProbe(live(), p, `${server.url}/d${25 + i}.png`, `#d${25 + i}`));
    }
    const queued = await diag();
    expect(queued.queued).toBe(7);
    await killWorker();
    const states = await Promise.all(tabs.map((t) => waitState(t, (s) => s.status !== 'running', 30_000)));
    const jobs = states.map((s) => s.job);
    expect(new Set(jobs).size).toBe(jobs.length);
    for (const s of states) {
      expect(s.status).toBe('error');
      expect(s.error).toEqual({ code: 'CANCELLED', message: RESTARTED_DURING_PROBE });
    }
    const blocked = await stateOf(first.tabId!);
    expect(blocked.status).toBe('done');
    expect(blocked.error?.message).toBe(RESTARTED_DURING_ATTACK);
    // Probed again, every one finishes on the new worker with its own image, with new job numbers.
    const again: ProbeState[] = [];
    for (let i = 0; i < 6; i++) again.push(await probe(pages[i], `d${25 + i}.png`, `d${25 + i}`));
    for (const [i, s] of again.entries()) {
      expect(s.status).toBe('done');
      expect(s.result?.source.srcUrl).toBe(`${server.url}/d${25 + i}.png`);
      expect(s.job).toBeGreaterThan(Math.max(...jobs));
    }
    const d = await idle();
    expect(d.numTensors).toBe(baseline);
    console.log(`row 36: ${tabs.length} queued probes + 1 running CW when the worker stopped → all ${tabs.length + 1} reported once ("run it again"), 0 stuck, 0 duplicated; re-probed ${again.length}/6 done; tensors ${d.numTensors}`);
    for (const p of [blocker, ...pages]) await p.close();
  });
});

describe('reliability checklist: fresh browsers', () => {
  it('row 22: --disable-gpu: the background falls back and the popup shows the backend it uses', async () => {
    const s = await launchExtension({ dist: DIST, extraArgs: ['--disable-gpu'] });
    const srv = server;
    try {
      const page = await s.context.newPage();
      await page.goto(`${srv.url}/one.html?row=22`);
      await page.waitForFunction(() => Array.from(document.images).every((i) => i.complete));
      const tabId = await fireProbe(s, page, `${srv.url}/d2.png`, '#d2');
      const popup = await openPopup(s, tabId);
      const r = await readPopup(popup);
      expect(r.status).toBe('done');
      const d = (await withTimeout(popup.evaluate(() => chrome.runtime.sendMessage({ type: 'probe/diagnostics', payload: {} })), 60_000, 'diagnostics')) as Reply<'probe/diagnostics'>;
      expect(d.ok).toBe(true);
      if (d.ok) {
        expect(['wasm', 'cpu']).toContain(d.data.backend);
        expect(r.backend).toBe(d.data.backend);
      }
      console.log(`row 22: --disable-gpu → backend ${r.backend} shown in the popup`);
    } finally {
      await s.close();
    }
  });

  it('row 26: corrupt model weights: one "model failed to load" error per request, no retry storm, nothing leaked', async () => {
    const broken = mkdtempSync(join(tmpdir(), 'probe-broken-dist-'));
    let s: ExtensionSession | null = null;
    try {
      cpSync(DIST, broken, { recursive: true });
      const folder = join(broken, 'models', 'mnist-lenet');
      const weights = readdirSync(folder).filter((f) => f.endsWith('.bin'));
      expect(weights.length).toBeGreaterThan(0);
      for (const f of weights) truncateSync(join(folder, f), Math.floor(statSync(join(folder, f)).size / 2));
      s = await launchExtension({ dist: broken });
      // Count the worker's fetches of the model's files.
      await s.sw.evaluate(() => {
        const g = globalThis as unknown as { __modelFetches: string[]; fetch: typeof fetch };
        g.__modelFetches = [];
        const orig = g.fetch.bind(globalThis);
        g.fetch = (input: RequestInfo | URL, init?: RequestInit) => {
          const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
          // The model's graph and weights (the popup's model list also reads card.json: not a load).
          if (url.includes('/models/mnist-lenet/') && !url.endsWith('card.json')) g.__modelFetches.push(url);
          return orig(input, init);
        };
      });
      const fetches = (): Promise<string[]> => s!.sw.evaluate(() => (globalThis as unknown as { __modelFetches: string[] }).__modelFetches);
      const page = await s.context.newPage();
      await page.goto(`${server.url}/one.html?row=26`);
      await page.waitForFunction(() => Array.from(document.images).every((i) => i.complete));
      const tabId = await fireProbe(s, page, `${server.url}/d2.png`, '#d2');
      const popup = await openPopup(s, tabId);
      const r = await readPopup(popup);
      expect(r.status).toBe('error');
      expect(r.errorCode).toBe('MODEL_LOAD_FAILED');
      expect(await popup.$$('[data-testid="error"]')).toHaveLength(1);
      const once = await fetches();
      await new Promise((res) => setTimeout(res, 2_000));
      const quiet = await fetches();
      expect(quiet).toEqual(once);
      const perFile = new Map<string, number>();
      for (const u of once) perFile.set(u, (perFile.get(u) ?? 0) + 1);
      expect(Math.max(...perFile.values())).toBe(1);
      // A second request tries once more (a failed load is not cached), still one fetch per file.
      await fireProbe(s, page, `${server.url}/d3.png`, '#d3');
      const st = (await withTimeout(
        popup.evaluate(async (t) => {
          for (;;) {
            const r = (await chrome.runtime.sendMessage({ type: 'probe/get-state', payload: { tabId: t } })) as { ok: boolean; data: { status: string; error: { code: string } | null } };
            if (r.ok && r.data.status !== 'running') return r.data;
            await new Promise((res) => setTimeout(res, 50));
          }
        }, tabId),
        60_000,
        'second probe',
      )) as { status: string; error: { code: string } | null };
      expect(st.error?.code).toBe('MODEL_LOAD_FAILED');
      const twice = await fetches();
      expect(twice.length).toBe(2 * once.length);
      const d = (await withTimeout(popup.evaluate(() => chrome.runtime.sendMessage({ type: 'probe/diagnostics', payload: {} })), 60_000, 'diagnostics')) as Reply<'probe/diagnostics'>;
      expect(d.ok && d.data.numTensors).toBe(0);
      console.log(`row 26: truncated weights → ${r.errorCode} "${r.errorText}"; ${once.length} model fetches per request (${[...perFile.keys()].map((u) => u.split('/').pop()).join(', ')}), none in the 2 s after; tensors 0`);
    } finally {
      await s?.close();
      rmSync(broken, { recursive: true, force: true });
    }
  });
});
