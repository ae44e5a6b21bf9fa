import * as tf from '@tensorflow/tfjs';
import type { AttackRun, ClassifierAttackSpec, ParamValues, StepControl } from '../attacks';
import { ProbeError } from '../errors';
import { mulberry32 } from '../random';
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

/** How targets are chosen for a targeted evaluation ('none': untargeted). */
export type TargetMode = 'none' | 'all' | 'random' | 'next';
export const TARGET_MODES: readonly TargetMode[] = ['none', 'all', 'random', 'next'];

export interface AttackEvaluation {
  readonly attack: string;
  /** Images drawn from the set. */
  readonly n: number;
  /** Clean accuracy over the n images. */
  readonly cleanAccuracy: number;
  readonly targets: TargetMode;
  /** Attack runs: one per correctly classified image (untargeted) or per (image, target) pair. */
  readonly attacked: number;
  /** Fraction of runs that succeeded: prediction ≠ true label (untargeted) or = target (targeted). */
  readonly successRate: number;
  /** Mean top-1 probability of the adversarial prediction, over all runs and over successful ones. */
  readonly meanAdvConfidence: number;
  readonly meanAdvConfidenceSuccessful: number;
  /** Distances (L0 in components; L0Fraction = L0 / components) over all runs and over successful ones. */
  readonly meanL0: number;
  readonly meanL0Fraction: number;
  readonly meanL2: number;
  readonly meanLinf: number;
  readonly meanL0Successful: number;
  readonly meanL0FractionSuccessful: number;
  readonly meanL2Successful: number;
  readonly meanLinfSuccessful: number;
  /** Wall-clock attack time per run (attack + adversarial prediction), in ms. */
  readonly msPerImage: number;
  /** Targeted runs: per (source class, target class) counts, successes and summed L0 fraction of successes. */
  readonly pairs?: { readonly count: number[][]; readonly success: number[][]; readonly l0FractionSuccessful: number[][] };
}

export interface EvaluateOptions {
  readonly n?: number;
  /** Images per attack call (targeted 'all' multiplies it by classes − 1). */
  readonly batch?: number;
  readonly targets?: TargetMode;
  /** Seed of the 'random' target choice. */
  readonly seed?: number;
  readonly ctl?: StepControl;
}

/**
 * Runs an attack over the first n labelled images, paper protocol: only images the model classifies
 * correctly are attacked; untargeted success = prediction ≠ true label; targeted success =
 * prediction = target, with targets all other classes (Papernot et al.), one random other class, or
 * the next class (label + 1 mod C).
 */
export async function evaluateAttack(
  model: Classifier,
  attack: ClassifierAttackSpec,
  set: LabelledSet,
  params: ParamValues,
  opts: EvaluateOptions = {},
): Promise<AttackEvaluation> {
  const n = Math.min(opts.n ?? set.n, set.n);
  const mode = opts.targets ?? 'none';
  const targeted = mode !== 'none';
  if (targeted && !attack.targeted) throw new ProbeError('BAD_INPUT', `${attack.id} has no targeted variant`);
  const C = model.classNames.length;
  const batch = Math.max(1, opts.batch ?? (targeted && mode === 'all' ? Math.max(1, Math.floor(100 / (C - 1))) : 100));
  const [h, w, c] = model.inputShape;
  const size = h * w * c;
  const rand = mulberry32(opts.seed ?? 1);
  const zeros = (): number[][] => Array.from({ length: C }, () => new Array<number>(C).fill(0));
  const pairs = targeted ? { count: zeros(), success: zeros(), l0FractionSuccessful: zeros() } : undefined;
  let clean = 0;
  let runs = 0;
  let succ = 0;
  const all = { conf: 0, l0: 0, l2: 0, linf: 0 };
  const ok = { conf: 0, l0: 0, l2: 0, linf: 0 };
  let ms = 0;
  for (let s = 0; s < n; s += batch) {
    const e = Math.min(n, s + batch);
    const { x, y } = batchOf(model, set, s, e);
    const correctT = tf.tidy(() => tf.equal(tf.argMax(model.logits(x), 1), y));
    const correct = (await correctT.data()) as Uint8Array;
    tf.dispose([x, y, correctT]);
    const rows: number[] = [];
    const labels: number[] = [];
    for (let i = 0; i < e - s; i++) {
      if (!correct[i]) continue;
      clean++;
      const label = set.labels[s + i];
      if (!targeted) {
        rows.push(s + i);
        labels.push(label);
      } else if (mode === 'all') {
        for (let t = 0; t < C; t++) if (t !== label) { rows.push(s + i); labels.push(t); }
      } else if (mode === 'next') {
        rows.push(s + i);
        labels.push((label + 1) % C);
      } else {
        rows.push(s + i);
        labels.push((label + 1 + Math.floor(rand() * (C - 1))) % C);
      }
    }
    if (rows.length === 0) continue;
    const xs = new Float32Array(rows.length * size);
    rows.forEach((r, k) => xs.set(set.images.subarray(r * size, (r + 1) * size), k * size));
    const xT = tf.tensor4d(xs, [rows.length, h, w, c]);
    const yT = tf.tensor1d(Int32Array.from(labels), 'int32');
    const t0 = performance.now();
    let run: AttackRun;
    try {
      run = await attack.run(model, xT, { params, y: yT, targeted }, opts.ctl);
    } catch (err) {
      tf.dispose([xT, yT]);
      throw err;
    }
    const stats = tf.tidy(() => {
      const logits = model.logits(run.adv);
      const d = distances(run.adv, xT);
      const hit = targeted ? tf.equal(tf.argMax(logits, 1), yT) : tf.notEqual(tf.argMax(logits, 1), yT);
      return tf.stack([tf.cast(hit, 'float32'), tf.max(tf.softmax(logits), 1), d.l0, d.l2, d.linf]);
    });
    const v = (await stats.data()) as Float32Array;
    ms += performance.now() - t0;
    tf.dispose([xT, yT, run.adv, stats]);
    const m = rows.length;
    for (let k = 0; k < m; k++) {
      runs++;
      const hit = v[k] > 0.5;
      const rec = [v[m + k], v[2 * m + k], v[3 * m + k], v[4 * m + k]] as const;
      all.conf += rec[0]; all.l0 += rec[1]; all.l2 += rec[2]; all.linf += rec[3];
      if (hit) {
        succ++;
        ok.conf += rec[0]; ok.l0 += rec[1]; ok.l2 += rec[2]; ok.linf += rec[3];
      }
      if (pairs) {
        const src = set.labels[rows[k]];
        const t = labels[k];
        pairs.count[src][t]++;
        if (hit) {
          pairs.success[src][t]++;
          pairs.l0FractionSuccessful[src][t] += rec[1] / size;
        }
      }
    }
  }
  if (pairs) {
    for (let a = 0; a < C; a++) for (let b = 0; b < C; b++) {
      if (pairs.success[a][b] > 0) pairs.l0FractionSuccessful[a][b] /= pairs.success[a][b];
    }
  }
  const r = Math.max(runs, 1);
  const q = Math.max(succ, 1);
  return {
    attack: attack.id,
    n,
    cleanAccuracy: clean / n,
    targets: mode,
    attacked: runs,
    successRate: succ / r,
    meanAdvConfidence: all.conf / r,
    meanAdvConfidenceSuccessful: ok.conf / q,
    meanL0: all.l0 / r,
    meanL0Fraction: all.l0 / r / size,
    meanL2: all.l2 / r,
    meanLinf: all.linf / r,
    meanL0Successful: ok.l0 / q,
    meanL0FractionSuccessful: ok.l0 / q / size,
    meanL2Successful: ok.l2 / q,
    meanLinfSuccessful: ok.linf / q,
    msPerImage: ms / r,
    ...(pairs ? { pairs } : {}),
  };
}
