// @vitest-environment happy-dom
import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/preact';
import { afterEach, describe, expect, it } from 'vitest';
import type { FgsmParams, ModelInfo, ProbeState } from '../../src/protocol/types';
import { App } from '../../src/popup/App';
import type { Connector } from '../../src/popup/connector';
import { createMockConnector } from '../../src/popup/mock-connector';

afterEach(() => cleanup());

const MODELS: ModelInfo[] = [
  { id: 'mnist-template', title: 'LeNet CNN', dataset: 'mnist', testAccuracy: 0.9935 },
  { id: 'mnist-lr-3v7', title: 'Logistic regression, 3 vs 7', dataset: 'mnist-3v7', testAccuracy: 0.99 },
  { id: 'fashion-cnn', title: 'Fashion-MNIST CNN', dataset: 'fashion-mnist', testAccuracy: 0.91 },
];

function connectorWithModels(models: ModelInfo[] | Error): Connector & { runs: (FgsmParams & { modelId: string })[] } {
  const mock = createMockConnector({});
  const runs: (FgsmParams & { modelId: string })[] = [];
  const base = mock.doneState();
  return {
    runs,
    getState: async () => ({ ...base, modelId: 'mnist-template' }),
    runFgsm: async (p) => {
      runs.push(p);
      return { ...base, modelId: p.modelId, job: base.job + runs.length } satisfies ProbeState;
    },
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

  it('choosing a model re-runs the probe with it (untargeted, same ε)', async () => {
    const conn = connectorWithModels(MODELS);
    render(<App connector={conn} />);
    const select = (await screen.findByTestId('model')) as HTMLSelectElement;
    fireEvent.change(select, { target: { value: 'fashion-cnn' } });
    await waitFor(() => expect(conn.runs).toHaveLength(1));
    expect(conn.runs[0].modelId).toBe('fashion-cnn');
    expect(conn.runs[0].target).toBeNull();
    await waitFor(() => expect((screen.getByTestId('model') as HTMLSelectElement).value).toBe('fashion-cnn'));
  });

  it('is hidden when the model list cannot be had, and the result still shows', async () => {
    render(<App connector={connectorWithModels(new Error('asleep'))} />);
    await screen.findByTestId('prediction');
    expect(screen.queryByTestId('model')).toBeNull();
  });
});
