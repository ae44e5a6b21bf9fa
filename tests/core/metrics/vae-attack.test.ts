import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useNodeBackend } from '../../../src/cli/backend';
import { loadMnist } from '../../../src/cli/data';
import { loadShippedClassifier, loadShippedVae } from '../../../src/cli/models';
import { distances } from '../../../src/core/attacks/distances';
import { VAE_ATTACKS, type VaeAttackId, type VaeAttackMethod, type VaeAttackModels } from '../../../src/core/attacks/vae';
import { ProbeError } from '../../../src/core/errors';
import { reconstructionLabels, VaeAttackAccumulator } from '../../../src/core/metrics/vae-attack';

beforeAll(async () => {
  await useNodeBackend('wasm');
});

describe('VaeAttackAccumulator', () => {
  it('computes AS_target and AS_ignore-target per (source, target) pair and their means over attacked pairs', () => {
    const acc = new VaeAttackAccumulator();
    // pair (0,1): ŷ = 1 (target), 2 (other), 0 (source) → AS_target 1/3, AS_ignore 2/3, L2 mean 2
    acc.add([0, 0, 0], [1, 1, 1], [1, 2, 0], [1, 2, 3]);
    // pair (1,2): ŷ = 2, 2 → 1, 1, L2 mean 5; pair (2,0): ŷ = 2 → 0, 0, L2 mean 1
    acc.add([1, 1, 2], [2, 2, 0], [2, 2, 2], [4, 6, 1]);
    // rows with target = source are not attacks: not counted
    acc.add([1], [1], [0], [9]);
    const r = acc.result(3);
    expect(r.counts).toEqual([[0, 3, 0], [0, 0, 2], [1, 0, 0]]);
    expect(r.asTarget[0][1]).toBeCloseTo(1 / 3, 12);
    expect(r.asIgnoreTarget[0][1]).toBeCloseTo(2 / 3, 12);
    expect(r.asTarget[1][2]).toBe(1);
    expect(r.asIgnoreTarget[1][2]).toBe(1);
    expect(r.asTarget[2][0]).toBe(0);
    expect(r.asIgnoreTarget[2][0]).toBe(0);
    for (let i = 0; i < 3; i++) {
      expect(r.asTarget[i][i]).toBe(0);
      expect(r.asIgnoreTarget[i][i]).toBe(0);
    }
    expect(r.asTarget[0][2]).toBe(0); // never attacked: 0, not NaN
    expect(r.meanAsTarget).toBeCloseTo((1 / 3 + 1 + 0) / 3, 12);
    expect(r.meanAsIgnoreTarget).toBeCloseTo((2 / 3 + 1 + 0) / 3, 12);
    expect(r.meanL2).toBeCloseTo((2 + 5 + 1) / 3, 12);
  });

  it('is all zeros when empty and rejects bad rows and too few classes', () => {
    const empty = new VaeAttackAccumulator().result(2);
    expect(empty).toEqual({ asTarget: [[0, 0], [0, 0]], asIgnoreTarget: [[0, 0], [0, 0]], counts: [[0, 0], [0, 0]], meanAsTarget: 0, meanAsIgnoreTarget: 0, meanL2: 0 });
    const acc = new VaeAttackAccumulator();
    expect(() => acc.add([0, 1], [1], [1, 1], [0, 0])).toThrow(ProbeError);
    expect(() => acc.add([0], [1.5], [1], [0])).toThrow(/non-class/);
    expect(() => acc.add([0], [1], [-1], [0])).toThrow(/non-class/);
    expect(() => acc.add([0], [1], [1], [Number.NaN])).toThrow(/L2/);
    acc.add([0], [5], [5], [1]);
    expect(() => acc.result(3)).toThrow(/outside/);
    expect(acc.result(6).asTarget[0][5]).toBe(1);
  });
});

/** Shipped mnist-vae + mnist-vae-clf; 20 MNIST test sources (the first two of each class), targets (y + 1) mod 10. */
describe('Kos et al. attacks on the shipped mnist-vae (wasm)', () => {
  const classes = 10;
  const perClass = 2;
  let m: VaeAttackModels;
  let x: tf.Tensor4D;
  let xt: tf.Tensor4D;
  let targets: tf.Tensor1D;
  const srcLab: number[] = [];
  const tgtLab: number[] = [];

  beforeAll(async () => {
    m = { vae: await loadShippedVae('mnist-vae'), classifier: await loadShippedClassifier('mnist-vae-clf') };
    const set = loadMnist('test');
    const byClass: number[][] = Array.from({ length: classes }, () => []);
    for (let i = 0; i < set.n; i++) byClass[set.labels[i]].push(i);
    const src: number[] = [];
    const tgt: number[] = [];
    for (let c = 0; c < classes; c++) {
      for (let k = 0; k < perClass; k++) {
        const t = (c + 1) % classes;
        src.push(byClass[c][k]);
        srcLab.push(c);
        tgt.push(byClass[t][perClass + k]); // a target example that is not among the sources
        tgtLab.push(t);
      }
    }
    const gather = (idx: number[]): tf.Tensor4D => {
      const a = new Float32Array(idx.length * 784);
      idx.forEach((j, r) => a.set(set.images.subarray(j * 784, (j + 1) * 784), r * 784));
      return tf.tensor4d(a, [idx.length, 28, 28, 1]);
    };
    x = gather(src);
    xt = gather(tgt);
    targets = tf.tensor1d(tgtLab, 'int32');
  });

  afterAll(() => {
    tf.dispose([x, xt, targets]);
    m.vae.dispose();
    m.classifier.dispose();
  });

  async function score(adv: tf.Tensor4D): Promise<ReturnType<VaeAttackAccumulator['result']>> {
    const yHat = reconstructionLabels(m, adv);
    const d = distances(adv, x);
    const acc = new VaeAttackAccumulator();
    acc.add(srcLab, tgtLab, await yHat.data(), await d.l2.data());
    tf.dispose([yHat, d.l0, d.l2, d.linf]);
    return acc.result(classes);
  }

  it('reconstructionLabels = argmax f_class(f_enc(decode(encoder mean))); clean baseline: AS_target 0', async () => {
    const before = tf.memory().numTensors;
    const yHat = reconstructionLabels(m, x);
    expect(yHat.dtype).toBe('int32');
    expect(yHat.shape).toEqual([x.shape[0]]);
    const manual = tf.tidy(() => tf.argMax(m.classifier.logits(m.vae.decode(m.vae.encode(x).mean)), 1));
    expect(Array.from(await yHat.data())).toEqual(Array.from(await manual.data()));
    tf.dispose([yHat, manual]);
    expect(tf.memory().numTensors).toBe(before);
    // Measured: AS_target 0, AS_ignore-target 0 (every reconstruction keeps its class).
    const clean = await score(x);
    expect(clean.meanAsTarget).toBeLessThanOrEqual(0.1);
    expect(clean.meanAsIgnoreTarget).toBeLessThanOrEqual(0.1);
  });

  // Measured AS_target with the defaults (wasm): classifier l2 0.90, latent l2 0.90, L_VAE l2 1.00,
  // classifier fgs 0.55 (mean L2 2.0, 4.4, 4.0, 4.5).
  const CASES: ReadonlyArray<[VaeAttackId, VaeAttackMethod, number]> = [
    ['vae-latent', 'l2', 0.7],
    ['vae-classifier', 'l2', 0.7],
    ['vae-loss', 'l2', 0.7],
    ['vae-classifier', 'fgs', 0.3],
  ];
  it.each(CASES)('%s (%s) moves the reconstruction-feedback label to the target: AS_target ≥ %s', async (id, method, min) => {
    const before = tf.memory().numTensors;
    const adv = await VAE_ATTACKS[id](m, x, { targets, targetExamples: xt, method });
    expect(tf.memory().numTensors).toBe(before + 1);
    const r = await score(adv);
    adv.dispose();
    expect(r.meanAsTarget).toBeGreaterThanOrEqual(min);
    expect(r.meanAsIgnoreTarget).toBeGreaterThanOrEqual(r.meanAsTarget);
    expect(r.meanL2).toBeGreaterThan(0);
    expect(r.meanL2).toBeLessThan(8);
  });
});
