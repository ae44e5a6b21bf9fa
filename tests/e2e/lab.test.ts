import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fireProbe, launchExtension, openPopup, readPopup, type ExtensionSession } from '../../src/cli/browser';
import { loadMnist } from '../../src/cli/data';
import { LIGHT, encodePng, renderDigit } from '../../src/cli/png';
import { serveStatic, type StaticServer } from '../../src/cli/serve';
import { classifierEntries } from '../../src/core/models/catalog';
import { formatPercent } from '../../src/popup/format';

/**
 * The popup's lab in real Chromium with the built extension: one probe per new panel (defenses,
 * ε-sweep, transfer) on a real MNIST test digit served from 127.0.0.1, the real context-menu listener,
 * screenshots kept beside the other e2e artefacts.
 */
const ARTEFACTS = 'test-results/e2e';
let server: StaticServer;
let session: ExtensionSession;
let root: string;

beforeAll(async () => {
  if (!existsSync('dist/manifest.json')) throw new Error('build the extension first (npm run build)');
  mkdirSync(ARTEFACTS, { recursive: true });
  root = mkdtempSync(join(tmpdir(), 'probe-lab-'));
  const test = loadMnist('test');
  writeFileSync(join(root, 'd0.png'), encodePng(renderDigit(test.images.subarray(0, 784), 3, LIGHT.ink, LIGHT.paper, 6)));
  writeFileSync(join(root, 'index.html'), '<!doctype html><meta charset="utf-8"><title>lab</title><body><img id="d0" src="d0.png" alt="digit"></body>');
  server = await serveStatic(root);
  session = await launchExtension();
});

afterAll(async () => {
  await session?.close();
  await server?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

async function probedPopup(): Promise<Page> {
  const page = await session.context.newPage();
  await page.goto(`${server.url}/index.html`);
  await page.waitForFunction(() => document.images[0]?.complete && document.images[0].naturalWidth > 0);
  const tabId = await fireProbe(session, page, `${server.url}/d0.png`, '#d0');
  const popup = await openPopup(session, tabId);
  const r = await readPopup(popup);
  expect(r.status).toBe('done');
  await popup.waitForSelector('[data-testid="lab"]');
  return popup;
}

const json = (p: string): { cleanTestCheck: { flagged: number; n: number }; fpr: number; threshold: number } =>
  JSON.parse(readFileSync(p, 'utf8')) as { cleanTestCheck: { flagged: number; n: number }; fpr: number; threshold: number };

describe('popup lab end to end', () => {
  it('defenses panel: MagNet, GPDNN and ensemble on the clean image and the FGSM adversarial, with the calibration files’ rates', async () => {
    const popup = await probedPopup();
    await popup.click('[data-testid="lab-run-defenses"]');
    await popup.waitForSelector('[data-testid="defenses"]', { timeout: 180_000 });
    await popup.screenshot({ path: join(ARTEFACTS, 'lab-defenses.png'), fullPage: true });
    const magnetFile = json('models/mnist-vae/magnet.json');
    const gpFile = json('models/mnist-gpdnn/uncertainty.json');
    const text = async (id: string): Promise<string> => ((await popup.textContent(`[data-testid="${id}"]`)) ?? '').trim();
    expect(await text('magnet-rate')).toContain(formatPercent(magnetFile.cleanTestCheck.flagged / magnetFile.cleanTestCheck.n));
    expect(await text('magnet-rate')).toContain(formatPercent(magnetFile.fpr));
    expect(await text('gp-rate')).toContain(formatPercent(gpFile.cleanTestCheck.flagged / gpFile.cleanTestCheck.n));
    for (const side of ['clean', 'adv']) {
      const score = Number(await text(`def-magnet-score-${side}`));
      expect(Number.isFinite(score) && score >= 0).toBe(true);
      const flagged = await popup.getAttribute(`[data-testid="magnet-flagged-${side}"]`, 'data-value');
      // Shown with 4 significant digits: the flag agrees with the score unless it sits on the threshold.
      if (Math.abs(score - magnetFile.threshold) > 1e-3 * magnetFile.threshold) expect(flagged).toBe(String(score > magnetFile.threshold));
      const votes = await text(`def-ens-votes-${side}`);
      expect([...votes.matchAll(/×(\d+)/g)].reduce((a, m) => a + Number(m[1]), 0)).toBe(5);
      expect(await text(`def-gp-entropy-${side}`)).toMatch(/^\d/);
    }
    expect(await popup.$$eval('[data-testid="gp-table"] tbody tr', (rows) => rows.length)).toBe(10);
    const adv = Number(await text('def-magnet-score-adv'));
    const clean = Number(await text('def-magnet-score-clean'));
    console.log(`e2e lab: MagNet score clean ${clean}, adversarial ${adv} (threshold ${magnetFile.threshold})`);
    await popup.close();
  });

  it('ε-sweep: the chart has the 10 logit lines, the correct region around ε = 0 and the image strip', async () => {
    const popup = await probedPopup();
    await popup.focus('[data-testid="lab-tab-defenses"]');
    await popup.keyboard.press('ArrowRight');
    expect(await popup.getAttribute('[data-testid="lab-tab-sweep"]', 'aria-selected')).toBe('true');
    await popup.click('[data-testid="lab-run-sweep"]');
    await popup.waitForSelector('[data-testid="sweep-svg"]', { timeout: 120_000 });
    await popup.screenshot({ path: join(ARTEFACTS, 'lab-sweep.png'), fullPage: true });
    expect(await popup.$$eval('[data-testid="sweep-svg"] path.sweep-line', (ps) => ps.length)).toBe(10);
    expect(await popup.$$eval('[data-testid="sweep-svg"] path.sweep-line', (ps) => ps.every((p) => (p.getAttribute('d') ?? '').split('L').length === 41))).toBe(true);
    const regions = await popup.$$eval('[data-testid="sweep-correct"]', (rs) => rs.map((r) => [Number(r.getAttribute('x')), Number(r.getAttribute('width'))]));
    expect(regions.length).toBeGreaterThanOrEqual(1);
    const zero = Number(await popup.getAttribute('[data-testid="sweep-svg"] line.zero', 'x1'));
    // ε = 0 is the clean image, which the model classifies as its own prediction: inside a shaded region.
    expect(regions.some(([x, w]) => x <= zero && zero <= x + w)).toBe(true);
    expect(await popup.$$eval('[data-testid="strip-cell"]', (cs) => cs.length)).toBe(7);
    await popup.close();
  });

  it('transfer: the adversarial fed to every shipped MNIST classifier (Cancel first, then a full run)', async () => {
    const popup = await probedPopup();
    const attacked = ((await popup.textContent('[data-testid="success"]')) ?? '').trim();
    await popup.click('[data-testid="lab-tab-transfer"]');
    await popup.click('[data-testid="lab-run-transfer"]');
    await popup.click('[data-testid="lab-cancel"]');
    expect(((await popup.textContent('[data-testid="lab-notice"]')) ?? '').trim()).toBe('Cancelled');
    await popup.click('[data-testid="lab-run-transfer"]');
    await popup.waitForSelector('[data-testid="transfer-svg"]', { timeout: 300_000 });
    await popup.screenshot({ path: join(ARTEFACTS, 'lab-transfer.png'), fullPage: true });
    const ids = classifierEntries().filter((e) => e.preprocess === 'mnist' && e.dataset !== 'fashion-mnist').map((e) => e.id);
    for (const id of ids) expect(await popup.$(`[data-testid="transfer-row-${id}"]`)).not.toBeNull();
    expect(await popup.$('[data-testid="transfer-row-fashion-cnn"]')).toBeNull();
    // The attacked model's own row agrees with the attack panel.
    expect(await popup.getAttribute('[data-testid="transfer-row-mnist-lenet"]', 'data-fooled')).toBe(String(attacked === 'fooled'));
    const rate = ((await popup.textContent('[data-testid="transfer-rate"]')) ?? '').trim();
    console.log(`e2e lab: ${rate}`);
    expect(rate).toMatch(new RegExp(`of ${ids.length - 1} other models`));
    await popup.close();
  });
});
