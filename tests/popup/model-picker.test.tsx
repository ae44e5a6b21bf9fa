// @vitest-environment happy-dom
import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/preact';
import { afterEach, describe, expect, it } from 'vitest';
import { attackMeta, defaultParams } from '../../src/core/attacks/specs';
import type { AttackChoice, ModelInfo, ProbeState } from '../../src/protocol/types';
import { App } from '../../src/popup/App';
import type { Connector } from '../../src/popup/connector';
import { createMockConnector } from '../../src/popup/mock-connector';

afterEach(() => cleanup());

const MODELS: ModelInfo[] = [
  { id: 'mnist-template', title: 'LeNet CNN', dataset: 'mnist', testAccuracy: 0.9935 },
  { id: 'mnist-lr-3v7', title: 'Logistic regression, 3 vs 7', dataset: 'mnist-3v7', testAccuracy: 0.99 },
  { id: 'fashion-cnn', title: 'Fashion-MNIST CNN', dataset: 'fashion-mnist', testAccuracy: 0.91 },
];

type Run = AttackChoice & { readonly modelId: string };

function connectorWithModels(models: ModelInfo[] | Error): Connector & { runs: Run[] } {
  const mock = createMockConnector({});
  const runs: Run[] = [];
  const base = mock.doneState();
  return {
    runs,
    getState: async () => ({ ...base, modelId: 'mnist-template' }),
    runAttack: async (p) => {
      runs.push(p);
      const result = base.result && { ...base.result, id: `run-${runs.length}`, modelId: p.modelId };
      return { ...base, result, modelId: p.modelId, job: base.job + runs.length } satisfies ProbeState;
    },
    cancel: async () => base,
    listModels: async () => {
      if (models instanceof Error) throw models;
      return models;
    },
  };
}

describe('model picker', () => {
  it('lists the models grouped by dataset, with their measured accuracy', async () => {
    render(<App connector={connectorWithModels(MODELS)} />);
    const select = (await screen.findByTestId('model')) as HTMLSelectElement;
    const groups = Array.from(select.querySelectorAll('optgroup')).map((g) => [g.label, Array.from(g.querySelectorAll('option')).map((o) => o.value)]);
    expect(groups).toEqual([
      ['MNIST', ['mnist-template', 'mnist-lr-3v7']],
      ['Fashion-MNIST', ['fashion-cnn']],
    ]);
    expect(select.value).toBe('mnist-template');
    expect(select.textContent).toContain('99.4%');
  });

  it('choosing a model re-runs the shown attack with it (same parameters, untargeted)', async () => {
    const conn = connectorWithModels(MODELS);
    render(<App connector={conn} />);
    const select = (await screen.findByTestId('model')) as HTMLSelectElement;
    fireEvent.change(select, { target: { value: 'fashion-cnn' } });
    await waitFor(() => expect(conn.runs).toHaveLength(1));
    expect(conn.runs[0]).toEqual({ attack: 'fgsm', params: { eps: 0.1, norm: 'inf' }, target: null, modelId: 'fashion-cnn' });
    await waitFor(() => expect((screen.getByTestId('model') as HTMLSelectElement).value).toBe('fashion-cnn'));
  });

  it('choosing a model re-runs the attack set in the controls, target reset', async () => {
    const cw = attackMeta('cw-l2');
    if (!cw) throw new Error('no CW spec');
    const conn = connectorWithModels(MODELS);
    render(<App connector={conn} />);
    await screen.findByTestId('model');
    fireEvent.change(screen.getByTestId('attack'), { target: { value: 'cw-l2' } });
    fireEvent.input(screen.getByTestId('param-confidence'), { target: { value: '5' } });
    fireEvent.input(screen.getByTestId('param-binarySteps'), { target: { value: '4' } });
    fireEvent.change(screen.getByTestId('target'), { target: { value: '3' } });
    fireEvent.change(screen.getByTestId('model'), { target: { value: 'mnist-lr-3v7' } });
    await waitFor(() => expect(conn.runs).toHaveLength(1));
    expect(conn.runs[0]).toEqual({
      attack: 'cw-l2',
      params: { ...defaultParams(cw), confidence: 5, binarySteps: 4 },
      target: null,
      modelId: 'mnist-lr-3v7',
    });
  });

  it('is hidden when the model list cannot be had, and the result still shows', async () => {
    render(<App connector={connectorWithModels(new Error('asleep'))} />);
    await screen.findByTestId('prediction');
    expect(screen.queryByTestId('model')).toBeNull();
  });
});
