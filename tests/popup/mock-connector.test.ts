import { describe, expect, it } from 'vitest';
import { MOCK_CLASS_NAMES, createMockConnector, mockFgsm, mockPredict, syntheticDigit } from '../../src/popup/mock-connector';

describe('mock connector', () => {
  it('classifies every synthetic digit correctly', () => {
    for (let d = 0; d < 10; d++) {
      const x = syntheticDigit(d, 1.1, [0.6, -0.4]);
      expect(x.pixels).toHaveLength(28 * 28);
      expect(Math.max(...x.pixels)).toBe(1);
      expect(Math.min(...x.pixels)).toBe(0);
      const p = mockPredict(x.pixels);
      expect(p.label).toBe(d);
      expect(p.className).toBe(MOCK_CLASS_NAMES[d]);
      expect(p.probs.reduce((a, b) => a + b, 0)).toBeCloseTo(1);
    }
  });

  it('computes a plausible FGSM outcome', () => {
    const x = syntheticDigit(7, 1.1, [0.6, -0.4]);
    const none = mockFgsm(x, { eps: 0, target: null });
    expect(none.success).toBe(false);
    expect(none.distances).toEqual({ l0: 0, l2: 0, linf: 0 });

    const weak = mockFgsm(x, { eps: 0.05, target: null });
    expect(weak.success).toBe(false);
    const strong = mockFgsm(x, { eps: 0.3, target: null });
    expect(strong.success).toBe(true);
    expect(strong.prediction.label).not.toBe(7);
    expect(strong.distances.linf).toBeLessThanOrEqual(0.3 + 1e-9);
    expect(strong.distances.l0).toBeGreaterThan(0);
    for (let i = 0; i < x.pixels.length; i++) {
      expect(strong.adversarial.pixels[i]).toBeGreaterThanOrEqual(0);
      expect(strong.adversarial.pixels[i]).toBeLessThanOrEqual(1);
      expect(strong.perturbation.pixels[i]).toBeCloseTo(strong.adversarial.pixels[i] - x.pixels[i]);
    }
    const targeted = mockFgsm(x, { eps: 0.3, target: 3 });
    expect(targeted.success).toBe(targeted.prediction.label === 3);
  });

  it('reports running, then done; error; idle; and records calls', async () => {
    const c = createMockConnector({ status: 'running', runningPolls: 2 });
    expect((await c.getState()).status).toBe('running');
    expect((await c.getState()).status).toBe('running');
    const done = await c.getState();
    expect(done.status).toBe('done');
    expect(done.result?.input.width).toBe(28);
    expect(c.calls).toEqual([{ method: 'getState' }, { method: 'getState' }, { method: 'getState' }]);

    const e = await createMockConnector({ status: 'error' }).getState();
    expect(e.status).toBe('error');
    expect(e.error?.code).toBe('CROSS_ORIGIN_BLOCKED');
    expect((await createMockConnector({ status: 'idle' }).getState()).result).toBeNull();
  });

  it('re-runs FGSM with the given parameters', async () => {
    const c = createMockConnector();
    const s0 = await c.getState();
    const s1 = await c.runFgsm({ eps: 0.3, target: null, modelId: s0.modelId });
    expect(s1.result?.fgsm.params).toEqual({ eps: 0.3, target: null });
    expect(s1.result?.fgsm.success).toBe(true);
    expect(c.lastState()).toBe(s1);
    await expect(c.runFgsm({ eps: 2, target: null, modelId: s0.modelId })).rejects.toMatchObject({ code: 'BAD_MESSAGE' });
    await expect(c.runFgsm({ eps: 0.1, target: null, modelId: 'nope' })).rejects.toMatchObject({ code: 'MODEL_NOT_FOUND' });
    expect(await c.listModels()).toHaveLength(1);
  });

  it('throws what it is told to throw', async () => {
    const c = createMockConnector({ throws: { getState: new Error('down') } });
    await expect(c.getState()).rejects.toThrow('down');
  });
});
