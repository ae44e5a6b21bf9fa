// @vitest-environment happy-dom
import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/preact';
import { PNG } from 'pngjs';
import { afterEach, describe, expect, it } from 'vitest';
import { ProbeError } from '../../src/core/errors';
import { parsePopupMatrices, POPUP_MATRICES_VERSION } from '../../src/core/metrics/popup-matrices';
import { App } from '../../src/popup/App';
import type { BlobUrls } from '../../src/popup/blob-url';
import { Lab } from '../../src/popup/components/Lab';
import { methodText } from '../../src/popup/components/ExportPanel';
import { weightImages } from '../../src/popup/components/AdvTrainingPanel';
import { formatPercent } from '../../src/popup/format';
import { heatmapCells, matrixRange, rampColour } from '../../src/popup/heatmap';
import { loadMatrices, shippedMatrices } from '../../src/popup/matrices-data';
import { createMockConnector, type MockConnectorOptions } from '../../src/popup/mock-connector';
import { mockAdvTraining, mockExport } from '../../src/popup/mock-lab2';
import { fileSafe, probeReport } from '../../src/popup/report';
import { base64ToBytes } from '../../src/protocol/base64';

afterEach(() => cleanup());

/** Blob URLs recorded in memory: what was made, what was revoked. */
function fakeUrls(): BlobUrls & { made: Map<string, Blob>; revoked: string[] } {
  const made = new Map<string, Blob>();
  const revoked: string[] = [];
  let n = 0;
  return {
    made,
    revoked,
    create(b) {
      const u = `blob:test/${++n}`;
      made.set(u, b);
      return u;
    },
    revoke(u) {
      revoked.push(u);
    },
  };
}

/** A valid matrices file for C classes: every off-diagonal pair has 2 runs; values vary with (s, t). */
function matricesFixture(C = 10): unknown {
  const mat = (f: (s: number, t: number) => number | null) => Array.from({ length: C }, (_, s) => Array.from({ length: C }, (_, t) => (s === t ? null : f(s, t))));
  const sal = (k: number) => ({
    count: Array.from({ length: C }, (_, s) => Array.from({ length: C }, (_, t) => (s === t ? 0 : 2))),
    successRate: mat((s, t) => ((s + t + k) % 3) / 2),
    distortionSuccessful: mat((s, t) => ((s * t + k) % 10) / 100),
    hardness: mat((s, t) => ((s * 7 + t * 3 + k) % 11) / 100),
    adversarialDistance: mat((s, t) => ((s + 2 * t) % 9) / 10),
    robustness: 0.01 * (k + 1),
  });
  return {
    version: POPUP_MATRICES_VERSION, model: 'mnist-lenet', classNames: Array.from({ length: C }, (_, i) => String(i)),
    command: 'npm run probe -- reproduce --quick', generatedAt: '2026-01-01T00:00:00.000Z', theta: 1, maxDistortion: 0.145,
    upsilons: [0.05, 0.1, 0.145], sources: C, runs: 2 * C * (C - 1), distanceRuns: C * (C - 1),
    saliency: { logits: sal(0), probabilities: sal(1) },
  };
}

/** The whole popup on the mock connector (the Lab with its defaults: browser Blob URLs, the bundled matrices). */
async function renderApp(opts: MockConnectorOptions = {}) {
  const conn = createMockConnector(opts);
  render(<App connector={conn} lab={conn} pollMs={10} />);
  await screen.findByTestId('lab');
  return conn;
}

describe('lab: export', () => {
  it('exports the PNG through the connector, says which rounding held and what the exported bytes are, and offers both downloads as Blob URLs', async () => {
    const conn = createMockConnector({ choice: { attack: 'fgsm', params: { eps: 0.3 } } });
    const urls = fakeUrls();
    const r = (await conn.getState()).result!;
    render(<Lab lab={conn} resultId={r.id} result={r} busy={false} pollMs={10} blobUrls={urls} />);
    fireEvent.click(screen.getByTestId('lab-tab-export'));
    // The JSON report is there before any export.
    const jsonLink = await screen.findByTestId('export-json-link');
    expect(jsonLink.getAttribute('download')).toBe(`adversarial-${fileSafe(r.modelId)}-fgsm-report.json`);
    fireEvent.click(screen.getByTestId('lab-run-export'));
    await screen.findByTestId('export-result');
    expect(conn.calls.some((c) => c.method === 'exportAdversarial')).toBe(true);
    const want = mockExport(r);
    expect(screen.getByTestId('export-method').getAttribute('data-value')).toBe(want.method);
    expect(screen.getByTestId('export-method').textContent).toBe(methodText(want.method, want.steps));
    expect(screen.getByTestId('export-predicted').textContent).toBe(`${want.predictedClass} (${formatPercent(want.confidence)})`);
    expect(screen.getByTestId('export-success').getAttribute('data-value')).toBe(String(want.success));
    // The PNG link serves the connector's bytes, and those decode to 28×28.
    const pngHref = (await screen.findByTestId('export-png-link')).getAttribute('href')!;
    const pngBlob = urls.made.get(pngHref)!;
    expect(pngBlob.type).toBe('image/png');
    const bytes = new Uint8Array(await pngBlob.arrayBuffer());
    expect(Array.from(bytes)).toEqual(Array.from(base64ToBytes(want.pngBase64)));
    const png = PNG.sync.read(Buffer.from(bytes));
    expect([png.width, png.height]).toEqual([28, 28]);
    expect(screen.getByTestId('export-img').getAttribute('src')).toBe(pngHref);
    // The report now includes the export check (without the PNG bytes).
    const jsonHref = screen.getByTestId('export-json-link').getAttribute('href')!;
    const report = JSON.parse(await urls.made.get(jsonHref)!.text()) as ReturnType<typeof probeReport>;
    expect(report.kind).toBe('adversarial-probe-report');
    expect(report.prediction.label).toBe(r.prediction.label);
    expect(report.attack.id).toBe('fgsm');
    expect(report.attack.params.eps).toBe(0.3);
    expect(report.attack.distances).toEqual(r.attack.distances);
    expect(report.export?.method).toBe(want.method);
    expect(report.export && 'pngBase64' in report.export).toBe(false);
    expect(report.defenses).toBeNull();
    // The earlier report URL was revoked when the report changed.
    expect(urls.revoked.length).toBeGreaterThan(0);
  });

  it('the report includes the defenses once they were run', async () => {
    const conn = createMockConnector();
    const urls = fakeUrls();
    const r = (await conn.getState()).result!;
    render(<Lab lab={conn} resultId={r.id} result={r} busy={false} pollMs={10} blobUrls={urls} />);
    fireEvent.click(screen.getByTestId('lab-run-defenses'));
    await screen.findByTestId('defenses');
    fireEvent.click(screen.getByTestId('lab-tab-export'));
    const href = (await screen.findByTestId('export-json-link')).getAttribute('href')!;
    const report = JSON.parse(await urls.made.get(href)!.text()) as ReturnType<typeof probeReport>;
    expect(report.defenses?.resultId).toBe(r.id);
    expect(report.defenses?.adversarial.magnet.flagged).toBeTypeOf('boolean');
  });

  it('shows progress and Cancel while the export runs; Cancel ends it', async () => {
    await renderApp({ labPolls: Infinity });
    fireEvent.click(screen.getByTestId('lab-tab-export'));
    fireEvent.click(screen.getByTestId('lab-run-export'));
    await screen.findByTestId('lab-progress');
    fireEvent.click(screen.getByTestId('lab-cancel'));
    await waitFor(() => expect(screen.getByTestId('lab-notice').textContent).toBe('Cancelled'));
    expect(screen.queryByTestId('export-result')).toBeNull();
  });

  it('a failing export shows its stable code', async () => {
    await renderApp({ throws: { exportAdversarial: new ProbeError('NO_RESULT', 'Probe an image first.') } });
    fireEvent.click(screen.getByTestId('lab-tab-export'));
    fireEvent.click(screen.getByTestId('lab-run-export'));
    const err = await within(screen.getByTestId('lab-panel-export')).findByTestId('lab-error');
    expect(err.getAttribute('data-code')).toBe('NO_RESULT');
  });

  it('methodText names every method; the mock export of an unchanged image is "failed" and not adversarial', () => {
    expect(methodText('search', 3)).toContain('3 gradient steps');
    expect(methodText('failed', 30)).toContain('NOT adversarial');
    const conn = createMockConnector();
    const r = conn.doneState().result!;
    const same = { ...r, attack: { ...r.attack, adversarial: r.input } };
    const ex = mockExport(same);
    expect(ex.method).toBe('failed');
    expect(ex.success).toBe(false);
  });
});

describe('lab: matrices', () => {
  it('validates the file: missing → MODEL_NOT_FOUND, malformed → BAD_INPUT, valid → data', () => {
    const missing = loadMatrices(undefined);
    expect(missing.ok ? null : missing.error.code).toBe('MODEL_NOT_FOUND');
    const bad = loadMatrices({ ...(matricesFixture() as object), version: 99 });
    expect(bad.ok ? null : bad.error.code).toBe('BAD_INPUT');
    const good = loadMatrices(matricesFixture());
    expect(good.ok).toBe(true);
    // What the build bundled (if reproduction/popup-matrices.json exists) is validated the same way.
    const shipped = shippedMatrices();
    expect(shipped.ok || ['MODEL_NOT_FOUND', 'BAD_INPUT'].includes(shipped.error.code)).toBe(true);
  });

  it('heatmap of H(s, t) with the current image’s source row highlighted; switching matrix and saliency redraws from the file', async () => {
    const conn = createMockConnector({ digit: 3 });
    const r = (await conn.getState()).result!;
    const data = parsePopupMatrices(matricesFixture());
    render(<Lab lab={conn} resultId={r.id} result={r} busy={false} matrices={{ ok: true, data }} />);
    fireEvent.click(screen.getByTestId('lab-tab-matrices'));
    const panel = within(screen.getByTestId('lab-panel-matrices'));
    const cells = panel.getAllByTestId('heat-cell');
    expect(cells).toHaveLength(100);
    const at = (s: number, t: number) => cells.find((c) => c.getAttribute('data-s') === String(s) && c.getAttribute('data-t') === String(t))!;
    expect(at(2, 5).getAttribute('data-value')).toBe(String(data.saliency.logits.hardness[2][5]));
    expect(at(4, 4).getAttribute('data-value')).toBe('');
    const src = Number(r.prediction.className);
    const row = panel.getByTestId('heat-row');
    expect(Number(row.getAttribute('y'))).toBe(18 + src * 26 - 1);
    expect(panel.getByTestId('matrices-row').textContent).toContain(`class ${r.prediction.className}`);
    fireEvent.change(panel.getByTestId('matrix-kind'), { target: { value: 'successRate' } });
    fireEvent.change(panel.getByTestId('matrix-saliency'), { target: { value: 'probabilities' } });
    await waitFor(() => expect(screen.getByTestId('matrices').getAttribute('data-kind')).toBe('successRate'));
    const after = within(screen.getByTestId('lab-panel-matrices')).getAllByTestId('heat-cell');
    const cell = after.find((c) => c.getAttribute('data-s') === '1' && c.getAttribute('data-t') === '2')!;
    expect(cell.getAttribute('data-value')).toBe(String(data.saliency.probabilities.successRate[1][2]));
  });

  it('a bad file shows its stable code in the tab', () => {
    const conn = createMockConnector();
    const r = conn.doneState().result!;
    render(<Lab lab={conn} resultId={r.id} result={r} busy={false} matrices={loadMatrices({ version: 1 })} />);
    fireEvent.click(screen.getByTestId('lab-tab-matrices'));
    expect(within(screen.getByTestId('lab-panel-matrices')).getByTestId('matrices-error').getAttribute('data-code')).toBe('BAD_INPUT');
  });

  it('heatmap helpers: range over non-null values, colours from light to dark, nulls hatched', () => {
    const m = [[null, 0.2], [0.6, null]];
    expect(matrixRange(m)).toEqual({ lo: 0.2, hi: 0.6 });
    expect(matrixRange([[null]])).toBeNull();
    expect(rampColour(0)).toBe('rgb(239,246,255)');
    expect(rampColour(1)).toBe('rgb(30,64,175)');
    const { cells } = heatmapCells(m, (v) => v.toFixed(1));
    expect(cells.map((c) => c.fill)).toEqual(['url(#heat-none)', rampColour(0), rampColour(1), 'url(#heat-none)']);
    expect(cells[2].label).toBe('0.6');
  });
});

describe('lab: adversarial training', () => {
  it('shows both pairs for a 7 with clean and adversarial predictions, and the weights beside the FGSM example', async () => {
    const conn = await renderApp({ digit: 7 });
    fireEvent.click(screen.getByTestId('lab-tab-adversarial-training'));
    fireEvent.click(screen.getByTestId('lab-run-adversarial-training'));
    await screen.findByTestId('adv-training');
    const want = mockAdvTraining(conn.doneState().result!);
    expect(screen.getByTestId('adv-maxout-base-clean').textContent).toBe(want.maxout.base.clean.className);
    expect(screen.getByTestId('adv-maxout-trained-adv').textContent).toBe(want.maxout.trained.adversarial.className);
    expect(screen.getByTestId('adv-maxout-base').getAttribute('data-fooled')).toBe(String(want.maxout.base.success));
    expect(screen.getByTestId('adv-pair-lr')).toBeTruthy();
    expect(screen.getByTestId('lr-fgsm').textContent).toContain(`${want.lrFgsm.clean} → ${want.lrFgsm.adversarial}`);
    expect(screen.getByTestId('lr-w')).toBeTruthy();
    expect(screen.getByTestId('lr-sign')).toBeTruthy();
  });

  it('a digit that is not a 3 or a 7: the reason instead of the 3-vs-7 pair', async () => {
    await renderApp({ digit: 2 });
    fireEvent.click(screen.getByTestId('lab-tab-adversarial-training'));
    fireEvent.click(screen.getByTestId('lab-run-adversarial-training'));
    const note = await screen.findByTestId('adv-lr-note');
    expect(note.textContent).toContain('only know 3 and 7');
    expect(screen.queryByTestId('adv-pair-lr')).toBeNull();
  });

  it('weightImages: w centred on grey, sign(w) white / black', () => {
    const { w, sign, maxAbs } = weightImages({ width: 2, height: 1, values: [2, -1] });
    expect(maxAbs).toBe(2);
    expect(w.pixels).toEqual([1, 0.25]);
    expect(sign.pixels).toEqual([1, 0]);
  });

  it('keyboard: the tab list reaches the new tabs with the arrow keys and End', async () => {
    await renderApp();
    const first = screen.getByTestId('lab-tab-defenses');
    first.focus();
    fireEvent.keyDown(first, { key: 'End' });
    expect(screen.getByTestId('lab-tab-user-model').getAttribute('aria-selected')).toBe('true');
    fireEvent.keyDown(screen.getByTestId('lab-tab-user-model'), { key: 'ArrowLeft' });
    expect(screen.getByTestId('lab-tab-export').getAttribute('aria-selected')).toBe('true');
    fireEvent.keyDown(screen.getByTestId('lab-tab-export'), { key: 'ArrowLeft' });
    expect(screen.getByTestId('lab-tab-adversarial-training').getAttribute('aria-selected')).toBe('true');
    fireEvent.keyDown(screen.getByTestId('lab-tab-adversarial-training'), { key: 'ArrowRight' });
    expect(document.activeElement).toBe(screen.getByTestId('lab-tab-export'));
  });
});
