import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useNodeBackend } from '../../../src/cli/backend';
import { loadShippedClassifier } from '../../../src/cli/models';
import { cwL2 } from '../../../src/core/attacks/cw';
import { lbfgs, LBFGS_REFERENCE, type LbfgsOptions, type LbfgsResult } from '../../../src/core/attacks/lbfgs';
import type { Classifier } from '../../../src/core/models/types';
import { argmax, codeOf, firstTestImagesWithNextTargets, rowL2 } from '../../helpers/attacks';
import { randomImages, tinyClassifier } from '../../helpers/tiny';


describe('lbfgs (Szegedy et al.; tiny model, cpu)', () => {
  let model: Classifier;
  let x: tf.Tensor4D;
  let pred: number[];
  beforeAll(async () => {
    await tf.setBackend('cpu');
    model = tinyClassifier(2);
    x = randomImages(3, 5);
    pred = argmax(model, x);
  });
  afterAll(() => {
    x.dispose();
    model.dispose();
  });

  it('hits the targets inside the box, flags agree with the model, and leaks nothing', async () => {
    const targets = pred.map((p) => (p + 1) % 10);
    const y = tf.tensor1d(targets, 'int32');
    const before = tf.memory().numTensors;
    const r = await lbfgs(model, x, { targets: y, searchSteps: 4, maxIterations: 30 });
    expect(tf.memory().numTensors).toBe(before + 1);
    expect(r.adv.shape).toEqual(x.shape);
    expect(tf.min(r.adv).arraySync()).toBeGreaterThanOrEqual(0);
    expect(tf.max(r.adv).arraySync()).toBeLessThanOrEqual(1);
    const after = argmax(model, r.adv);
    expect(r.success).toEqual(after.map((p, i) => p === targets[i]));
    expect(r.success.every(Boolean)).toBe(true);
    expect(r.trace).toHaveLength(4);
    expect(r.trace.map((t) => t.info.meanConst).slice(0, 2)).toEqual([0.01, 0.1]);
    tf.dispose([r.adv, y]);
  });

  it('searching over c shrinks the distortion of every image', async () => {
    const y = tf.tensor1d(pred.map((p) => (p + 4) % 10), 'int32');
    const one = await lbfgs(model, x, { targets: y, searchSteps: 1, maxIterations: 30 });
    const five = await lbfgs(model, x, { targets: y, searchSteps: 5, maxIterations: 30 });
    expect(one.success.every(Boolean)).toBe(true);
    expect(five.success.every(Boolean)).toBe(true);
    const l1 = rowL2(one.adv, x);
    const l5 = rowL2(five.adv, x);
    for (let i = 0; i < 3; i++) expect(l5[i]).toBeLessThanOrEqual(l1[i] + 1e-6);
    expect(l5.reduce((a, b) => a + b, 0)).toBeLessThan(0.8 * l1.reduce((a, b) => a + b, 0));
    tf.dispose([one.adv, five.adv, y]);
  });

  it('the default search (warm starts, stall stop) matches the reference search with fewer evaluations, deterministically', async () => {
    const y = tf.tensor1d(pred.map((p) => (p + 4) % 10), 'int32');
    const opts: LbfgsOptions = { targets: y, searchSteps: 6, maxIterations: 30 };
    const evaluations = (r: LbfgsResult): number => r.trace.reduce((a, t) => a + (t.info.evaluations as number), 0);
    const sum = (v: number[]): number => v.reduce((a, b) => a + b, 0);
    const before = tf.memory().numTensors;
    const fast = await lbfgs(model, x, opts);
    const again = await lbfgs(model, x, opts);
    const ref = await lbfgs(model, x, { ...opts, ...LBFGS_REFERENCE });
    expect(tf.memory().numTensors).toBe(before + 3);
    expect(fast.success).toEqual([true, true, true]);
    expect(ref.success).toEqual([true, true, true]);
    expect(again.trace).toEqual(fast.trace);
    expect(Array.from(again.adv.dataSync())).toEqual(Array.from(fast.adv.dataSync()));
    // The reference runs every constant to maxIterations; the stall stop ends solves sooner.
    expect(ref.trace.every((t) => t.info.iterations === 30)).toBe(true);
    expect(fast.trace.some((t) => (t.info.iterations as number) < 30)).toBe(true);
    expect(evaluations(fast)).toBeLessThan(0.8 * evaluations(ref));
    expect(sum(rowL2(fast.adv, x))).toBeLessThan(1.05 * sum(rowL2(ref.adv, x)));
    tf.dispose([fast.adv, again.adv, ref.adv, y]);
  });

  it('warm start: only the first constant starts at the input; a large stall tolerance stops every solve early', async () => {
    const xs = x.dataSync();
    let atInput = 0;
    const spy: Classifier = {
      ...model,
      logits: (xx) => {
        const d = xx.dataSync();
        if (d.length === xs.length && d.every((v, j) => v === xs[j])) atInput++;
        return model.logits(xx);
      },
    };
    const y = tf.tensor1d(pred.map((p) => (p + 1) % 10), 'int32');
    const counts: number[] = [];
    for (const warmStart of [true, false]) {
      atInput = 0;
      const r = await lbfgs(spy, x, { targets: y, searchSteps: 4, maxIterations: 20, warmStart, stallTolerance: 0 });
      counts.push(atInput);
      r.adv.dispose();
    }
    expect(counts).toEqual([1, 4]);
    const stalled = await lbfgs(model, x, { targets: y, searchSteps: 3, maxIterations: 100, stallTolerance: 1 });
    expect(stalled.trace.every((t) => (t.info.iterations as number) >= 10 && (t.info.iterations as number) < 30)).toBe(true);
    tf.dispose([stalled.adv, y]);
  });

  it('a target the model already predicts costs nothing; an unreachable goal returns the input', async () => {
    const y = tf.tensor1d(pred, 'int32');
    const same = await lbfgs(model, x, { targets: y, searchSteps: 1, maxIterations: 5 });
    expect(same.success).toEqual([true, true, true]);
    expect(tf.max(tf.abs(tf.sub(same.adv, x))).arraySync()).toBe(0);
    // A huge distance penalty and a single iteration: the point barely moves, so no success.
    const far = tf.tensor1d(pred.map((p) => (p + 5) % 10), 'int32');
    const fail = await lbfgs(model, x, { targets: far, initialConst: 1e6, searchSteps: 1, maxIterations: 1 });
    expect(fail.success).toEqual([false, false, false]);
    expect(tf.max(tf.abs(tf.sub(fail.adv, x))).arraySync()).toBe(0);
    tf.dispose([same.adv, fail.adv, y, far]);
  });

  it('cancel from onProgress rejects with CANCELLED and leaks no tensors', async () => {
    const y = tf.tensor1d(pred.map((p) => (p + 1) % 10), 'int32');
    const before = tf.memory().numTensors;
    const ac = new AbortController();
    let calls = 0;
    let callsAfterAbort = 0;
    const code = await codeOf(
      lbfgs(model, x, { targets: y, searchSteps: 3, maxIterations: 20 }, {
        signal: ac.signal,
        onProgress: (p) => {
          if (ac.signal.aborted) callsAfterAbort++;
          calls++;
          expect(p.total).toBe(60);
          expect(p.phase).toMatch(/^constant \d+\/3$/);
          if (calls === 5) ac.abort();
        },
      }),
    );
    expect(code).toBe('CANCELLED');
    expect(callsAfterAbort).toBe(0);
    expect(tf.memory().numTensors).toBe(before);
    y.dispose();
  });

  it('a model with non-finite logits fails with a clear error and no leak', async () => {
    const bad: Classifier = { ...model, logits: (xx) => tf.tidy(() => tf.div(model.logits(xx), 0)) };
    const y = tf.tensor1d([0, 1, 2], 'int32');
    const before = tf.memory().numTensors;
    await expect(lbfgs(bad, x, { targets: y, searchSteps: 1, maxIterations: 3 })).rejects.toThrow(/non-finite/);
    expect(tf.memory().numTensors).toBe(before);
    y.dispose();
  });

  it('rejects bad options with BAD_INPUT', async () => {
    const y = tf.tensor1d([0, 1, 2], 'int32');
    const bad: LbfgsOptions[] = [
      { targets: y, initialConst: 0 },
      { targets: y, initialConst: Number.NaN },
      { targets: y, searchSteps: 0 },
      { targets: y, maxIterations: 1.5 },
      { targets: y, history: 0 },
      { targets: tf.tensor1d([0, 1], 'int32') },
      { targets: tf.tensor1d([0, 1, -1], 'int32') },
      {} as LbfgsOptions,
      { targets: y, stallTolerance: -1 },
      { targets: y, stallTolerance: Number.POSITIVE_INFINITY },
      { targets: y, warmStart: 'yes' as unknown as boolean },
    ];
    const before = tf.memory().numTensors;
    for (const o of bad) expect(await codeOf(lbfgs(model, x, o))).toBe('BAD_INPUT');
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(bad.slice(5, 7).map((o) => o.targets));
    y.dispose();
  });
});

describe('lbfgs on the shipped mnist-lenet (wasm)', () => {
  let model: Classifier;
  beforeAll(async () => {
    await useNodeBackend('wasm');
    model = await loadShippedClassifier('mnist-lenet');
  });
  afterAll(async () => {
    model.dispose();
    await tf.setBackend('cpu');
  });

  it('targeted (label + 1) on 3 test images: all succeed, with distortion on a par with CW-L2', async () => {
    const n = 3;
    const { x, y, targets } = firstTestImagesWithNextTargets(n);
    const r = await lbfgs(model, x, { targets: y, searchSteps: 6, maxIterations: 40, initialConst: 0.3 });
    expect(r.success).toEqual([true, true, true]);
    expect(argmax(model, r.adv)).toEqual(targets);
    const cw = await cwL2(model, x, { y, targeted: true, binarySteps: 4, maxIterations: 150, learningRate: 0.1, initialConst: 1 });
    expect(cw.success).toEqual([true, true, true]);
    const mean = (v: number[]): number => v.reduce((a, b) => a + b, 0) / v.length;
    const lb = mean(rowL2(r.adv, x));
    const c = mean(rowL2(cw.adv, x));
    console.log(`mnist-lenet wasm, 3 images: L-BFGS mean L2 ${lb.toFixed(3)}, CW-L2 mean L2 ${c.toFixed(3)} (ratio ${(lb / c).toFixed(3)})`);
    // Both find (local) minimum-distortion adversarials of the same problem: they should agree closely.
    expect(lb / c).toBeLessThan(1.3);
    expect(lb / c).toBeGreaterThan(0.75);
    tf.dispose([r.adv, cw.adv, x, y]);
  });
});
