import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { benchRequest } from '../../bench/workloads';
import { classifierEntries } from '../../src/core/models/catalog';
import { evalInPopup, FIREFOX, launchFirefox, probePopup, sendFromPopup, setHostPermissions, type FirefoxSession } from '../../src/firefox/headless';
import { isAcceptedWarning, lintFirefoxBuild } from '../../src/firefox/lint';
import { CHROME_ONLY_KEYS, FIREFOX_DIST, GECKO_ID, firefoxManifest, type Manifest } from '../../src/firefox/manifest';
import type { Json } from '../../src/firefox/marionette';

/**
 * The Firefox build (npm run build:firefox → dist-firefox/): its manifest, `web-ext lint`, and the
 * add-on loaded in headless Firefox ESR (Debian's firefox-esr, installed by .ci/setup) where the
 * background event page must answer the popup's messages. Every step has its own timeout.
 */
let session: FirefoxSession | null = null;
const built = (): Manifest => JSON.parse(readFileSync(join(FIREFOX_DIST, 'manifest.json'), 'utf8')) as Manifest;

beforeAll(() => {
  if (!existsSync(join(FIREFOX_DIST, 'manifest.json'))) throw new Error('build the Firefox add-on first (npm run build:firefox)');
});

afterAll(async () => {
  await session?.close();
});

describe('Firefox build', () => {
  it('dist-firefox/manifest.json is the derived manifest: an event page, the gecko id, no Chrome-only keys', () => {
    const m = built();
    const expected = firefoxManifest(JSON.parse(readFileSync('manifest.json', 'utf8')) as Manifest);
    const bg = m.background as { scripts?: unknown; service_worker?: unknown; type?: unknown };
    expect(bg.service_worker).toBeUndefined();
    expect(Array.isArray(bg.scripts) && bg.scripts.length === 1 && typeof bg.scripts[0] === 'string').toBe(true);
    const script = (bg.scripts as string[])[0];
    expect(existsSync(join(FIREFOX_DIST, script))).toBe(true);
    expect(bg.type).toEqual((expected.background as { type?: unknown }).type);
    expect(m.browser_specific_settings).toEqual(expected.browser_specific_settings);
    expect((m.browser_specific_settings as { gecko: { id: string } }).gecko.id).toBe(GECKO_ID);
    for (const k of CHROME_ONLY_KEYS) expect(m, k).not.toHaveProperty(k);
    for (const k of ['permissions', 'host_permissions', 'content_security_policy', 'name', 'version', 'action', 'icons']) {
      expect(m[k], k).toEqual(expected[k]);
    }
  });

  it('passes web-ext lint with no errors and only the accepted warnings', async () => {
    const t0 = Date.now();
    const report = await lintFirefoxBuild(FIREFOX_DIST, 90_000);
    console.log(
      `firefox: web-ext lint ${report.errors.length} errors, ${report.warnings.length} warnings (${report.warnings.map((w) => w.code).join(', ') || 'none'}), ${report.notices.length} notices, ${Date.now() - t0} ms`,
    );
    expect(report.errors).toEqual([]);
    expect(report.warnings.filter((w) => !isAcceptedWarning(w))).toEqual([]);
    expect(report.exitCode).toBe(0);
  }, 120_000);

  it('loads in headless Firefox ESR and its background event page answers the popup', async () => {
    const t0 = Date.now();
    session = await launchFirefox({ dist: FIREFOX_DIST, firefox: FIREFOX, timeoutMs: 45_000 });
    const launchMs = Date.now() - t0;
    expect(session.addonId).toBe(GECKO_ID);

    // The popup leaves "loading" only when the background has answered probe/get-state.
    const popup = await probePopup(session, 20_000);
    expect(popup, session.output()).toEqual({ status: 'idle', error: null, ms: popup.ms });

    // probe/list-models: the background reads every shipped model card from its own files.
    const models = (await sendFromPopup(session, { type: 'probe/list-models', payload: {} }, 20_000)) as { ok?: Json; data?: Json };
    expect(models.ok).toBe(true);
    const ids = Array.isArray(models.data) ? models.data.map((d) => (d as { id?: Json }).id) : [];
    expect(ids).toEqual(classifierEntries().map((e) => e.id));

    // A malformed message is refused with the stable code, not a crash.
    const bad = (await sendFromPopup(session, { type: 'probe/list-models', payload: [] }, 10_000)) as { ok?: Json; error?: { code?: Json } };
    expect(bad.ok).toBe(false);
    expect(bad.error?.code).toBe('BAD_MESSAGE');

    // probe/bench: tfjs in the event page picks a backend, loads the models and classifies/attacks real MNIST digits.
    const payload = benchRequest(['classify-1', 'fgsm-1'], 2);
    const bench = (await sendFromPopup(session, { type: 'probe/bench', payload }, 60_000)) as {
      ok?: Json;
      error?: Json;
      data?: { workload?: Json; backend?: Json; runs?: Json; medianMs?: Json }[];
    };
    expect(bench.ok, JSON.stringify(bench.error)).toBe(true);
    const rows = bench.data ?? [];
    expect(rows.map((r) => r.workload)).toEqual(['classify-1', 'fgsm-1']);
    for (const r of rows) {
      expect(r.runs).toBe(2);
      expect(typeof r.medianMs === 'number' && r.medianMs > 0 && Number.isFinite(r.medianMs)).toBe(true);
      expect(r.backend).toMatch(/^(webgpu|webgl|wasm|cpu)$/);
    }
    console.log(
      `firefox: launched and installed in ${launchMs} ms, popup answered in ${popup.ms} ms, ${ids.length} models listed, ` +
        `bench backend ${String(rows[0]?.backend)}: classify-1 ${String(rows[0]?.medianMs)} ms, fgsm-1 ${String(rows[1]?.medianMs)} ms, total ${Date.now() - t0} ms`,
    );
    await session.close();
    session = null;
  }, 150_000);

  it('row 33: host permissions are optional; granting a site registers the content script there, withdrawing it unregisters it', async () => {
    session = await launchFirefox({ dist: FIREFOX_DIST, firefox: FIREFOX, timeoutMs: 45_000 });
    await probePopup(session, 20_000);
    const state = async (): Promise<{ origins: Json; scripts: Json }> =>
      (await evalInPopup(
        session as FirefoxSession,
        `const p = await browser.permissions.getAll();
         const s = await browser.scripting.getRegisteredContentScripts();
         return { origins: p.origins ?? [], scripts: s.map((c) => ({ id: c.id, matches: c.matches })) };`,
      )) as { origins: Json; scripts: Json };
    const until = async (want: Json, what: string): Promise<void> => {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const now = await state();
        if (JSON.stringify(now.scripts) === JSON.stringify(want)) return;
        if (Date.now() > deadline) throw new Error(`${what}: registered scripts ${JSON.stringify(now.scripts)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    // Installed with nothing granted: no site, no content script.
    expect(await state()).toEqual({ origins: [], scripts: [] });
    // The user allows a site (as in the add-on's permission settings): the event page registers the script there.
    await setHostPermissions(session, 'add', ['http://127.0.0.1/*']);
    await until([{ id: 'probe-content', matches: ['http://127.0.0.1/*'] }], 'after the grant');
    expect((await state()).origins).toEqual(['http://127.0.0.1/*']);
    // Withdrawn: the script goes, and the popup can see the site is no longer allowed (what makes it offer the grant).
    await setHostPermissions(session, 'remove', ['http://127.0.0.1/*']);
    await until([], 'after the withdrawal');
    expect(await evalInPopup(session, `return browser.permissions.contains({ origins: ['http://127.0.0.1/*'] });`)).toBe(false);
    console.log('firefox row 33: grant → content script registered for http://127.0.0.1/*; withdrawal → unregistered, permission gone');
    await session.close();
    session = null;
  }, 90_000);
});
