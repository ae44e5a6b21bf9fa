// @vitest-environment happy-dom
import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/preact';
import { afterEach, describe, expect, it } from 'vitest';
import { ATTACK_SPECS, defaultParams } from '../../src/core/attacks/specs';
import type { AttackChoice, ModelInfo, ProbeState } from '../../src/protocol/types';
import { App } from '../../src/popup/App';
import { hasSlider } from '../../src/popup/attack-draft';
import type { Connector } from '../../src/popup/connector';
import { formatNumber, formatPercent } from '../../src/popup/format';
import { createMockConnector, type MockConnector } from '../../src/popup/mock-connector';

afterEach(() => cleanup());

function text(testId: string): string {
  return screen.getByTestId(testId).textContent ?? '';
}

function input(testId: string): HTMLInputElement {
  return screen.getByTestId(testId) as HTMLInputElement;
}

function select(testId: string): HTMLSelectElement {
  return screen.getByTestId(testId) as HTMLSelectElement;
}

function runs(conn: MockConnector) {
  return conn.calls.flatMap((c) => (c.method === 'runAttack' ? [c.choice] : []));
}

async function renderDone(conn: Connector = createMockConnector()): Promise<void> {
  render(<App connector={conn} pollMs={20} />);
  await screen.findByTestId('prediction');
}

/** Pick `attack`, press Run, and wait for its outcome to be shown. */
async function runAttack(attack: string, edit?: () => void): Promise<void> {
  fireEvent.change(select('attack'), { target: { value: attack } });
  edit?.();
  fireEvent.click(screen.getByTestId('run-attack'));
  const name = ATTACK_SPECS.find((a) => a.id === attack)?.name ?? attack;
  await waitFor(() => expect(text('shown-attack')).toBe(name));
}

/** The parameter controls shown (fields, checkboxes, selects), by key. */
function paramKeys(): string[] {
  return Array.from(document.querySelectorAll('[data-testid^="param-"]'))
    .map((e) => e.getAttribute('data-testid') ?? '')
    .filter((id) => !id.endsWith('-range') && !id.endsWith('-error'))
    .map((id) => id.slice('param-'.length));
}

describe('attack lab: choosing an attack', () => {
  it('lists every attack with its paper, the VAE attacks in their own group', async () => {
    await renderDone();
    const groups = Array.from(select('attack').querySelectorAll('optgroup')).map((g) => [
      g.label,
      Array.from(g.querySelectorAll('option')).map((o) => o.value),
    ]);
    expect(groups).toEqual([
      ['Attacks on the classifier', ['fgsm', 'bim', 'jsma', 'cw-l2', 'lbfgs']],
      ['Attacks on the VAE (Kos et al.)', ['vae-classifier', 'vae-latent', 'vae-loss']],
    ]);
    for (const spec of ATTACK_SPECS) {
      const option = select('attack').querySelector(`option[value="${spec.id}"]`);
      expect(option?.textContent).toBe(`${spec.name} — ${spec.paper}`);
    }
    expect(text('threat')).toBe('misclassification | source–target × architecture (white-box)');
    expect(text('attack-kind')).toBe('fixed ε L∞');
    fireEvent.change(select('attack'), { target: { value: 'jsma' } });
    expect(text('threat')).toBe('source–target × architecture (white-box)');
    expect(text('attack-kind')).toBe('minimises L0 · iterative');
    expect(text('attack-paper')).toBe('Papernot et al. 2016');
  });

  it('selecting each attack shows its parameter controls with the paper defaults', async () => {
    await renderDone();
    for (const spec of ATTACK_SPECS) {
      fireEvent.change(select('attack'), { target: { value: spec.id } });
      expect(select('attack').value).toBe(spec.id);
      // The shown attack (FGSM, ε 0.1) keeps the values it ran with; the others start from the defaults.
      const values = spec.id === 'fgsm' ? { eps: 0.1, norm: 'inf' } : defaultParams(spec);
      expect(paramKeys()).toEqual(spec.params.map((p) => p.key));
      for (const p of spec.params) {
        const el = screen.getByTestId(`param-${p.key}`);
        const label = document.querySelector(`label[for="${el.id}"]`);
        expect(label?.textContent).toBe(p.label);
        if (p.type === 'boolean') {
          expect((el as HTMLInputElement).type).toBe('checkbox');
          expect((el as HTMLInputElement).checked).toBe(values[p.key]);
        } else if (p.type === 'choice') {
          expect(el.tagName).toBe('SELECT');
          expect((el as HTMLSelectElement).value).toBe(values[p.key]);
          expect(Array.from((el as HTMLSelectElement).options).map((o) => o.value)).toEqual(p.choices);
        } else {
          const field = el as HTMLInputElement;
          expect(field.type).toBe('number');
          expect(Number(field.value)).toBe(values[p.key]);
          expect(field.min).toBe(String(p.min));
          expect(field.max).toBe(String(p.max));
          expect(screen.queryByTestId(`param-${p.key}-range`) !== null).toBe(hasSlider(p));
        }
      }
      const untargeted = select('target').options[0];
      expect(untargeted.value).toBe('');
      expect(untargeted.textContent).toBe(spec.untargeted ? 'untargeted' : 'runner-up class (auto)');
    }
  });

  it('the slider and the field of a number parameter move together', async () => {
    await renderDone();
    fireEvent.input(input('param-eps-range'), { target: { value: '0.42' } });
    expect(input('param-eps').value).toBe('0.42');
    fireEvent.input(input('param-eps'), { target: { value: '0.07' } });
    expect(Number(input('param-eps-range').value)).toBe(0.07);
  });
});

describe('attack lab: running', () => {
  it('Run sends exactly the typed choice through the connector', async () => {
    const conn = createMockConnector();
    await renderDone(conn);
    const modelId = conn.doneState().modelId;
    fireEvent.change(select('attack'), { target: { value: 'bim' } });
    fireEvent.input(input('param-eps'), { target: { value: '0.3' } });
    fireEvent.input(input('param-stepSize'), { target: { value: '0.02' } });
    fireEvent.input(input('param-steps'), { target: { value: '10' } });
    fireEvent.change(select('param-norm'), { target: { value: '2' } });
    fireEvent.click(input('param-randomStart'));
    fireEvent.change(select('target'), { target: { value: '3' } });
    expect(runs(conn)).toEqual([]);
    fireEvent.click(screen.getByTestId('run-attack'));

    const sent: AttackChoice & { modelId: string } = {
      attack: 'bim',
      params: { eps: 0.3, stepSize: 0.02, steps: 10, norm: '2', randomStart: true },
      target: 3,
      modelId,
    };
    expect(runs(conn)).toEqual([sent]);
    await waitFor(() => expect(text('shown-attack')).toBe('Basic Iterative Method / PGD'));
    // The controls now show what ran.
    expect(input('param-eps').value).toBe('0.3');
    expect(select('param-norm').value).toBe('2');
    expect(input('param-randomStart').checked).toBe(true);
    expect(select('target').value).toBe('3');
    expect(text('shown-params')).toBe('ε 0.3 · Step size 0.02 · Steps 10 · Norm L2 · Random start (PGD) on');
    const shown = conn.lastState()?.result?.attack;
    expect(text('linf')).toBe(shown?.distances.linf.toFixed(3));
  });

  it('flags invalid values and blocks Run until they are fixed', async () => {
    const conn = createMockConnector();
    await renderDone(conn);
    fireEvent.input(input('param-eps'), { target: { value: '1.5' } });
    expect(input('param-eps').getAttribute('aria-invalid')).toBe('true');
    expect(text('param-eps-error')).toBe('0 to 1');
    expect((screen.getByTestId('run-attack') as HTMLButtonElement).disabled).toBe(true);
    fireEvent.input(input('param-eps'), { target: { value: '' } });
    expect(text('param-eps-error')).toBe('a number is needed');
    fireEvent.input(input('param-eps'), { target: { value: '0.2' } });
    expect(screen.queryByTestId('param-eps-error')).toBeNull();

    fireEvent.change(select('attack'), { target: { value: 'bim' } });
    fireEvent.input(input('param-steps'), { target: { value: '2.5' } });
    expect(text('param-steps-error')).toBe('a whole number is needed');
    fireEvent.click(screen.getByTestId('run-attack'));
    expect(runs(conn)).toEqual([]);
    fireEvent.input(input('param-steps'), { target: { value: '3' } });
    expect((screen.getByTestId('run-attack') as HTMLButtonElement).disabled).toBe(false);
  });

  it('a targeted-only attack sends target null for "runner-up (auto)" and shows the class it used', async () => {
    const conn = createMockConnector();
    await renderDone(conn);
    await runAttack('lbfgs');
    expect(runs(conn)[0].target).toBeNull();
    const used = conn.lastState()?.result?.attack.choice.target;
    expect(used).toBeTypeOf('number');
    expect(select('target').value).toBe(String(used));
    expect(screen.getByText(`target: ${String(used)}`)).toBeTruthy();
  });
});

describe('attack lab: progress and cancel', () => {
  it('shows a progress bar while an iterative attack runs; Cancel stops it and keeps the previous result', async () => {
    const conn = createMockConnector({ attackPolls: Infinity });
    await renderDone(conn);
    fireEvent.change(select('attack'), { target: { value: 'cw-l2' } });
    fireEvent.input(input('param-binarySteps'), { target: { value: '4' } });
    fireEvent.input(input('param-maxIterations'), { target: { value: '100' } });
    fireEvent.click(screen.getByTestId('run-attack'));

    const bar = await screen.findByTestId('progress');
    expect(bar.getAttribute('role')).toBe('progressbar');
    expect(bar.getAttribute('aria-valuemax')).toBe('400');
    await waitFor(() => expect(Number(screen.getByTestId('progress').getAttribute('aria-valuenow'))).toBeGreaterThan(0));
    expect(text('progress-phase')).toMatch(/^binary search \d\/4$/);
    expect(screen.getByTestId('progress-info-meanConst').textContent).toMatch(/^c /);
    expect(screen.getByTestId('status').textContent).toContain('attacking (Carlini-Wagner L2)');
    // The previous result stays, its controls disabled; Cancel is enabled.
    expect(text('shown-attack')).toBe('Fast Gradient Sign Method');
    expect((screen.getByTestId('run-attack') as HTMLButtonElement).disabled).toBe(true);
    const cancel = screen.getByTestId('cancel') as HTMLButtonElement;
    expect(cancel.disabled).toBe(false);

    fireEvent.click(cancel);
    expect(conn.calls.filter((c) => c.method === 'cancel')).toHaveLength(1);
    expect((await screen.findByTestId('cancelled')).textContent).toBe('Cancelled — showing the previous result');
    expect(screen.queryByTestId('progress')).toBeNull();
    expect(screen.queryByTestId('cancel')).toBeNull();
    expect(text('shown-attack')).toBe('Fast Gradient Sign Method');
    expect((screen.getByTestId('run-attack') as HTMLButtonElement).disabled).toBe(false);

    // The next run clears the notice.
    await runAttack('fgsm');
    await waitFor(() => expect(screen.queryByTestId('cancelled')).toBeNull());
  });

  it('a finished run replaces the progress with the new result', async () => {
    const conn = createMockConnector({ attackPolls: 2 });
    await renderDone(conn);
    fireEvent.change(select('attack'), { target: { value: 'bim' } });
    fireEvent.click(screen.getByTestId('run-attack'));
    await screen.findByTestId('progress');
    await waitFor(() => expect(text('shown-attack')).toBe('Basic Iterative Method / PGD'));
    expect(screen.queryByTestId('progress')).toBeNull();
    expect(screen.queryByTestId('cancelled')).toBeNull();
  });

  it('Cancel works while the run request is still waiting for its answer', async () => {
    const base = createMockConnector().doneState();
    const calls: string[] = [];
    let running = false;
    let answerRun: ((s: ProbeState) => void) | null = null;
    const cancelled: ProbeState = { ...base, error: { code: 'CANCELLED', message: 'The attack was cancelled.' } };
    const conn: Connector = {
      getState: async () =>
        running
          ? { ...base, status: 'running', stage: 'attacking', progress: { done: 3, total: 10, phase: 'step 4/10', info: { c: 0.5 } } }
          : base,
      runAttack: () => {
        calls.push('runAttack');
        running = true;
        return new Promise<ProbeState>((resolve) => {
          answerRun = resolve;
        });
      },
      cancel: async () => {
        calls.push('cancel');
        running = false;
        answerRun?.(cancelled);
        return cancelled;
      },
      listModels: async () => [],
    };
    await renderDone(conn);
    fireEvent.click(screen.getByTestId('run-attack'));
    // The pending request is polled for its progress.
    const bar = await screen.findByTestId('progress');
    expect(bar.getAttribute('aria-valuenow')).toBe('3');
    expect(bar.getAttribute('aria-valuemax')).toBe('10');
    expect(bar.getAttribute('aria-valuetext')).toBe('step 4/10: 3 of 10');
    expect(text('progress-phase')).toBe('step 4/10');
    expect(text('progress-info-c')).toBe(`c ${formatNumber(0.5)}`);
    const cancel = screen.getByTestId('cancel') as HTMLButtonElement;
    expect(cancel.disabled).toBe(false);
    fireEvent.click(cancel);
    await screen.findByTestId('cancelled');
    expect(calls).toEqual(['runAttack', 'cancel']);
    await waitFor(() => expect((screen.getByTestId('run-attack') as HTMLButtonElement).disabled).toBe(false));
    expect(screen.queryByTestId('cancel')).toBeNull();
  });

  it('a failing cancel is shown as an error', async () => {
    const conn = createMockConnector({ attackPolls: Infinity, throws: { cancel: Object.assign(new Error('gone'), { code: 'INTERNAL' }) } });
    await renderDone(conn);
    fireEvent.click(screen.getByTestId('run-attack'));
    fireEvent.click(await screen.findByTestId('cancel'));
    expect((await screen.findByTestId('error')).textContent).toContain('gone');
  });
});

describe('attack lab: per-attack views', () => {
  it('JSMA highlights the changed pixels and counts them', async () => {
    const conn = createMockConnector();
    await renderDone(conn);
    await runAttack('jsma', () => fireEvent.change(select('target'), { target: { value: '1' } }));
    const outcome = conn.lastState()?.result?.attack;
    if (!outcome) throw new Error('no outcome');
    const fig = screen.getByTestId('changed-pixels');
    expect(fig.querySelector('canvas')?.getAttribute('aria-label')).toBe('adversarial image with the changed pixels in colour');
    const n = outcome.distances.l0;
    expect(n).toBeGreaterThan(0);
    expect(text('changed-count')).toContain(`${n} of 784 pixels changed (${formatPercent(n / 784)})`);
    expect(text('l0')).toBe(String(n));
    expect(document.querySelectorAll('canvas')).toHaveLength(5);
  });

  it('CW-L2 shows its binary search over c, one row per constant', async () => {
    const conn = createMockConnector();
    await renderDone(conn);
    await runAttack('cw-l2', () => fireEvent.input(input('param-binarySteps'), { target: { value: '5' } }));
    const trace = conn.lastState()?.result?.attack.trace ?? [];
    expect(trace).toHaveLength(5);
    const table = screen.getByTestId('trace');
    expect(table.querySelector('caption')?.textContent).toBe('Binary search over c');
    const heads = Array.from(table.querySelectorAll('thead th')).map((th) => th.textContent);
    expect(heads).toEqual(['#', 'c', 'found', 'found so far', 'best L2', 'iterations']);
    for (let i = 0; i < 5; i++) {
      const cells = Array.from(screen.getByTestId(`trace-row-${i}`).querySelectorAll('th, td')).map((c) => c.textContent);
      const info = trace[i].info;
      expect(cells).toEqual([
        String(i + 1),
        formatNumber(info.meanConst),
        formatNumber(info.stepSuccesses),
        formatNumber(info.successes),
        formatNumber(info.meanBestL2),
        formatNumber(info.iterations),
      ]);
    }
    expect(screen.getByTestId('trace-row-0').querySelectorAll('td')[0].textContent).toBe('0.001');
    expect(screen.queryByTestId('trace-row-5')).toBeNull();
    expect(screen.queryByTestId('vae-panel')).toBeNull();
  });

  it('L-BFGS shows its line search over c', async () => {
    const conn = createMockConnector();
    await renderDone(conn);
    await runAttack('lbfgs', () => fireEvent.input(input('param-searchSteps'), { target: { value: '3' } }));
    expect(screen.getByTestId('trace').querySelector('caption')?.textContent).toBe('Line search over c');
    expect(screen.getAllByTestId(/^trace-row-/)).toHaveLength(3);
  });

  it('a VAE attack shows original, reconstruction, adversarial, its reconstruction with ŷ, and the target', async () => {
    const conn = createMockConnector();
    await renderDone(conn);
    await runAttack('vae-latent', () => fireEvent.change(select('target'), { target: { value: '3' } }));
    const outcome = conn.lastState()?.result?.attack;
    const vae = outcome?.vae;
    if (!outcome || !vae) throw new Error('no VAE outcome');
    const panel = screen.getByTestId('vae-panel');
    for (const id of ['img-vae-original', 'img-vae-recon', 'img-vae-adv', 'img-vae-adv-recon', 'img-vae-target']) {
      expect(panel.querySelector(`[data-testid="${id}"] canvas`)).not.toBeNull();
    }
    const yHat = vae.advReconstructionPrediction;
    expect(text('vae-adv-recon-label')).toBe(`ŷ = ${yHat.className} ${formatPercent(yHat.probs[yHat.label])}`);
    const rec = vae.reconstructionPrediction;
    expect(text('vae-recon-label')).toBe(`recon: ${rec.className} ${formatPercent(rec.probs[rec.label])}`);
    expect(text('vae-target-label')).toBe('target: 3');
    expect(text('success')).toBe(yHat.label === 3 ? 'fooled' : 'not fooled');
    expect(outcome.success).toBe(yHat.label === 3);
    expect(screen.queryByTestId('trace')).toBeNull();
  });
});

describe('attack lab: errors', () => {
  it('a VAE attack on a model that is not MNIST shows the error', async () => {
    const models: ModelInfo[] = [{ id: 'fashion', title: 'Fashion', dataset: 'fashion-mnist', testAccuracy: null }];
    const conn = createMockConnector({ models, modelId: 'fashion' });
    await renderDone(conn);
    fireEvent.change(select('attack'), { target: { value: 'vae-classifier' } });
    fireEvent.click(screen.getByTestId('run-attack'));
    const err = await screen.findByTestId('error');
    expect(err.getAttribute('data-code')).toBe('BAD_INPUT');
    expect(err.textContent).toContain('needs an MNIST model');
  });

  it('an error state from the background is shown with its code', async () => {
    const conn = createMockConnector({ status: 'error', error: { code: 'MODEL_LOAD_FAILED', message: 'vae.json: 404' } });
    render(<App connector={conn} />);
    const err = await screen.findByTestId('error');
    expect(err.getAttribute('data-code')).toBe('MODEL_LOAD_FAILED');
    expect(screen.queryByTestId('attack')).toBeNull();
  });
});
