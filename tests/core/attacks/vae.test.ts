import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  VAE_ATTACK_DEFAULTS,
  VAE_ATTACKS,
  vaeClassifierAttack,
  vaeLatentAttack,
  vaeLossAttack,
  type VaeAttackId,
  type VaeAttackModels,
  type VaeAttackOptions,
} from '../../../src/core/attacks/vae';
import type { AttackProgress } from '../../../src/core/attacks/types';
import { ProbeError } from '../../../src/core/errors';
import type { Vae } from '../../../src/core/models/types';
import { vaeFromLayersModels, vaeLatentClassifier, type LayersVae } from '../../../src/core/models/vae';
import { randomImages } from '../../helpers/tiny';

const LATENT = 2;
const N = 4;
const IDS: readonly VaeAttackId[] = ['vae-classifier', 'vae-latent', 'vae-loss'];

/** A tiny seeded MLP VAE (784 → 16 → (mean, logVar) ∈ R², R² → 16 → 784 logits) and a head R² → 10. */
function tinyModels(seed = 1): VaeAttackModels & { vae: LayersVae } {
  const init = (k: number) => tf.initializers.glorotUniform({ seed: seed * 10 + k });
  const image = tf.input({ shape: [28, 28, 1] });
  const h = tf.layers.dense({ units: 16, activation: 'relu', kernelInitializer: init(1), biasInitializer: tf.initializers.constant({ value: 0.1 }) })
    .apply(tf.layers.flatten().apply(image)) as tf.SymbolicTensor;
  const mean = tf.layers.dense({ units: LATENT, kernelInitializer: init(2) }).apply(h) as tf.SymbolicTensor;
  const logVar = tf.layers.dense({ units: LATENT, kernelInitializer: init(3) }).apply(h) as tf.SymbolicTensor;
  const z = tf.input({ shape: [LATENT] });
  // A decoder with large weights, so that its reconstruction (and the L_VAE loss) depends strongly on z.
  const wide = (std: number, k: number) => tf.initializers.randomNormal({ mean: 0, stddev: std, seed: seed * 10 + k });
  const dh = tf.layers.dense({ units: 16, activation: 'relu', kernelInitializer: wide(2, 4) }).apply(z) as tf.SymbolicTensor;
  const out = tf.layers.reshape({ targetShape: [28, 28, 1] })
    .apply(tf.layers.dense({ units: 784, kernelInitializer: wide(1, 5) }).apply(dh)) as tf.SymbolicTensor;
  const vae = vaeFromLayersModels(tf.model({ inputs: image, outputs: [mean, logVar] }), tf.model({ inputs: z, outputs: out }), {
    id: 'tiny-vae', decoderOutput: 'logits',
  });
  const head = tf.sequential({ layers: [tf.layers.dense({ inputShape: [LATENT], units: 10, kernelInitializer: init(6) })] });
  return { vae, classifier: vaeLatentClassifier(vae, head, 'tiny-vae-clf') };
}

/** Images in [0.2, 0.8]: a step of ε ≤ 0.2 is never clipped. */
function interiorImages(n: number, seed: number): tf.Tensor4D {
  return tf.tidy(() => tf.add(tf.mul(randomImages(n, seed), 0.6), 0.2) as tf.Tensor4D);
}

/** Each attack's loss L(x*) summed over the batch, written out independently of src/. */
function attackLoss(id: VaeAttackId, m: VaeAttackModels, xs: tf.Tensor4D, o: VaeAttackOptions): number {
  return tf.tidy(() => {
    if (id === 'vae-classifier') {
      const lp = tf.logSoftmax(m.classifier.logits(xs));
      return -(tf.sum(tf.mul(lp, tf.oneHot(o.targets, 10))).arraySync() as number);
    }
    if (id === 'vae-latent') {
      return tf.sum(tf.square(tf.sub(m.vae.encode(xs).mean, m.vae.encode(o.targetExamples).mean))).arraySync() as number;
    }
    const { mean, logVar } = m.vae.encode(xs);
    const p = tf.clipByValue(m.vae.decode(mean), 1e-7, 1 - 1e-7);
    const xt = o.targetExamples;
    const nll = tf.neg(tf.sum(tf.add(tf.mul(xt, tf.log(p)), tf.mul(tf.sub(1, xt), tf.log(tf.sub(1, p))))));
    const kl = tf.mul(tf.sum(tf.sub(tf.add(tf.square(mean), tf.exp(logVar)), tf.add(logVar, 1))), 0.5);
    return tf.add(nll, kl).arraySync() as number;
  });
}

let m: VaeAttackModels & { vae: LayersVae };
let x: tf.Tensor4D;
let opts: VaeAttackOptions;

beforeAll(async () => {
  await tf.setBackend('cpu');
  m = tinyModels(1);
  x = interiorImages(N, 11);
  opts = { targets: tf.tensor1d([3, 7, 0, 9], 'int32'), targetExamples: randomImages(N, 23) };
});

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  const e = await p.then(() => null, (err: unknown) => err);
  expect(e).toBeInstanceOf(ProbeError);
  expect((e as ProbeError).code).toBe(code);
}

describe('VAE attacks (Kos et al. 2017) on a tiny VAE', () => {
  it('registers the three attacks by id', () => {
    expect(VAE_ATTACKS['vae-classifier']).toBe(vaeClassifierAttack);
    expect(VAE_ATTACKS['vae-latent']).toBe(vaeLatentAttack);
    expect(VAE_ATTACKS['vae-loss']).toBe(vaeLossAttack);
    for (const id of IDS) expect(VAE_ATTACK_DEFAULTS[id].steps).toBeGreaterThan(0);
  });

  it.each(IDS)('%s: both variants return a new batch in the input range and leak nothing', async (id) => {
    for (const method of ['l2', 'fgs'] as const) {
      const before = tf.memory().numTensors;
      const adv = await VAE_ATTACKS[id](m, x, { ...opts, method, steps: 10 });
      expect(tf.memory().numTensors).toBe(before + 1);
      expect(adv.shape).toEqual(x.shape);
      const a = await adv.data();
      expect(Math.min(...a)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...a)).toBeLessThanOrEqual(1);
      adv.dispose();
      expect(tf.memory().numTensors).toBe(before);
    }
  });

  it.each(IDS)('%s l2: Adam lowers the attack loss L from its value at the source', async (id) => {
    const adv = await VAE_ATTACKS[id](m, x, { ...opts, lambda: 0.1, steps: 40, learningRate: 0.02 });
    const start = attackLoss(id, m, x, opts);
    const end = attackLoss(id, m, adv, opts);
    adv.dispose();
    expect(end).toBeLessThan(start * 0.8);
  });

  it('l2: a large λ keeps x* closer to x than a small one', async () => {
    const l2 = async (lambda: number): Promise<number> => {
      const adv = await vaeLatentAttack(m, x, { ...opts, lambda, steps: 40, learningRate: 0.02 });
      const d = tf.tidy(() => tf.sum(tf.sqrt(tf.sum(tf.square(tf.sub(adv, x)).reshape([N, -1]), 1))));
      const v = (await d.data())[0];
      tf.dispose([adv, d]);
      return v;
    };
    expect(await l2(50)).toBeLessThan(await l2(0));
  });

  it.each(IDS)('%s fgs: one signed step, L∞ = ε on every (unclipped) pixel, downhill, λ ignored', async (id) => {
    const eps = 0.1;
    const adv = await VAE_ATTACKS[id](m, x, { ...opts, method: 'fgs', eps, lambda: 0 });
    const advL = await VAE_ATTACKS[id](m, x, { ...opts, method: 'fgs', eps, lambda: 100 });
    const [a, aL, x0] = await Promise.all([adv.data(), advL.data(), x.data()]);
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - x0[i])).toBeCloseTo(eps, 5);
    expect(aL).toEqual(a);
    tf.dispose([adv, advL]);
    const small = await VAE_ATTACKS[id](m, x, { ...opts, method: 'fgs', eps: 0.002 });
    expect(attackLoss(id, m, small, opts)).toBeLessThan(attackLoss(id, m, x, opts));
    small.dispose();
  });

  it('fgs clips at the box: pixels at 0 or 1 stay inside', async () => {
    const edge = tf.tidy(() => tf.round(randomImages(N, 5)) as tf.Tensor4D);
    const adv = await vaeLatentAttack(m, edge, { ...opts, method: 'fgs', eps: 0.3 });
    const a = await adv.data();
    const e = await edge.data();
    for (let i = 0; i < a.length; i++) {
      expect(a[i]).toBeGreaterThanOrEqual(0);
      expect(a[i]).toBeLessThanOrEqual(1);
      const d = Math.abs(a[i] - e[i]);
      expect(d === 0 || Math.abs(d - 0.3) < 1e-6).toBe(true);
    }
    tf.dispose([adv, edge]);
  });

  it('rows are independent: the batched result equals attacking each row alone', async () => {
    const batched = await vaeLossAttack(m, x, { ...opts, steps: 8 });
    for (let i = 0; i < N; i++) {
      const xi = x.slice([i, 0, 0, 0], [1, 28, 28, 1]);
      const oi = { targets: opts.targets.slice([i], [1]), targetExamples: opts.targetExamples.slice([i, 0, 0, 0], [1, 28, 28, 1]), steps: 8 };
      const ai = await vaeLossAttack(m, xi, oi);
      const d = tf.tidy(() => tf.max(tf.abs(tf.sub(ai, batched.slice([i, 0, 0, 0], [1, 28, 28, 1])))));
      expect((await d.data())[0]).toBeLessThan(1e-5);
      tf.dispose([xi, oi.targets, oi.targetExamples, ai, d]);
    }
    batched.dispose();
  });

  it('vae-loss also works on a VAE without decoder logits (clipped probabilities) and stays close to the logits path', async () => {
    const plain: Vae = {
      id: 'plain', inputShape: m.vae.inputShape, inputRange: m.vae.inputRange, latentDim: m.vae.latentDim,
      encode: (xx) => m.vae.encode(xx), decode: (z) => m.vae.decode(z), dispose: () => undefined,
    };
    const before = tf.memory().numTensors;
    const o = { ...opts, lambda: 0.1, steps: 40, learningRate: 0.02 };
    const a = await vaeLossAttack({ vae: plain, classifier: m.classifier }, x, o);
    const b = await vaeLossAttack(m, x, o);
    expect(tf.memory().numTensors).toBe(before + 2);
    const start = attackLoss('vae-loss', m, x, opts);
    const [la, lb] = [attackLoss('vae-loss', m, a, opts), attackLoss('vae-loss', m, b, opts)];
    tf.dispose([a, b]);
    expect(la).toBeLessThan(start * 0.8);
    expect(Math.abs(la - lb)).toBeLessThan(0.05 * start);
  });

  it('reports progress each step (done 0..steps of total) with the objective now and then', async () => {
    const seen: AttackProgress[] = [];
    const adv = await vaeClassifierAttack(m, x, { ...opts, steps: 12 }, { onProgress: (p) => seen.push(p) });
    adv.dispose();
    expect(seen.map((p) => p.done)).toEqual(Array.from({ length: 13 }, (_, i) => i));
    expect(seen.every((p) => p.total === 12)).toBe(true);
    expect(seen[seen.length - 1].info?.objective).toBeTypeOf('number');
  });

  it.each(IDS)('%s: cancel within one step → CANCELLED, no leaked tensors', async (id) => {
    for (const method of ['l2', 'fgs'] as const) {
      const before = tf.memory().numTensors;
      const ac = new AbortController();
      let calls = 0;
      await expectCode(
        VAE_ATTACKS[id](m, x, { ...opts, method, steps: 50 }, {
          signal: ac.signal,
          yieldEveryMs: 0,
          onProgress: () => {
            calls++;
            if (calls === (method === 'fgs' ? 1 : 3)) ac.abort();
          },
        }),
        'CANCELLED',
      );
      expect(calls).toBeLessThanOrEqual(method === 'fgs' ? 1 : 3);
      expect(tf.memory().numTensors).toBe(before);
    }
    const pre = new AbortController();
    pre.abort();
    const before = tf.memory().numTensors;
    await expectCode(VAE_ATTACKS[id](m, x, opts, { signal: pre.signal }), 'CANCELLED');
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects bad shapes, targets and options with BAD_INPUT and leaks nothing', async () => {
    const before = tf.memory().numTensors;
    const wrongX = tf.zeros([N, 28, 28, 3]) as tf.Tensor4D;
    const shortT = tf.tensor1d([1, 2], 'int32');
    const outT = tf.tensor1d([1, 2, 3, 10], 'int32');
    const fracT = tf.tensor1d([1, 2, 3, 1.5], 'float32');
    const negT = tf.tensor1d([1, -1, 3, 4], 'int32');
    const wrongEx = tf.zeros([N - 1, 28, 28, 1]) as tf.Tensor4D;
    const empty = tf.zeros([0, 28, 28, 1]) as tf.Tensor4D;
    const emptyT = tf.tensor1d([], 'int32');
    const cases: Array<[tf.Tensor4D, VaeAttackOptions]> = [
      [wrongX, opts],
      [empty, { targets: emptyT, targetExamples: empty }],
      [x, { ...opts, targets: shortT }],
      [x, { ...opts, targets: outT }],
      [x, { ...opts, targets: fracT as tf.Tensor1D }],
      [x, { ...opts, targets: negT }],
      [x, { ...opts, targetExamples: wrongEx }],
      [x, { ...opts, method: 'cw' as unknown as 'l2' }],
      [x, { ...opts, lambda: -1 }],
      [x, { ...opts, lambda: Number.NaN }],
      [x, { ...opts, steps: 0 }],
      [x, { ...opts, steps: 2.5 }],
      [x, { ...opts, learningRate: 0 }],
      [x, { ...opts, eps: -0.1, method: 'fgs' }],
      [x, { ...opts, eps: Number.POSITIVE_INFINITY }],
    ];
    const n0 = tf.memory().numTensors;
    for (const id of IDS) {
      for (const [xx, o] of cases) await expectCode(VAE_ATTACKS[id](m, xx, o), 'BAD_INPUT');
    }
    expect(tf.memory().numTensors).toBe(n0);
    tf.dispose([wrongX, shortT, outT, fracT, negT, wrongEx, empty, emptyT]);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('registry defaults', () => {
  it('each VAE attack of the registry carries the measured per-attack defaults of vae.ts', async () => {
    const { ATTACK_SPECS, defaultParams } = await import('../../../src/core/attacks/specs');
    const { VAE_ATTACK_DEFAULTS } = await import('../../../src/core/attacks/vae');
    for (const id of ['vae-classifier', 'vae-latent', 'vae-loss'] as const) {
      const d = defaultParams(ATTACK_SPECS.find((a) => a.id === id)!);
      expect(d).toMatchObject({ ...VAE_ATTACK_DEFAULTS[id] });
    }
  });
});
