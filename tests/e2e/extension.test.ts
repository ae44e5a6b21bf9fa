import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fireProbe, launchExtension, openPopup, POPUP_PATH, readPopup, withTimeout, type ExtensionSession, type PopupReading } from '../../src/cli/browser';
import { benchRequest } from '../../bench/workloads';
import { loadMnist } from '../../src/cli/data';
import { DARK, LIGHT, encodePng, renderDigit } from '../../src/cli/png';
import { serveStatic, type StaticServer } from '../../src/cli/serve';

/**
 * The whole slice in real Chromium: built extension, a page of 20 real MNIST test digits served
 * on 127.0.0.1, the real context-menu listener fired for each, the popup read as a user sees it.
 */
const N = 20;
const FASHION = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
const ARTEFACTS = 'test-results/e2e';
let server: StaticServer;
/** Same files on a second origin (localhost vs 127.0.0.1), no CORS headers. */
let other: StaticServer;
let session: ExtensionSession;
let root: string;
const labels: number[] = [];
const readings: PopupReading[] = [];

beforeAll(async () => {
  if (!existsSync('dist/manifest.json')) throw new Error('build the extension first (npm run build)');
  mkdirSync(ARTEFACTS, { recursive: true });
  root = mkdtempSync(join(tmpdir(), 'probe-e2e-'));
  const test = loadMnist('test');
  const figs: string[] = [];
  for (let i = 0; i < N; i++) {
    const { ink, paper } = i % 2 === 0 ? LIGHT : DARK;
    writeFileSync(join(root, `d${i}.png`), encodePng(renderDigit(test.images.subarray(i * 784, (i + 1) * 784), 3, ink, paper, 6)));
    labels.push(test.labels[i]);
    figs.push(`<img id="d${i}" src="d${i}.png" alt="digit ${i}">`);
  }
  figs.push('<img id="broken" src="missing-image.png" alt="broken" width="50" height="50">');
  writeFileSync(join(root, 'index.html'), `<!doctype html><meta charset="utf-8"><title>digits</title><body>${figs.join('\n')}</body>`);
  server = await serveStatic(root);
  other = await serveStatic(root, 'localhost');
  writeFileSync(
    join(root, 'cross.html'),
    `<!doctype html><meta charset="utf-8"><title>cross</title><body><img id="x" src="${other.url}/d0.png" alt="cross-origin digit"></body>`,
  );
  session = await launchExtension();
});

afterAll(async () => {
  await session?.close();
  await server?.close();
  await other?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

/** Waits until the popup shows a finished job newer than `after` (its data-job). */
async function jobDone(popup: Page, after: number, timeoutMs: number): Promise<void> {
  await popup.waitForFunction(
    (j) => {
      const el = document.querySelector('[data-testid="popup"]');
      return el !== null && Number(el.getAttribute('data-job')) > j && el.getAttribute('data-status') === 'done';
    },
    after,
    { timeout: timeoutMs },
  );
}

describe('extension end to end', () => {
  it('classifies 20 real MNIST digits and FGSM (ε = 0.25) flips most of them', async () => {
    const page = await session.context.newPage();
    await page.goto(`${server.url}/index.html`);
    await page.waitForFunction(() => Array.from(document.images).filter((i) => i.id.startsWith('d')).every((i) => i.complete && i.naturalWidth > 0));
    for (let i = 0; i < N; i++) {
      const tabId = await fireProbe(session, page, `${server.url}/d${i}.png`, `#d${i}`);
      const popup = await openPopup(session, tabId);
      const r = await readPopup(popup);
      await popup.screenshot({ path: join(ARTEFACTS, `popup-d${i}.png`), fullPage: true });
      await popup.close();
      readings.push(r);
    }
    writeFileSync(join(ARTEFACTS, 'readings.json'), JSON.stringify({ labels, readings }, null, 2));
    const errors = readings.filter((r) => r.status !== 'done');
    expect(errors, JSON.stringify(errors)).toHaveLength(0);
    const correct = readings.filter((r, i) => r.prediction === String(labels[i])).length;
    const flipped = readings.filter((r) => r.advPrediction !== r.prediction).length;
    console.log(`e2e: clean ${correct}/${N} correct, FGSM ε=0.25 changed ${flipped}/${N}, backend ${readings[0]?.backend}`);
    expect(correct).toBeGreaterThanOrEqual(18);
    expect(flipped).toBeGreaterThanOrEqual(15);
    for (const r of readings) {
      expect(r.backend).toMatch(/^(webgpu|webgl|wasm|cpu)$/);
      expect(r.confidence).toMatch(/^\d+(\.\d)?%$/);
      expect(Number.parseFloat(r.linf ?? 'NaN')).toBeLessThanOrEqual(0.25 + 1e-3);
      expect(Number.parseFloat(r.l2 ?? 'NaN')).toBeGreaterThan(0);
    }
  });

  it('a cross-origin image without CORS headers is fetched by the extension and classified', async () => {
    const page = await session.context.newPage();
    await page.goto(`${server.url}/cross.html`);
    await page.waitForFunction(() => document.images[0]?.complete && document.images[0].naturalWidth > 0);
    const tabId = await fireProbe(session, page, `${other.url}/d0.png`, '#x');
    const popup = await openPopup(session, tabId);
    const r = await readPopup(popup);
    await popup.screenshot({ path: join(ARTEFACTS, 'popup-cross-origin.png'), fullPage: true });
    expect(r.status).toBe('done');
    expect(r.prediction).toBe(String(labels[0]));
    expect(await popup.getAttribute('[data-testid="captured-by"]', 'data-value')).toBe('extension');
    await popup.close();
    await page.close();
  });

  it('the popup’s model picker re-runs the probe with another model, including one with other preprocessing', async () => {
    const page = await session.context.newPage();
    await page.goto(`${server.url}/index.html`);
    await page.waitForFunction(() => document.images[0]?.complete);
    const tabId = await fireProbe(session, page, `${server.url}/d0.png`, '#d0');
    const popup = await openPopup(session, tabId);
    await readPopup(popup);
    const options = await popup.$$eval('[data-testid="model"] option', (os) => os.map((o) => (o as HTMLOptionElement).value));
    expect(options).toContain('mnist-lenet');
    expect(options.length).toBeGreaterThan(1);
    for (const pick of ['mnist-softmax', 'fashion-cnn'].filter((m) => options.includes(m))) {
      const job = Number(await popup.getAttribute('[data-testid="popup"]', 'data-job'));
      await popup.selectOption('[data-testid="model"]', pick);
      await jobDone(popup, job, 60_000);
      expect(await popup.textContent('[data-testid="model-id"]')).toBe(pick);
      const prediction = (await popup.textContent('[data-testid="prediction"]'))?.trim();
      if (pick === 'fashion-cnn') expect(FASHION).toContain(prediction);
      else expect(prediction).toMatch(/^[0-9]$/);
      await popup.screenshot({ path: join(ARTEFACTS, `popup-model-${pick}.png`), fullPage: true });
    }
    await popup.close();
    await page.close();
  });

  it('the attack lab: an iterative attack shows progress and can be cancelled; JSMA and the VAE latent attack run with their panels', async () => {
    const page = await session.context.newPage();
    // A URL of its own: the tab lookup is by URL and other tests' tabs show index.html.
    await page.goto(`${server.url}/index.html?lab`);
    await page.waitForFunction(() => document.images[2]?.complete);
    const tabId = await fireProbe(session, page, `${server.url}/d2.png`, '#d2');
    const popup = await openPopup(session, tabId);
    const first = await readPopup(popup);
    expect(await popup.textContent('[data-testid="model-id"]')).toBe('mnist-lenet');
    expect(first.prediction).toBe(String(labels[2]));
    const jobOf = async (): Promise<number> => Number(await popup.getAttribute('[data-testid="popup"]', 'data-job'));
    const waitDone = async (after: number): Promise<void> => {
      await jobDone(popup, after, 120_000);
    };

    // BIM with many tiny steps: the progress bar appears, Cancel brings back the previous result.
    await popup.selectOption('[data-testid="attack"]', 'bim');
    await popup.fill('[data-testid="param-steps"]', '1000');
    await popup.fill('[data-testid="param-stepSize"]', '0.0005');
    let job = await jobOf();
    await popup.click('[data-testid="run-attack"]');
    await popup.waitForSelector('[data-testid="progress"]', { timeout: 60_000 });
    await popup.screenshot({ path: join(ARTEFACTS, 'popup-progress.png'), fullPage: true });
    await popup.click('[data-testid="cancel"]');
    await popup.waitForSelector('[data-testid="cancelled"]', { timeout: 30_000 });
    expect((await popup.textContent('[data-testid="prediction"]'))?.trim()).toBe(first.prediction);

    // JSMA (targeted only; runner-up class): changed pixels are highlighted, L0 within Υ = 14.5%.
    await popup.selectOption('[data-testid="attack"]', 'jsma');
    job = await jobOf();
    await popup.click('[data-testid="run-attack"]');
    await waitDone(job);
    await popup.waitForSelector('[data-testid="changed-pixels"]');
    expect(Number(await popup.textContent('[data-testid="l0"]'))).toBeLessThanOrEqual(2 * Math.floor((784 * 0.145) / 2));
    await popup.screenshot({ path: join(ARTEFACTS, 'popup-jsma.png'), fullPage: true });

    // Kos et al.'s latent attack on the VAE towards class (label + 1) mod 10: the VAE panel with ŷ.
    await popup.selectOption('[data-testid="attack"]', 'vae-latent');
    const target = (labels[2] + 1) % 10;
    await popup.selectOption('[data-testid="target"]', String(target));
    job = await jobOf();
    await popup.click('[data-testid="run-attack"]');
    await waitDone(job);
    await popup.waitForSelector('[data-testid="vae-panel"]');
    for (const id of ['img-vae-original', 'img-vae-recon', 'img-vae-adv', 'img-vae-adv-recon', 'img-vae-target']) {
      expect(await popup.$(`[data-testid="${id}"]`), id).not.toBeNull();
    }
    expect(await popup.textContent('[data-testid="vae-adv-recon-label"]')).toContain(String(target));
    await popup.screenshot({ path: join(ARTEFACTS, 'popup-vae.png'), fullPage: true });
    await popup.close();
    await page.close();
  }, 300_000);

  it('a broken image URL shows the error element, not a crash', async () => {
    const page = await session.context.newPage();
    await page.goto(`${server.url}/index.html`);
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    const tabId = await fireProbe(session, page, `${server.url}/missing-image.png`, '#broken');
    const popup = await openPopup(session, tabId);
    const r = await readPopup(popup);
    await popup.screenshot({ path: join(ARTEFACTS, 'popup-broken.png'), fullPage: true });
    expect(r.status).toBe('error');
    expect(r.errorCode).toBe('FETCH_FAILED');
    expect(r.errorText).toMatch(/404/);
    // The page is unharmed.
    expect(pageErrors).toEqual([]);
    expect(await page.evaluate(() => document.images.length)).toBe(N + 1);
  });

  it('the benchmark runs in the service worker on its chosen backend: wasm here, not the software GPU (SwiftShader)', async () => {
    const payload = benchRequest(['classify-1', 'fgsm-100'], 2);
    const popup = await session.context.newPage();
    await popup.goto(`chrome-extension://${session.extensionId}/${POPUP_PATH}`);
    const reply = (await withTimeout(popup.evaluate((msg) => chrome.runtime.sendMessage(msg), { type: 'probe/bench', payload }), 120_000, 'probe/bench')) as {
      ok: boolean;
      data: { workload: string; backend: string; runs: number; medianMs: number }[];
    };
    expect(reply.ok).toBe(true);
    expect(reply.data.map((r) => r.workload)).toEqual(['classify-1', 'fgsm-100']);
    for (const r of reply.data) {
      expect(r.runs).toBe(2);
      expect(r.medianMs).toBeGreaterThan(0);
    }
    // Headless Chromium here has only SwiftShader (a CPU WebGPU/WebGL): the engine must not pick it.
    console.log(`e2e bench in the extension: backend ${reply.data[0].backend}, fgsm-100 median ${reply.data[1].medianMs} ms`);
    expect(reply.data[0].backend).toBe('wasm');
    expect(reply.data[1].medianMs).toBeLessThan(5000);
    await popup.close();
  }, 300_000);

  it('the compute backend setting: WebGL asked for in the popup runs the next attack there with the wasm run’s verdicts; the benchmark’s backend lasts one run', async () => {
    const page = await session.context.newPage();
    await page.goto(`${server.url}/index.html?backend`);
    await page.waitForFunction(() => document.images[4]?.complete);
    const tabId = await fireProbe(session, page, `${server.url}/d4.png`, '#d4');
    const popup = await openPopup(session, tabId);
    const onWasm = await readPopup(popup);
    expect(onWasm.status).toBe('done');
    expect(onWasm.backend).toBe('wasm');

    await popup.click('[data-testid="backend-setting"] summary');
    await popup.waitForSelector('[data-testid="backend-select"]');
    expect(await popup.textContent('[data-testid="backend-current"]')).toBe('wasm');
    // SwiftShader's WebGL works here but runs on the CPU: the automatic choice says why it skipped it.
    expect(await popup.textContent('[data-testid="backend-not-used"]')).toMatch(/webgl not used: software renderer/i);
    await popup.selectOption('[data-testid="backend-select"]', 'webgl');
    await popup.waitForFunction(() => document.querySelector('[data-testid="backend-current"]')?.textContent === 'webgl', undefined, { timeout: 60_000 });
    expect(await popup.$('[data-testid="backend-error"]')).toBeNull();

    const job = Number(await popup.getAttribute('[data-testid="popup"]', 'data-job'));
    await popup.click('[data-testid="run-attack"]');
    await jobDone(popup, job, 120_000);
    const onWebgl = await readPopup(popup);
    await popup.screenshot({ path: join(ARTEFACTS, 'popup-backend-webgl.png'), fullPage: true });
    console.log(`e2e backend setting: wasm ${JSON.stringify(onWasm)}; webgl ${JSON.stringify(onWebgl)}`);
    expect(onWebgl.status).toBe('done');
    expect(onWebgl.backend).toBe('webgl');
    // Same digit, same FGSM: the same verdicts, confidences within 0.2 points (float32 on both; summation order differs).
    expect(onWebgl.prediction).toBe(onWasm.prediction);
    expect(onWebgl.advPrediction).toBe(onWasm.advPrediction);
    expect(Math.abs(Number.parseFloat(onWebgl.confidence ?? 'NaN') - Number.parseFloat(onWasm.confidence ?? 'NaN'))).toBeLessThanOrEqual(0.2);
    expect(onWebgl.linf).toBe(onWasm.linf);
    expect(Math.abs(Number.parseFloat(onWebgl.l2 ?? 'NaN') / Number.parseFloat(onWasm.l2 ?? 'NaN') - 1)).toBeLessThanOrEqual(0.01);

    // Back to the automatic choice (stored, as the WebGL choice was).
    await popup.selectOption('[data-testid="backend-select"]', 'auto');
    await popup.waitForFunction(() => document.querySelector('[data-testid="backend-current"]')?.textContent === 'wasm', undefined, { timeout: 60_000 });
    const stored = await session.sw.evaluate(async () => (await chrome.storage.local.get('backendPreference')).backendPreference as unknown);
    expect(stored).toBeNull();

    // The benchmark on WebGL (`probe bench --backend webgl`): its rows run there, then the automatic choice is back.
    const payload = benchRequest(['classify-1', 'fgsm-1'], 2, 'webgl');
    const reply = (await withTimeout(popup.evaluate((msg) => chrome.runtime.sendMessage(msg), { type: 'probe/bench', payload }), 120_000, 'probe/bench')) as {
      ok: boolean;
      data: { workload: string; backend: string; medianMs: number }[];
    };
    expect(reply.ok).toBe(true);
    expect(reply.data.map((r) => r.backend)).toEqual(['webgl', 'webgl']);
    const after = (await popup.evaluate(() => chrome.runtime.sendMessage({ type: 'probe/get-backend', payload: {} }))) as { ok: boolean; data: { backend: string; preference: string | null } };
    expect(after).toMatchObject({ ok: true, data: { backend: 'wasm', preference: null } });
    await popup.close();
    await page.close();
  }, 300_000);
});