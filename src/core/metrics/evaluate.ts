import * as tf from '@tensorflow/tfjs';
import type { AttackParams, AttackSpec } from '../attacks';
import { distances } from '../attacks/distances';
import type { Classifier } from '../models/types';

/** Labelled images: n×(h·w·c) values in the model's input range, n labels. */
export interface LabelledSet {
  readonly images: Float32Array;
  readonly labels: Uint8Array | Int32Array;
  readonly n: number;
}

function batchOf(model: Classifier, set: LabelledSet, start: number, end: number): { x: tf.Tensor4D; y: tf.Tensor1D } {
  const [h, w, c] = model.inputShape;
  const size = h * w * c;
  return {
    x: tf.tensor4d(set.images.subarray(start * size, end * size), [end - start, h, w, c]),
    y: tf.tensor1d(Int32Array.from(set.labels.subarray(start, end)), 'int32'),
  };
}

/** Top-1 accuracy on the first `n` examples (default all), batched. */
export async function accuracy(model: Classifier, set: LabelledSet, opts: { n?: number; batch?: number } = {}): Promise<number> {
  const n = Math.min(opts.n ?? set.n, set.n);
  const batch = opts.batch ?? 500;
  let correct = 0;
  for (let s = 0; s < n; s += batch) {
    const e = Math.min(n, s + batch);
    const hits = tf.tidy(() => {
      const { x, y } = batchOf(model, set, s, e);
      return tf.sum(tf.cast(tf.equal(tf.argMax(model.logits(x), 1), y), 'int32'));
    });
    correct += (await hits.data())[0];
    hits.dispose();
  }
  return correct / n;
}

export interface AttackEvaluation {
  readonly n: number;
  /** Clean accuracy over the n images. */
  readonly cleanAccuracy: number;
  /** Images attacked: those the model got right. */
  readonly attacked: number;
  /** Fraction of attacked images whose prediction no longer equals the true label. */
  readonly successRate: number;
  /** Mean top-1 probability of the adversarial prediction, over attacked images. */
  readonly meanAdvConfidence: number;
  readonly meanL0: number;
  readonly meanL2: number;
  readonly meanLinf: number;
  /** Wall-clock attack time per attacked image (attack + adversarial prediction), in ms. */
  readonly msPerImage: number;
}

/**
 * Run an untargeted attack on the first n labelled images (paper protocol: success = the
 * prediction differs from the true label, over the images the model classified correctly).
 */
export async function evaluateAttack(
  model: Classifier,
  attack: AttackSpec,
  set: LabelledSet,
  params: Omit<AttackParams, 'y' | 'targeted'>,
  opts: { n?: number; batch?: number } = {},
): Promise<AttackEvaluation> {
  const n = Math.min(opts.n ?? set.n, set.n);
  const batch = opts.batch ?? 100;
  let clean = 0;
  let attacked = 0;
  let success = 0;
  let conf = 0;
  let l0 = 0;
  let l2 = 0;
  let linf = 0;
  let ms = 0;
  for (let s = 0; s < n; s += batch) {
    const e = Math.min(n, s + batch);
    const { x, y } = batchOf(model, set, s, e);
    const correctT = tf.tidy(() => tf.equal(tf.argMax(model.logits(x), 1), y));
    const correct = (await correctT.data()) as Uint8Array;
    const t0 = performance.now();
    const adv = attack.run(model, x, { ...params, y });
    const stats = tf.tidy(() => {
      const logits = model.logits(adv);
      const d = distances(adv, x);
      return tf.stack([
        tf.cast(tf.notEqual(tf.argMax(logits, 1), y), 'float32'),
        tf.max(tf.softmax(logits), 1),
        d.l0,
        d.l2,
        d.linf,
      ]);
    });
    const v = (await stats.data()) as Float32Array;
    ms += performance.now() - t0;
    const m = e - s;
    for (let i = 0; i < m; i++) {
      if (!correct[i]) continue;
      clean++;
      attacked++;
      success += v[i];
      conf += v[m + i];
      l0 += v[2 * m + i];
      l2 += v[3 * m + i];
      linf += v[4 * m + i];
    }
    tf.dispose([x, y, correctT, adv, stats]);
  }
  const a = Math.max(attacked, 1);
  return {
    n,
    cleanAccuracy: clean / n,
    attacked,
    successRate: success / a,
    meanAdvConfidence: conf / a,
    meanL0: l0 / a,
    meanL2: l2 / a,
    meanLinf: linf / a,
    msPerImage: ms / a,
  };
}
