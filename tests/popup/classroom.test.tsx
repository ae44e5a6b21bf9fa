// @vitest-environment happy-dom
import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/preact';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { App } from '../../src/popup/App';
import { CLASSROOM_EPS, CLASSROOM_TABS, Classroom, classroomChoice, initialEps, stepEps } from '../../src/popup/components/Classroom';
import { formatEps, formatPercent } from '../../src/popup/format';
import { createMockConnector, type MockConnector, type MockConnectorOptions } from '../../src/popup/mock-connector';
import { CLASSROOM_PAGE, classroomUrl } from '../../src/popup/tab-id';

afterEach(() => cleanup());

async function renderClassroom(opts: MockConnectorOptions = {}, idleMs = 40): Promise<MockConnector> {
  const conn = createMockConnector(opts);
  render(<Classroom connector={conn} lab={conn} pollMs={10} idleMs={idleMs} />);
  await screen.findByTestId('cr-images');
  return conn;
}

const runs = (conn: MockConnector) => conn.calls.filter((c) => c.method === 'runAttack');
const epsOf = (conn: MockConnector, i: number): unknown => {
  const c = runs(conn)[i];
  return c && c.method === 'runAttack' ? c.choice.params.eps : undefined;
};

describe('classroom: pure helpers', () => {
  it('the slider re-runs FGSM and BIM with only ε changed, any other attack as untargeted FGSM', () => {
    expect(classroomChoice({ attack: 'bim', params: { eps: 0.1, alpha: 0.01, steps: 7 }, target: 3 }, 0.2)).toEqual({ attack: 'bim', params: { eps: 0.2, alpha: 0.01, steps: 7 }, target: 3 });
    expect(classroomChoice({ attack: 'fgsm', params: { eps: 0.1 }, target: null }, 0.3)).toEqual({ attack: 'fgsm', params: { eps: 0.3 }, target: null });
    expect(classroomChoice({ attack: 'cw-l2', params: { confidence: 0 }, target: 2 }, 0.15)).toEqual({ attack: 'fgsm', params: { eps: 0.15 }, target: null });
    expect(classroomChoice(null, 0.05)).toEqual({ attack: 'fgsm', params: { eps: 0.05 }, target: null });
  });

  it('ε steps are clamped to the slider range and rounded to its step', () => {
    expect(stepEps(0.1, 1)).toBe(0.11);
    expect(stepEps(0.3, -2)).toBe(0.28);
    expect(stepEps(CLASSROOM_EPS.max, 1)).toBe(CLASSROOM_EPS.max);
    expect(stepEps(CLASSROOM_EPS.min, -1)).toBe(CLASSROOM_EPS.min);
    expect(initialEps(null)).toBe(0.25);
  });

  it('the classroom URL carries the probed tab as ?tab=', () => {
    expect(classroomUrl(`chrome-extension://abc/${CLASSROOM_PAGE}`, 42)).toBe('chrome-extension://abc/src/popup/classroom.html?tab=42');
    expect(classroomUrl('chrome-extension://abc/x.html', null)).toBe('chrome-extension://abc/x.html');
  });
});

describe('classroom view (mock connector)', () => {
  it('shows original, amplified perturbation and adversarial with prediction and confidence, and the key help', async () => {
    const conn = await renderClassroom();
    const r = conn.doneState().result!;
    expect(screen.getByTestId('cr-original-class').textContent).toBe(r.prediction.className);
    expect(screen.getByTestId('cr-original-conf').textContent).toBe(formatPercent(r.prediction.probs[r.prediction.label]));
    expect(screen.getByTestId('cr-adv-class').textContent).toBe(r.attack.prediction.className);
    expect(screen.getByTestId('cr-adv-conf').textContent).toBe(formatPercent(r.attack.prediction.probs[r.attack.prediction.label]));
    expect(screen.getByTestId('cr-eps-value').textContent).toBe(formatEps(r.attack.choice.params.eps as number));
    const help = screen.getByTestId('cr-help').textContent ?? '';
    for (const k of ['←', '→', 'Enter', 'Esc', '1 Defenses', '6 Saliency']) expect(help).toContain(k);
    // The lab below offers the six charts only, in the keys' order.
    const tabs = within(screen.getByTestId('lab')).getAllByRole('tab').map((t) => t.getAttribute('data-testid'));
    expect(tabs).toEqual(CLASSROOM_TABS.map((t) => `lab-tab-${t}`));
  });

  it('→ twice moves ε by two steps and re-runs once after the idle time; the new result is shown', async () => {
    const conn = await renderClassroom();
    const eps0 = conn.doneState().result!.attack.choice.params.eps as number;
    fireEvent.keyDown(document.body, { key: 'ArrowRight' });
    fireEvent.keyDown(document.body, { key: 'ArrowRight' });
    const want = stepEps(eps0, 2);
    expect(screen.getByTestId('cr-eps-value').textContent).toBe(formatEps(want));
    expect(runs(conn)).toHaveLength(0);
    await waitFor(() => expect(runs(conn)).toHaveLength(1));
    expect(epsOf(conn, 0)).toBe(want);
    await waitFor(() => expect(screen.getByTestId('cr-attack').textContent).toBe(`FGSM ε ${formatEps(want)}`));
    const r = conn.doneState().result!;
    expect(screen.getByTestId('cr-adv-class').textContent).toBe(r.attack.prediction.className);
    await new Promise((res) => setTimeout(res, 80));
    expect(runs(conn)).toHaveLength(1);
  });

  it('← then Enter re-runs at once; a slider release re-runs at once', async () => {
    const conn = await renderClassroom({}, 10_000);
    const eps0 = conn.doneState().result!.attack.choice.params.eps as number;
    fireEvent.keyDown(document.body, { key: 'ArrowLeft' });
    fireEvent.keyDown(document.body, { key: 'Enter' });
    await waitFor(() => expect(runs(conn)).toHaveLength(1));
    expect(epsOf(conn, 0)).toBe(stepEps(eps0, -1));
    await waitFor(() => expect(screen.getByTestId('classroom').getAttribute('data-busy')).toBe('false'));
    const slider = screen.getByTestId('cr-eps') as HTMLInputElement;
    slider.value = '0.4';
    fireEvent.change(slider);
    await waitFor(() => expect(runs(conn)).toHaveLength(2));
    expect(epsOf(conn, 1)).toBe(0.4);
  });

  it('a new run cancels the one still running first; Esc cancels and keeps the previous result', async () => {
    const conn = await renderClassroom({ attackPolls: Infinity }, 10_000);
    const before = screen.getByTestId('cr-adv-class').textContent;
    fireEvent.keyDown(document.body, { key: 'Enter' });
    await waitFor(() => expect(screen.getByTestId('classroom').getAttribute('data-busy')).toBe('true'));
    fireEvent.keyDown(document.body, { key: 'ArrowRight' });
    fireEvent.keyDown(document.body, { key: 'Enter' });
    await waitFor(() => expect(runs(conn)).toHaveLength(2));
    const order = conn.calls.map((c) => c.method).filter((m) => m === 'runAttack' || m === 'cancel');
    expect(order).toEqual(['runAttack', 'cancel', 'runAttack']);
    fireEvent.keyDown(document.body, { key: 'Escape' });
    await waitFor(() => expect(screen.getByTestId('cr-line').textContent).toBe('Cancelled — showing the previous result'));
    expect(screen.getByTestId('classroom').getAttribute('data-busy')).toBe('false');
    expect(screen.getByTestId('cr-adv-class').textContent).toBe(before);
    expect(conn.calls.filter((c) => c.method === 'cancel').length).toBe(2);
  });

  it('keys 1–6 pick the chart tabs; typing in a field does not steer ε', async () => {
    const conn = await renderClassroom();
    fireEvent.keyDown(document.body, { key: '6' });
    expect(screen.getByTestId('lab-tab-saliency').getAttribute('aria-selected')).toBe('true');
    fireEvent.keyDown(document.body, { key: '2' });
    expect(screen.getByTestId('lab-tab-sweep').getAttribute('aria-selected')).toBe('true');
    const eps = screen.getByTestId('cr-eps-value').textContent;
    fireEvent.keyDown(screen.getByTestId('sweep-eps'), { key: 'ArrowRight' });
    fireEvent.keyDown(screen.getByTestId('sweep-eps'), { key: '4' });
    expect(screen.getByTestId('cr-eps-value').textContent).toBe(eps);
    expect(screen.getByTestId('lab-tab-sweep').getAttribute('aria-selected')).toBe('true');
    await new Promise((res) => setTimeout(res, 80));
    expect(runs(conn)).toHaveLength(0);
  });

  it('the saliency chart runs from the classroom through the lab', async () => {
    await renderClassroom();
    fireEvent.keyDown(document.body, { key: '6' });
    fireEvent.click(screen.getByTestId('lab-run-saliency'));
    expect((await screen.findByTestId('saliency')).getAttribute('data-target')).not.toBeNull();
  });

  it('without a probe it says what to do; an error state is shown with its code', async () => {
    render(<Classroom connector={createMockConnector({ status: 'idle' })} lab={createMockConnector()} />);
    expect((await screen.findByTestId('cr-idle')).textContent).toContain('Probe this image');
    cleanup();
    const c = createMockConnector({ status: 'error' });
    render(<Classroom connector={c} lab={c} />);
    await waitFor(() => expect(screen.getByTestId('classroom').getAttribute('data-status')).toBe('error'));
  });
});

describe('popup: Open classroom view', () => {
  it('the button calls the opener; without one there is no button', async () => {
    const conn = createMockConnector();
    const open = vi.fn();
    render(<App connector={conn} lab={conn} onOpenClassroom={open} />);
    fireEvent.click(await screen.findByTestId('open-classroom'));
    expect(open).toHaveBeenCalledTimes(1);
    cleanup();
    render(<App connector={conn} lab={conn} />);
    await screen.findByTestId('lab');
    expect(screen.queryByTestId('open-classroom')).toBeNull();
  });
});
