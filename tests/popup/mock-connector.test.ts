import { describe, expect, it } from 'vitest';
import { ATTACK_SPECS, defaultParams } from '../../src/core/attacks/specs';
import { MOCK_CLASS_NAMES, createMockConnector, mockAttack, mockPredict, syntheticDigit } from '../../src/popup/mock-connector';

const x = syntheticDigit(7, 1.1, [0.6, -0.4]);

describe('mock model', () => {
  it('classifies every synthetic digit correctly', () => {
    for (let d = 0; d < 10; d++) {
      const img = syntheticDigit(d, 1.1, [0.6, -0.4]);
      expect(img.pixels).toHaveLength(28 * 28);
      expect(Math.max(...img.pixels)).toBe(1);
      expect(Math.min(...img.pixels)).toBe(0);
      const p = mockPredict(img.pixels);
      expect(p.label).toBe(d);
      expect(p.className).toBe(MOCK_CLASS_NAMES[d]);
      expect(p.probs.reduce((a, b) => a + b, 0)).toBeCloseTo(1);
    }
  });
});

describe('mock attacks', () => {
  it('computes a plausible FGSM outcome', () => {
    const none = mockAttack(x, { attack: 'fgsm', params: { eps: 0 }, target: null });
    expect(none.success).toBe(false);
    expect(none.distances).toEqual({ l0: 0, l2: 0, linf: 0 });
    expect(none.choice).toEqual({ attack: 'fgsm', params: { eps: 0, norm: 'inf' }, target: null });

    expect(mockAttack(x, { attack: 'fgsm', params: { eps: 0.05 }, target: null }).success).toBe(false);
    const strong = mockAttack(x, { attack: 'fgsm', params: { eps: 0.3 }, target: null });
    expect(strong.success).toBe(true);
    expect(strong.prediction.label).not.toBe(7);
    expect(strong.distances.linf).toBeLessThanOrEqual(0.3 + 1e-9);
    expect(strong.distances.l0).toBeGreaterThan(0);
    for (let i = 0; i < x.pixels.length; i++) {
      expect(strong.adversarial.pixels[i]).toBeGreaterThanOrEqual(0);
      expect(strong.adversarial.pixels[i]).toBeLessThanOrEqual(1);
      expect(strong.perturbation.pixels[i]).toBeCloseTo(strong.adversarial.pixels[i] - x.pixels[i]);
    }
    const targeted = mockAttack(x, { attack: 'fgsm', params: { eps: 0.3 }, target: 3 });
    expect(targeted.success).toBe(targeted.prediction.label === 3);
    const l2 = mockAttack(x, { attack: 'fgsm', params: { eps: 1, norm: '2' }, target: null });
    expect(l2.distances.l2).toBeLessThanOrEqual(1 + 1e-9);
    expect(l2.distances.l2).toBeGreaterThan(0.9);
  });

  it('runs BIM inside its ε-ball', () => {
    for (const norm of ['inf', '2']) {
      const o = mockAttack(x, { attack: 'bim', params: { eps: 0.2, stepSize: 0.02, steps: 20, norm, randomStart: true }, target: null });
      const d = norm === 'inf' ? o.distances.linf : o.distances.l2;
      expect(d).toBeLessThanOrEqual(0.2 + 1e-9);
    }
    const o = mockAttack(x, { attack: 'bim', params: {}, target: null });
    expect(o.success).toBe(true);
  });

  it('gives every attack an outcome of the right shape, with parameters resolved', () => {
    for (const spec of ATTACK_SPECS) {
      const o = mockAttack(x, { attack: spec.id, target: null });
      expect(o.choice.attack).toBe(spec.id);
      expect(o.choice.params).toEqual(defaultParams(spec));
      // Targeted-only attacks aim at the runner-up class when no target is given.
      if (spec.untargeted) expect(o.choice.target).toBeNull();
      else expect(o.choice.target).toBeTypeOf('number');
      expect(o.adversarial.pixels).toHaveLength(784);
      expect(o.perturbation.pixels).toHaveLength(784);
      expect(o.trace.length > 0).toBe(spec.id === 'cw-l2' || spec.id === 'lbfgs');
      expect(o.vae !== null).toBe(spec.model === 'vae');
      if (o.vae) expect(o.success).toBe(o.vae.advReconstructionPrediction.label === o.choice.target);
      else if (o.choice.target !== null) expect(o.success).toBe(o.prediction.label === o.choice.target);
    }
  });

  it('JSMA changes at most Υ of the pixels; CW traces its binary search', () => {
    const j = mockAttack(x, { attack: 'jsma', params: { maxDistortion: 0.05 }, target: 1 });
    expect(j.distances.l0).toBeGreaterThan(0);
    expect(j.distances.l0).toBeLessThanOrEqual(Math.floor(0.05 * 784));
    const cw = mockAttack(x, { attack: 'cw-l2', params: { binarySteps: 6 }, target: null });
    expect(cw.trace).toHaveLength(6);
    expect(cw.trace.map((t) => t.info.binaryStep)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(cw.trace[0].info.meanConst).toBe(0.001);
    expect(cw.success).toBe(true);
  });

  it('rejects unknown attacks and bad parameters', () => {
    expect(() => mockAttack(x, { attack: 'nope', target: null })).toThrow(/known attack/);
    expect(() => mockAttack(x, { attack: 'fgsm', params: { eps: 2 }, target: null })).toThrow(/eps/);
  });
});

describe('mock connector', () => {
  it('reports running, then done; error; idle; and records calls', async () => {
    const c = createMockConnector({ status: 'running', runningPolls: 2 });
    expect((await c.getState()).status).toBe('running');
    expect((await c.getState()).status).toBe('running');
    const done = await c.getState();
    expect(done.status).toBe('done');
    expect(done.result?.input.width).toBe(28);
    expect(done.progress).toBeNull();
    expect(c.calls).toEqual([{ method: 'getState' }, { method: 'getState' }, { method: 'getState' }]);

    const e = await createMockConnector({ status: 'error' }).getState();
    expect(e.status).toBe('error');
    expect(e.error?.code).toBe('CROSS_ORIGIN_BLOCKED');
    expect((await createMockConnector({ status: 'idle' }).getState()).result).toBeNull();
  });

  it('runs an attack with the given choice', async () => {
    const c = createMockConnector();
    const s0 = await c.getState();
    expect(s0.result?.attack.choice).toEqual({ attack: 'fgsm', params: { eps: 0.1, norm: 'inf' }, target: null });
    const s1 = await c.runAttack({ attack: 'fgsm', params: { eps: 0.3, norm: 'inf' }, target: null, modelId: s0.modelId });
    expect(s1.status).toBe('done');
    expect(s1.result?.attack.choice).toEqual({ attack: 'fgsm', params: { eps: 0.3, norm: 'inf' }, target: null });
    expect(s1.result?.attack.success).toBe(true);
    expect(s1.result?.id).not.toBe(s0.result?.id);
    expect(c.lastState()).toBe(s1);
    expect(c.calls.at(-1)).toEqual({ method: 'runAttack', choice: { attack: 'fgsm', params: { eps: 0.3, norm: 'inf' }, target: null, modelId: s0.modelId } });
    await expect(c.runAttack({ attack: 'fgsm', params: { eps: 2 }, target: null, modelId: s0.modelId })).rejects.toMatchObject({ code: 'BAD_MESSAGE' });
    await expect(c.runAttack({ attack: 'nope', params: {}, target: null, modelId: s0.modelId })).rejects.toMatchObject({ code: 'BAD_MESSAGE' });
    await expect(c.runAttack({ attack: 'fgsm', params: {}, target: 12, modelId: s0.modelId })).rejects.toMatchObject({ code: 'BAD_MESSAGE' });
    await expect(c.runAttack({ attack: 'fgsm', params: {}, target: null, modelId: 'nope' })).rejects.toMatchObject({ code: 'MODEL_NOT_FOUND' });
    expect(await c.listModels()).toHaveLength(1);
  });

  it('refuses VAE attacks on a model that is not MNIST', async () => {
    const c = createMockConnector({
      models: [
        { id: 'm', title: 'M', dataset: 'mnist', testAccuracy: null },
        { id: 'f', title: 'F', dataset: 'fashion-mnist', testAccuracy: null },
      ],
    });
    await expect(c.runAttack({ attack: 'vae-latent', params: {}, target: null, modelId: 'f' })).rejects.toMatchObject({ code: 'BAD_INPUT' });
    const s = await c.runAttack({ attack: 'vae-latent', params: {}, target: null, modelId: 'm' });
    expect(s.result?.attack.vae).not.toBeNull();
    const f = await c.runAttack({ attack: 'fgsm', params: {}, target: null, modelId: 'f' });
    expect(f.modelId).toBe('f');
    expect(f.result?.modelId).toBe('f');
  });

  it('with attackPolls, runs through running states with progress, then is done', async () => {
    const c = createMockConnector({ attackPolls: 3 });
    const s0 = await c.getState();
    const r = await c.runAttack({ attack: 'bim', params: { steps: 30 }, target: null, modelId: s0.modelId });
    expect(r.status).toBe('running');
    expect(r.result?.attack.choice.attack).toBe('fgsm'); // the previous result stays while it runs
    expect(r.progress).toMatchObject({ done: 0, total: 30, phase: 'step 1/30' });
    expect((await c.getState()).progress).toMatchObject({ done: 10, total: 30 });
    expect((await c.getState()).progress).toMatchObject({ done: 20, total: 30 });
    expect((await c.getState()).progress).toMatchObject({ done: 30, total: 30 });
    const done = await c.getState();
    expect(done.status).toBe('done');
    expect(done.progress).toBeNull();
    expect(done.result?.attack.choice.attack).toBe('bim');
  });

  it('cancel() stops a running attack: done with the previous result and CANCELLED', async () => {
    const c = createMockConnector({ attackPolls: Infinity });
    const s0 = await c.getState();
    await c.runAttack({ attack: 'cw-l2', params: {}, target: null, modelId: s0.modelId });
    const p = (await c.getState()).progress;
    expect(p?.total).toBe(9 * 1000);
    expect(p?.info).toMatchObject({ binaryStep: 1 });
    const s = await c.cancel();
    expect(s.status).toBe('done');
    expect(s.error?.code).toBe('CANCELLED');
    expect(s.result?.attack.choice.attack).toBe('fgsm');
    expect((await c.getState()).error?.code).toBe('CANCELLED');
    // Cancelling nothing changes nothing; the next run clears the notice.
    expect((await c.cancel()).status).toBe('done');
    const r = await createMockConnector().cancel();
    expect(r.error).toBeNull();
    expect(c.calls.filter((k) => k.method === 'cancel')).toHaveLength(2);
  });

  it('throws what it is told to throw', async () => {
    const c = createMockConnector({ throws: { getState: new Error('down'), cancel: new Error('no') } });
    await expect(c.getState()).rejects.toThrow('down');
    await expect(c.cancel()).rejects.toThrow('no');
  });
});
