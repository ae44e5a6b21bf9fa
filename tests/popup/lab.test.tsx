// @vitest-environment happy-dom
import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/preact';
import { afterEach, describe, expect, it } from 'vitest';
import { ProbeError } from '../../src/core/errors';
import { correctRuns } from '../../src/core/lab/sweep-common';
import { App } from '../../src/popup/App';
import { formatNumber, formatPercent } from '../../src/popup/format';
import { createMockConnector, type MockConnector, type MockConnectorOptions } from '../../src/popup/mock-connector';
import { MOCK_GP, MOCK_MAGNET, MOCK_TRANSFER_MODELS, mockDefenses, mockSweep, mockTransfer } from '../../src/popup/mock-lab';

afterEach(() => cleanup());

async function renderLab(opts: MockConnectorOptions = {}): Promise<MockConnector> {
  const conn = createMockConnector(opts);
  render(<App connector={conn} lab={conn} pollMs={10} />);
  await screen.findByTestId('lab');
  return conn;
}

const lab = () => within(screen.getByTestId('lab'));

describe('lab: defenses panel', () => {
  it('shows MagNet, GPDNN and ensemble for the clean image and the adversarial, side by side, with the calibration rates', async () => {
    const conn = await renderLab();
    fireEvent.click(screen.getByTestId('lab-run-defenses'));
    await screen.findByTestId('defenses');
    const r = conn.doneState().result!;
    const want = mockDefenses(r.id, r.modelId, r.attack.choice.attack, r.input, r.attack.adversarial);
    expect(screen.getByTestId('def-magnet-score-clean').textContent).toBe(formatNumber(want.clean.magnet.score));
    expect(screen.getByTestId('def-magnet-score-adv').textContent).toBe(formatNumber(want.adversarial.magnet.score));
    expect(screen.getByTestId('magnet-flagged-clean').getAttribute('data-value')).toBe(String(want.clean.magnet.flagged));
    expect(screen.getByTestId('magnet-flagged-adv').getAttribute('data-value')).toBe(String(want.adversarial.magnet.flagged));
    expect(screen.getByTestId('def-magnet-reformed-adv').textContent).toContain(want.adversarial.magnet.reformed.className);
    expect(screen.getByTestId('def-gp-entropy-adv').textContent).toBe(formatNumber(want.adversarial.gp.entropy));
    expect(screen.getByTestId('gp-unsure-clean').getAttribute('data-value')).toBe(String(want.clean.gp.unsure));
    expect(screen.getByTestId('def-ens-agreement-clean').textContent).toBe(formatPercent(want.clean.ensemble.agreement));
    const votes = screen.getByTestId('def-ens-votes-adv').textContent ?? '';
    const counted = [...votes.matchAll(/×(\d+)/g)].reduce((a, m) => a + Number(m[1]), 0);
    expect(counted).toBe(want.adversarial.ensemble.members);
    // The measured clean-test rate beside the stated one, from the calibration.
    expect(screen.getByTestId('magnet-rate').textContent).toContain(formatPercent(MOCK_MAGNET.cleanTestRate));
    expect(screen.getByTestId('magnet-rate').textContent).toContain(formatPercent(MOCK_MAGNET.fpr));
    expect(screen.getByTestId('gp-rate').textContent).toContain(MOCK_GP.consistent ? 'consistent' : 'not borne out');
    expect(screen.getByTestId('gp-table').querySelectorAll('tbody tr')).toHaveLength(10);
    expect(screen.getByTestId('noticed-magnet').getAttribute('data-value')).toBe(String(want.adversarial.magnet.flagged && !want.clean.magnet.flagged));
    expect(screen.getByTestId('noticed-ensemble').getAttribute('data-value')).toBe(String(want.adversarial.ensemble.agreement < want.clean.ensemble.agreement));
    expect(screen.getByTestId('ensemble-fooled').getAttribute('data-value')).toBe(String(want.adversarial.ensemble.majority !== want.clean.ensemble.majority));
    // Noticing is good news (green), a flag on an image is a warning (red).
    expect(screen.getByTestId('noticed-magnet').classList.contains(want.adversarial.magnet.flagged && !want.clean.magnet.flagged ? 'held' : 'fooled')).toBe(true);
    expect(screen.getByTestId('magnet-flagged-adv').classList.contains(want.adversarial.magnet.flagged ? 'fooled' : 'held')).toBe(true);
  });

  it('a result of an earlier probe is not shown once the attack is re-run', async () => {
    await renderLab();
    fireEvent.click(screen.getByTestId('lab-run-defenses'));
    await screen.findByTestId('defenses');
    fireEvent.click(screen.getByTestId('run-attack'));
    await waitFor(() => expect(screen.queryByTestId('defenses')).toBeNull());
  });

  it('an error shows its stable code in the lab, and the probe result stays', async () => {
    await renderLab({ throws: { defend: new ProbeError('MODEL_NOT_FOUND', 'The defense models are not available in this build.') } });
    fireEvent.click(screen.getByTestId('lab-run-defenses'));
    const err = await screen.findByTestId('lab-error');
    expect(err.getAttribute('data-code')).toBe('MODEL_NOT_FOUND');
    expect(screen.getByTestId('prediction')).toBeTruthy();
  });
});

describe('lab: ε-sweep', () => {
  it('is reached by keyboard, sends the chosen ε and points, and draws one line per class, the correct region and the strip', async () => {
    const conn = await renderLab();
    const first = screen.getByTestId('lab-tab-defenses');
    first.focus();
    fireEvent.keyDown(first, { key: 'ArrowRight' });
    const tab = screen.getByTestId('lab-tab-sweep');
    expect(tab.getAttribute('aria-selected')).toBe('true');
    expect(document.activeElement).toBe(tab);
    expect(screen.getByTestId('lab-panel-sweep').hidden).toBe(false);
    expect(screen.getByTestId('lab-panel-defenses').hidden).toBe(true);
    fireEvent.input(screen.getByTestId('sweep-eps'), { target: { value: '0.3' } });
    fireEvent.change(screen.getByTestId('sweep-points'), { target: { value: '21' } });
    fireEvent.click(screen.getByTestId('lab-run-sweep'));
    await screen.findByTestId('sweep');
    expect(conn.calls.filter((c) => c.method === 'sweep')).toEqual([{ method: 'sweep', maxEps: 0.3, points: 21 }]);
    const r = conn.doneState().result!;
    const want = mockSweep(r.id, r.modelId, r.input, 0.3, 21);
    const svg = screen.getByTestId('sweep-svg');
    expect(svg.querySelectorAll('path.sweep-line')).toHaveLength(10);
    expect(svg.querySelectorAll('path.sweep-line.correct')).toHaveLength(1);
    expect(svg.querySelector(`[data-testid="sweep-line-${want.label}"]`)?.getAttribute('class')).toContain('correct');
    expect(svg.querySelectorAll('[data-testid="sweep-correct"]')).toHaveLength(correctRuns(want.predicted, want.label).length);
    const cells = screen.getAllByTestId('strip-cell');
    expect(cells).toHaveLength(want.strip.length);
    cells.forEach((c, i) => expect(c.classList.contains('correct')).toBe(want.strip[i].predicted === want.label));
  });

  it('a bad ε is refused in the form with a message (no request)', async () => {
    const conn = await renderLab();
    fireEvent.click(screen.getByTestId('lab-tab-sweep'));
    fireEvent.input(screen.getByTestId('sweep-eps'), { target: { value: '5' } });
    expect((screen.getByTestId('lab-run-sweep') as HTMLButtonElement).disabled).toBe(true);
    expect(screen.getByTestId('sweep-eps-error').textContent).toContain('(0, 2]');
    fireEvent.submit(screen.getByTestId('lab-run-sweep').closest('form')!);
    expect(conn.calls.some((c) => c.method === 'sweep')).toBe(false);
  });
});

describe('lab: transfer chart', () => {
  it('one bar per model with its prediction, confidence and fooled flag; the rate leaves out the attacked model', async () => {
    const conn = await renderLab({ modelId: 'mnist-mock', choice: { attack: 'fgsm', params: { eps: 0.3 } } });
    fireEvent.click(screen.getByTestId('lab-tab-transfer'));
    fireEvent.click(screen.getByTestId('lab-run-transfer'));
    await screen.findByTestId('transfer');
    const r = conn.doneState().result!;
    const want = mockTransfer(r.id, r.modelId, r.attack.choice.attack, r.input, r.attack.adversarial);
    expect(want.rows).toHaveLength(MOCK_TRANSFER_MODELS.length);
    for (const row of want.rows) {
      const g = screen.getByTestId(`transfer-row-${row.modelId}`);
      expect(g.getAttribute('data-fooled')).toBe(String(row.fooled));
      expect(g.textContent).toContain(`${row.advClass} ${formatPercent(row.advConfidence)}`);
    }
    const others = want.rows.filter((x) => !x.source);
    expect(screen.getByTestId('transfer-rate').textContent).toContain(`${others.filter((x) => x.fooled).length} of ${others.length}`);
  });
});

describe('lab: progress and cancel', () => {
  it('shows progress while a lab computation runs, then its result', async () => {
    const conn = await renderLab({ labPolls: 4 });
    fireEvent.click(screen.getByTestId('lab-run-defenses'));
    const bar = await screen.findByTestId('lab-progress');
    await waitFor(() => expect(bar.getAttribute('aria-valuenow')).not.toBeNull());
    expect(Number(bar.getAttribute('aria-valuemax'))).toBe(3);
    expect((screen.getByTestId('lab-run-sweep') as HTMLButtonElement).disabled).toBe(true);
    await screen.findByTestId('defenses');
    expect(screen.queryByTestId('lab-progress')).toBeNull();
    expect(conn.calls.filter((c) => c.method === 'labProgress').length).toBeGreaterThanOrEqual(4);
  });

  it('Cancel stops a computation that would never end: the background is told, the controls come back, no result', async () => {
    const conn = await renderLab({ labPolls: Number.POSITIVE_INFINITY });
    fireEvent.click(screen.getByTestId('lab-tab-transfer'));
    fireEvent.click(screen.getByTestId('lab-run-transfer'));
    await screen.findByTestId('lab-progress');
    fireEvent.click(screen.getByTestId('lab-cancel'));
    expect((await screen.findByTestId('lab-notice')).textContent).toBe('Cancelled');
    await waitFor(() => expect(conn.calls.some((c) => c.method === 'cancelLab')).toBe(true));
    expect(screen.queryByTestId('lab-progress')).toBeNull();
    expect(screen.queryByTestId('transfer')).toBeNull();
    expect(screen.queryByTestId('lab-error')).toBeNull();
    expect((screen.getByTestId('lab-run-transfer') as HTMLButtonElement).disabled).toBe(false);
    // The lab area keeps its place: the status row is always rendered.
    expect(lab().getByTestId('lab-status')).toBeTruthy();
  });

  it('the lab is not shown without a lab connector (the popup works as before)', async () => {
    const conn = createMockConnector();
    render(<App connector={conn} pollMs={10} />);
    await screen.findByTestId('prediction');
    expect(screen.queryByTestId('lab')).toBeNull();
  });
});
