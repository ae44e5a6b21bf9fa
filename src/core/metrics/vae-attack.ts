/**
 * Success metrics of Kos, Fischer & Song 2017 ("Adversarial examples for generative models") for
 * attacks on a VAE: the label of the reconstruction read back through the encoder,
 * ŷ = f_class(f_enc(x̂*)), and per (source, target) class pair the shares
 *   AS_target        = (1/N) Σ 1[ŷ = y_t]
 *   AS_ignore-target = (1/N) Σ 1[ŷ ≠ y]
 */
import * as tf from '@tensorflow/tfjs';
import { ProbeError } from '../errors';
import type { VaeAttackModels } from '../attacks/vae';
import type { ParamValues, VaeAttackSpec } from '../attacks';

/**
 * ŷ = f_class(f_enc(x̂*)) where x̂* = decode(encoder mean of x*) — Kos et al.'s reconstruction-feedback
 * label. `m.classifier` is f_class∘f_enc (image → logits through the latent mean), so ŷ is its argmax
 * on the reconstruction. Returns int32 [n]; the caller disposes it.
 */
export function reconstructionLabels(m: VaeAttackModels, xAdv: tf.Tensor4D): tf.Tensor1D {
  return tf.tidy(() => {
    const xHat = m.vae.decode(m.vae.encode(xAdv).mean);
    return tf.cast(tf.argMax(m.classifier.logits(xHat), 1), 'int32') as tf.Tensor1D;
  });
}

export interface VaeAttackMatrix {
  /** [source][target]: share of attacks on that pair whose ŷ is the target (0 where none were run). */
  readonly asTarget: number[][];
  /** [source][target]: share whose ŷ differs from the source class (0 where none were run). */
  readonly asIgnoreTarget: number[][];
  /** [source][target]: attacks counted for the pair (the diagonal stays 0). */
  readonly counts: number[][];
  /** Mean of asTarget over the off-diagonal pairs with count > 0 (0 when there are none). */
  readonly meanAsTarget: number;
  /** Mean of asIgnoreTarget over the same pairs. */
  readonly meanAsIgnoreTarget: number;
  /** Mean over the same pairs of each pair's mean L2 distance ‖x* − x‖₂. */
  readonly meanL2: number;
}

interface PairStats {
  count: number;
  hitTarget: number;
  hitIgnore: number;
  l2: number;
}

function isClass(v: number): boolean {
  return Number.isInteger(v) && v >= 0;
}

/**
 * Accumulates per (source class, target class) pair: AS_target = share with ŷ = y_t, AS_ignore-target
 * = share with ŷ ≠ y (source). Diagonal left at 0 count / NaN→0: rows whose target equals their
 * source are not counted (they are not attacks), and a pair without attacks reports 0, not NaN.
 */
export class VaeAttackAccumulator {
  private readonly pairs = new Map<string, PairStats>();

  /** One batch: true classes, target classes, reconstruction-feedback labels ŷ and L2 distances, each [n]. */
  add(sources: ArrayLike<number>, targets: ArrayLike<number>, predicted: ArrayLike<number>, l2: ArrayLike<number>): void {
    const n = sources.length;
    if (targets.length !== n || predicted.length !== n || l2.length !== n) {
      throw new ProbeError('BAD_INPUT', `VaeAttackAccumulator.add: lengths differ (${n}, ${targets.length}, ${predicted.length}, ${l2.length})`);
    }
    for (let i = 0; i < n; i++) {
      const s = sources[i];
      const t = targets[i];
      const p = predicted[i];
      if (!isClass(s) || !isClass(t) || !isClass(p)) {
        throw new ProbeError('BAD_INPUT', `VaeAttackAccumulator.add: row ${i} has a non-class label (${s}, ${t}, ${p})`);
      }
      if (!Number.isFinite(l2[i]) || l2[i] < 0) throw new ProbeError('BAD_INPUT', `VaeAttackAccumulator.add: row ${i} has L2 ${l2[i]}`);
    }
    for (let i = 0; i < n; i++) {
      const s = sources[i];
      const t = targets[i];
      if (s === t) continue;
      const key = `${s},${t}`;
      let st = this.pairs.get(key);
      if (!st) {
        st = { count: 0, hitTarget: 0, hitIgnore: 0, l2: 0 };
        this.pairs.set(key, st);
      }
      st.count++;
      if (predicted[i] === t) st.hitTarget++;
      if (predicted[i] !== s) st.hitIgnore++;
      st.l2 += l2[i];
    }
  }

  /** The [classes × classes] matrices and the means over attacked off-diagonal pairs. */
  result(classes: number): VaeAttackMatrix {
    if (!Number.isInteger(classes) || classes < 1) throw new ProbeError('BAD_INPUT', `VaeAttackAccumulator.result: classes must be a positive integer, got ${classes}`);
    const grid = (): number[][] => Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
    const asTarget = grid();
    const asIgnoreTarget = grid();
    const counts = grid();
    let pairs = 0;
    let sumT = 0;
    let sumI = 0;
    let sumL2 = 0;
    for (const [key, st] of this.pairs) {
      const [s, t] = key.split(',').map(Number);
      if (s >= classes || t >= classes) {
        throw new ProbeError('BAD_INPUT', `VaeAttackAccumulator.result: pair (${s}, ${t}) is outside ${classes} classes`);
      }
      counts[s][t] = st.count;
      asTarget[s][t] = st.hitTarget / st.count;
      asIgnoreTarget[s][t] = st.hitIgnore / st.count;
      pairs++;
      sumT += asTarget[s][t];
      sumI += asIgnoreTarget[s][t];
      sumL2 += st.l2 / st.count;
    }
    const mean = (v: number): number => (pairs > 0 ? v / pairs : 0);
    return { asTarget, asIgnoreTarget, counts, meanAsTarget: mean(sumT), meanAsIgnoreTarget: mean(sumI), meanL2: mean(sumL2) };
  }
}

/** One attack of a run over a dataset: the source image's index and label, and the target class. */
export interface VaeAttackRow {
  readonly index: number;
  readonly label: number;
  readonly target: number;
}

export interface VaeRowsOptions {
  /** Attacks per batch (default 100). */
  readonly batch?: number;
  /** Sees each batch's adversarials and reconstruction labels before they are freed. */
  readonly onBatch?: (rows: readonly VaeAttackRow[], adv: tf.Tensor4D, predicted: ArrayLike<number>) => Promise<void> | void;
}

/**
 * Runs a VAE attack (Kos et al.) over `rows` in batches: sources from `images` (one image of
 * `models.vae.inputShape` per index), targets z_t / x_t from `examples[target]`; adds each batch's
 * reconstruction labels ŷ and L2 distances to `acc`. Returns the milliseconds spent in the attack and
 * its read-backs. Used by `probe attack` and `probe reproduce`.
 */
export async function attackVaeRows(
  spec: VaeAttackSpec,
  models: VaeAttackModels,
  params: ParamValues,
  images: Float32Array,
  rows: readonly VaeAttackRow[],
  examples: readonly Float32Array[],
  acc: VaeAttackAccumulator,
  opts: VaeRowsOptions = {},
): Promise<number> {
  const shape = models.vae.inputShape;
  const size = shape[0] * shape[1] * shape[2];
  const batch = opts.batch ?? 100;
  let ms = 0;
  for (let s = 0; s < rows.length; s += batch) {
    const chunk = rows.slice(s, s + batch);
    const xs = new Float32Array(chunk.length * size);
    const xt = new Float32Array(chunk.length * size);
    chunk.forEach((r, k) => {
      xs.set(images.subarray(r.index * size, (r.index + 1) * size), k * size);
      xt.set(examples[r.target], k * size);
    });
    const x = tf.tensor4d(xs, [chunk.length, ...shape]);
    const tx = tf.tensor4d(xt, [chunk.length, ...shape]);
    const ty = tf.tensor1d(chunk.map((r) => r.target), 'int32');
    const held: tf.Tensor[] = [x, tx, ty];
    try {
      const t0 = performance.now();
      const { adv } = await spec.run(models, x, { params, targets: ty, targetExamples: tx });
      held.push(adv);
      const yHat = reconstructionLabels(models, adv);
      held.push(yHat);
      const l2 = tf.tidy(() => tf.sqrt(tf.sum(tf.square(tf.sub(adv, x)), [1, 2, 3])));
      held.push(l2);
      const [p, d] = await Promise.all([yHat.data(), l2.data()]);
      ms += performance.now() - t0;
      acc.add(chunk.map((r) => r.label), chunk.map((r) => r.target), p, d);
      await opts.onBatch?.(chunk, adv, p);
    } finally {
      tf.dispose(held);
    }
  }
  return ms;
}
