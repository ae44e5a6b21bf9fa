import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fireProbe, launchExtension, openPopup, readPopup, type ExtensionSession } from '../../src/cli/browser';
import { loadMnist } from '../../src/cli/data';
import { LIGHT, encodePng, renderDigit } from '../../src/cli/png';
import { serveStatic, type StaticServer } from '../../src/cli/serve';
import { CLASSROOM_PAGE } from '../../src/popup/tab-id';
import { formatEps } from '../../src/popup/format';
import { stepEps } from '../../src/popup/components/Classroom';

/**
 * The classroom view in real Chromium with the built extension (PROBE_DIST, default dist/): a real MNIST
 * test digit served from 127.0.0.1 is probed through the real context-menu listener, the classroom page
 * is opened from the popup's button (chrome.tabs.create with ?tab=), ε is moved with the keyboard and the
 * re-run result is read back, then the JSMA saliency tab is opened with its key and computed.
 */
const ARTEFACTS = 'test-results/e2e';
const DIST = resolve(process.env.PROBE_DIST ?? 'dist');
let server: StaticServer;
let session: ExtensionSession;
let root: string;

beforeAll(async () => {
  if (!existsSync(join(DIST, 'manifest.json'))) throw new Error(`build the extension first (npm run build): no ${DIST}/manifest.json`);
  if (!existsSync(join(DIST, CLASSROOM_PAGE))) throw new Error(`the build has no classroom page (${CLASSROOM_PAGE})`);
  mkdirSync(ARTEFACTS, { recursive: true });
  root = mkdtempSync(join(tmpdir(), 'probe-classroom-'));
  const test = loadMnist('test');
  writeFileSync(join(root, 'd0.png'), encodePng(renderDigit(test.images.subarray(0, 784), 3, LIGHT.ink, LIGHT.paper, 6)));
  writeFileSync(join(root, 'index.html'), '<!doctype html><meta charset="utf-8"><title>classroom</title><body><img id="d0" src="d0.png" alt="digit"></body>');
  server = await serveStatic(root);
  session = await launchExtension({ dist: DIST });
}, 60_000);

afterAll(async () => {
  await session?.close();
  await server?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

const text = async (page: Page, id: string): Promise<string> => ((await page.textContent(`[data-testid="${id}"]`)) ?? '').trim();

describe('classroom view end to end', () => {
  it('opens from the popup for the probed tab; ← re-runs at a smaller ε and the result changes; the saliency tab computes', async () => {
    const page = await session.context.newPage();
    await page.goto(`${server.url}/index.html`);
    await page.waitForFunction(() => document.images[0]?.complete && document.images[0].naturalWidth > 0);
    const tabId = await fireProbe(session, page, `${server.url}/d0.png`, '#d0');
    const popup = await openPopup(session, tabId);
    expect((await readPopup(popup)).status).toBe('done');

    // The popup's button opens the classroom page in a new tab, for this tab.
    const opened = session.context.waitForEvent('page', { timeout: 15_000 });
    await popup.click('[data-testid="open-classroom"]');
    const room = await opened;
    expect(room.url()).toBe(`chrome-extension://${session.extensionId}/${CLASSROOM_PAGE}?tab=${tabId}`);
    await room.setViewportSize({ width: 1280, height: 1000 });
    await room.waitForSelector('[data-testid="classroom"][data-status="done"][data-busy="false"]', { timeout: 30_000 });
    const help = await text(room, 'cr-help');
    expect(help).toContain('Esc');
    const eps0 = Number(await text(room, 'cr-eps-value'));
    expect(await text(room, 'cr-attack')).toBe(`FGSM ε ${formatEps(eps0)}`);
    const before = { adv: await text(room, 'cr-adv-class'), conf: await text(room, 'cr-adv-conf'), factor: await text(room, 'cr-factor') };
    await room.screenshot({ path: join(ARTEFACTS, 'classroom-start.png'), fullPage: true });

    // ← ten times (one re-run after the idle time): ε drops by ten steps.
    await room.locator('body').click({ position: { x: 5, y: 5 } });
    for (let i = 0; i < 10; i++) await room.keyboard.press('ArrowLeft');
    const eps1 = stepEps(eps0, -10);
    expect(await text(room, 'cr-eps-value')).toBe(formatEps(eps1));
    await room.waitForFunction((want: string) => document.querySelector('[data-testid="cr-attack"]')?.textContent?.trim() === want, `FGSM ε ${formatEps(eps1)}`, { timeout: 30_000 });
    await room.waitForSelector('[data-testid="classroom"][data-status="done"][data-busy="false"]', { timeout: 30_000 });
    const after = { adv: await text(room, 'cr-adv-class'), conf: await text(room, 'cr-adv-conf'), factor: await text(room, 'cr-factor') };
    console.log(`e2e classroom: ε ${formatEps(eps0)} → ${before.adv} ${before.conf}; ε ${formatEps(eps1)} → ${after.adv} ${after.conf}`);
    // A smaller budget gives another adversarial: its prediction or its confidence differs.
    expect(after.adv !== before.adv || after.conf !== before.conf).toBe(true);
    await room.screenshot({ path: join(ARTEFACTS, 'classroom-eps.png'), fullPage: true });

    // Key 6: the saliency tab; compute the map toward the default target.
    await room.keyboard.press('6');
    expect(await room.getAttribute('[data-testid="lab-tab-saliency"]', 'aria-selected')).toBe('true');
    await room.click('[data-testid="lab-run-saliency"]');
    await room.waitForSelector('[data-testid="saliency"]', { timeout: 30_000 });
    expect(await room.$$eval('[data-testid="saliency-distances"] g', (gs) => gs.length)).toBe(9);
    const positive = Number(await text(room, 'saliency-positive'));
    expect(Number.isInteger(positive) && positive > 0 && positive <= 784).toBe(true);
    expect(await room.$$eval('[data-testid="saliency-map"] rect', (rs) => rs.length)).toBe(positive + 1);
    await room.screenshot({ path: join(ARTEFACTS, 'classroom-saliency.png'), fullPage: true });
    await room.close();
    await popup.close();
    await page.close();
  }, 90_000);
});
