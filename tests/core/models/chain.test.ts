import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { useNodeBackend } from '../../../src/cli/backend';
import { loadShippedClassifier } from '../../../src/cli/models';
import { CATALOG } from '../../../src/core/models/catalog';
import { tapeFreeVjp } from '../../../src/core/models/chain';
import { mulberry32 } from '../../../src/core/random';

/**
 * The tape-free chain (src/core/models/chain.ts) against tf.grad through the model's own `logits`,
 * on every shipped layers classifier: which compile, and that logits and input gradients agree.
 */
const layersLogits = CATALOG.filter((e) => e.kind === 'classifier' && e.format === 'layers' && e.output === 'logits').map((e) => e.id);
// Plain chains among them (the others use custom layers such as Maxout, or are not chains).
const EXPECT_CHAIN = ['mnist-lenet', 'mnist-gpdnn-nn', 'fashion-cnn', 'mnist-softmax', 'mnist-fc100-100-10'];

beforeAll(async () => {
  await useNodeBackend('wasm');
});

describe('tape-free chain of shipped classifiers', () => {
  it('the LeNet-style CNNs, the softmax and the sigmoid MLPs compile; Maxout nets do not', async () => {
    const compiled: string[] = [];
    for (const id of layersLogits) {
      const m = await loadShippedClassifier(id);
      if (tapeFreeVjp(m)) compiled.push(id);
      m.dispose();
    }
    for (const id of EXPECT_CHAIN) expect(compiled).toContain(id);
    expect(compiled).not.toContain('mnist-maxout');
  });

  it.each(EXPECT_CHAIN)('%s: logits and ∇ₓ(seed·Z) equal tf.grad through logits(); no tensor leak', async (id) => {
    const m = await loadShippedClassifier(id);
    const [h, w, c] = m.inputShape;
    const r = mulberry32(11);
    const n = 3;
    const x = tf.tensor4d(Float32Array.from({ length: n * h * w * c }, () => r()), [n, h, w, c]);
    const k = m.classNames.length;
    const cot = tf.tensor2d(Float32Array.from({ length: n * k }, () => r() * 2 - 1), [n, k]);
    const before = tf.memory().numTensors;
    // A seed that depends on Z (as the attacks' do): cot ⊙ softmax(Z).
    const seed = (z: tf.Tensor2D): tf.Tensor2D => tf.mul(cot, tf.softmax(z));
    const fast = tapeFreeVjp(m)!(x, seed);
    expect(tf.memory().numTensors).toBe(before + 2);
    const ref = tf.tidy(() => {
      const s = seed(m.logits(x));
      return tf.engine().gradients(() => m.logits(x), [x], s).grads[0];
    });
    const refZ = tf.tidy(() => m.logits(x));
    const [gz, rz, gg, rg] = await Promise.all([fast.logits.data(), refZ.data(), fast.grad.data(), ref.data()]);
    const maxAbs = (a: ArrayLike<number>): number => Array.from(a).reduce((p, v) => Math.max(p, Math.abs(v)), 0);
    const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => Array.from(a).reduce((p, v, i) => Math.max(p, Math.abs(v - b[i])), 0);
    expect(fast.grad.shape).toEqual(x.shape);
    expect(maxDiff(gz, rz)).toBeLessThan(1e-4 * Math.max(1, maxAbs(rz)));
    expect(maxAbs(rg)).toBeGreaterThan(0);
    expect(maxDiff(gg, rg)).toBeLessThan(1e-4 * maxAbs(rg));
    tf.dispose([fast.logits, fast.grad, ref, refZ, x, cot]);
    m.dispose();
  });
});

describe('tapeFreeVjp', () => {
  it('is dropped by a wrapper that replaces logits (so attacks differentiate the wrapper, not the original)', async () => {
    const m = await loadShippedClassifier('mnist-lenet');
    expect(tapeFreeVjp(m)).toBeDefined();
    const wrapped = { ...m, logits: (x: tf.Tensor4D) => tf.tidy(() => tf.neg(m.logits(x))) };
    expect(wrapped.logitsAndVjp).toBeDefined();
    expect(tapeFreeVjp(wrapped)).toBeUndefined();
    m.dispose();
  });
});
