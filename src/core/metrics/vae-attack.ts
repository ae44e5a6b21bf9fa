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
