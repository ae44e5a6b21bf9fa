import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ATTACK_IDS, ATTACKS, CLASSIFIER_ATTACKS, distances, resolveParams, type ClassifierAttackSpec, type ParamValues } from '../../../src/core/attacks';
import { ProbeError } from '../../../src/core/errors';
import type { Classifier } from '../../../src/core/models/types';
import { randomImages, tinyClassifier } from '../../helpers/tiny';

/**
 * One table-driven contract for every registered classifier attack (Foolbox 3 style): output shape and
 * box, determinism, no tensor leak (untargeted and targeted), cancel within one step; fixed-ε attacks:
 * ε = 0 is the identity and ‖δ‖ ≤ ε in every norm they support; minimization attacks: their
 * successes are real (the model's prediction on the output meets the goal).
 */
beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Cheaper settings for the slow minimization attacks (the contract, not the strength, is tested here). */
const FAST: Record<string, Record<string, unknown>> = {
  bim: { steps: 5 },
  'cw-l2': { binarySteps: 3, maxIterations: 60, learningRate: 0.05, initialConst: 1 },
  lbfgs: { searchSteps: 3, maxIterations: 20 },
};

const params = (a: ClassifierAttackSpec, extra: Record<string, unknown> = {}): ParamValues => resolveParams(a, { ...FAST[a.id], ...extra });

let model: Classifier;
let x: tf.Tensor4D;
beforeAll(() => {
  model = tinyClassifier();
  x = randomImages(6);
});

it('every attack id of the specs is runnable (the registry binds each to its code)', () => {
  expect(ATTACKS.map((a) => a.id)).toEqual([...ATTACK_IDS]);
});

it('the registry’s defaults are the attack modules’ own defaults (one source of the paper values)', async () => {
  const { CW_L2_DEFAULTS } = await import('../../../src/core/attacks/cw');
  const { LBFGS_DEFAULTS } = await import('../../../src/core/attacks/lbfgs');
  const { defaultParams } = await import('../../../src/core/attacks/specs');
  const byId = (id: string) => defaultParams(ATTACKS.find((a) => a.id === id)!);
  const cw = byId('cw-l2');
  for (const k of Object.keys(cw)) expect(cw[k], k).toBe((CW_L2_DEFAULTS as Record<string, unknown>)[k]);
  const lb = byId('lbfgs');
  for (const k of Object.keys(lb)) expect(lb[k], k).toBe((LBFGS_DEFAULTS as Record<string, unknown>)[k]);
});

const isCancelled = (e: unknown): boolean => e instanceof ProbeError && e.code === 'CANCELLED';

describe.each(CLASSIFIER_ATTACKS.map((a) => ({ id: a.id, attack: a })))('$id', ({ attack }) => {
  it('has a paper, threat model and valid parameter defaults', () => {
    expect(attack.paper).toMatch(/\d{4}/);
    expect(attack.threat.goals.length).toBeGreaterThan(0);
    expect(attack.targeted || attack.untargeted).toBe(true);
    for (const p of attack.params) {
      if (p.type === 'number' || p.type === 'integer') expect(p.default).toBeGreaterThanOrEqual(p.min);
      if (p.type === 'number' || p.type === 'integer') expect(p.default).toBeLessThanOrEqual(p.max);
      if (p.type === 'choice') expect(p.choices).toContain(p.default);
    }
    expect(() => resolveParams(attack, { noSuchParam: 1 })).toThrow(ProbeError);
  });

  it('returns a batch of the input shape inside the input box, deterministically', async () => {
    const a = await attack.run(model, x, { params: params(attack) });
    const b = await attack.run(model, x, { params: params(attack) });
    expect(a.adv.shape).toEqual(x.shape);
    expect(tf.min(a.adv).arraySync()).toBeGreaterThanOrEqual(model.inputRange.min);
    expect(tf.max(a.adv).arraySync()).toBeLessThanOrEqual(model.inputRange.max);
    expect(tf.max(tf.abs(tf.sub(a.adv, b.adv))).arraySync()).toBe(0);
    tf.dispose([a.adv, b.adv]);
  });

  it('leaks no tensors (untargeted and targeted)', async () => {
    const y = tf.tensor1d([1, 2, 3, 4, 5, 6], 'int32');
    const before = tf.memory().numTensors;
    (await attack.run(model, x, { params: params(attack) })).adv.dispose();
    if (attack.targeted) (await attack.run(model, x, { params: params(attack), y, targeted: true })).adv.dispose();
    expect(tf.memory().numTensors).toBe(before);
    y.dispose();
  });

  if (attack.iterative) {
    it('cancels within one step with CANCELLED and leaks nothing', async () => {
      const before = tf.memory().numTensors;
      const ctl = new AbortController();
      let steps = 0;
      let after = 0;
      const run = attack.run(model, x, { params: params(attack) }, {
        signal: ctl.signal,
        onProgress: () => {
          steps++;
          if (ctl.signal.aborted) after++;
          if (steps === 2) ctl.abort();
        },
      });
      await expect(run).rejects.toSatisfy(isCancelled);
      expect(after).toBeLessThanOrEqual(1);
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  if (attack.kind === 'fixed-eps') {
    describe.each(attack.norms.map((norm) => ({ norm: norm === 'inf' ? 'inf' : '2' })))('norm $norm', ({ norm }) => {
      it('ε = 0 returns the input unchanged', async () => {
        const { adv } = await attack.run(model, x, { params: params(attack, { eps: 0, norm }) });
        expect(tf.max(tf.abs(tf.sub(adv, x))).arraySync()).toBe(0);
        adv.dispose();
      });

      it.each([0.01, 0.1, 0.3])('ε = %f: ‖δ‖ ≤ ε and the budget is used', async (eps) => {
        // Iterative attacks get steps long enough to reach the boundary of the ball.
        const stepSize = attack.params.some((p) => p.key === 'stepSize') ? { stepSize: eps / 4 } : {};
        const { adv } = await attack.run(model, x, { params: params(attack, { eps, norm, ...stepSize }) });
        const d = distances(adv, x);
        const worst = (norm === 'inf' ? d.linf : d.l2).max().arraySync() as number;
        expect(worst).toBeLessThanOrEqual(eps + 1e-5);
        expect(worst).toBeGreaterThan(eps * 0.5);
        tf.dispose([adv, d.l0, d.l2, d.linf]);
      });
    });
  } else {
    it('its successes are real: targeted outputs that differ from the input are classified as the target', async () => {
      const y = tf.tensor1d([3, 3, 7, 7, 1, 1], 'int32');
      const { adv } = await attack.run(model, x, { params: params(attack), y, targeted: true });
      const pred = tf.argMax(model.logits(adv), 1).arraySync() as number[];
      const hits = pred.filter((p, i) => p === [3, 3, 7, 7, 1, 1][i]).length;
      expect(hits).toBeGreaterThanOrEqual(3);
      tf.dispose([adv, y]);
    });
  }
});
