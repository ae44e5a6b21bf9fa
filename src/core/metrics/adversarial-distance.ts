/**
 * Papernot et al.'s adversarial distance and robustness ("The Limitations of Deep Learning in
 * Adversarial Settings", IEEE EuroS&P 2016; papers.md § Adversarial Distance):
 *
 *   A(X, t) = 1 − (1/N)·Σ_i 1[S(X, t)[i] > 0],
 *
 * the fraction of the N input features whose adversarial saliency map value toward t is zero, from
 * the map of the first crafting iteration (at X itself), where (single features, θ = +1)
 * S(X, t)[i] = ∂F_t/∂X_i · |Σ_{c≠t} ∂F_c/∂X_i| if ∂F_t/∂X_i > 0 and Σ_{c≠t} ∂F_c/∂X_i < 0, else 0.
 * The closer to 1, the harder X is to move to t. Robustness: R(F) = min over (X, t) of A(X, t).
 *
 * F is the logits (the paper's choice) or the softmax probabilities (Carlini & Wagner's JSMA-F; since
 * Σ_c ∂F_c/∂X_i = 0 the condition is ∂F_t/∂X_i > 0 alone, tested on ∂log F_t/∂X_i of the same sign).
 * Every feature counts (N = h·w·c), as in the formula, including those already at the bound.
 */
import * as tf from '@tensorflow/tfjs';
import type { JsmaSaliency } from '../attacks/jsma';
import { ProbeError } from '../errors';
import { tapeFreeVjp } from '../models/chain';
import type { Classifier } from '../models/types';

/**
 * A(X, t) for every class t of one image, from its logit Jacobian `jac` ([C, N] flat, row c = ∂Z_c/∂X)
 * and, for the probability map, its logits `z` ([C]). Returns C values in [0, 1].
 */
export function adversarialDistanceFromJacobian(jac: ArrayLike<number>, classes: number, saliency: JsmaSaliency = 'logits', z?: ArrayLike<number>): Float64Array {
  const N = jac.length / classes;
  if (!Number.isInteger(N) || N < 1) throw new ProbeError('BAD_INPUT', `Jacobian of ${jac.length} values does not split into ${classes} rows`);
  const out = new Float64Array(classes);
  if (saliency === 'logits') {
    for (let t = 0; t < classes; t++) {
      let positive = 0;
      for (let i = 0; i < N; i++) {
        const dt = jac[t * N + i];
        if (!(dt > 0)) continue;
        let others = 0;
        for (let c = 0; c < classes; c++) if (c !== t) others += jac[c * N + i];
        if (others < 0) positive++;
      }
      out[t] = 1 - positive / N;
    }
    return out;
  }
  if (!z || z.length !== classes) throw new ProbeError('BAD_INPUT', `the probability saliency map needs the ${classes} logits`);
  let mx = -Infinity;
  for (let c = 0; c < classes; c++) mx = Math.max(mx, z[c]);
  const p = new Float64Array(classes);
  let sum = 0;
  for (let c = 0; c < classes; c++) sum += (p[c] = Math.exp(z[c] - mx));
  for (let c = 0; c < classes; c++) p[c] /= sum;
  // ∂log F_t/∂X_i = ∂Z_t/∂X_i − Σ_c F_c ∂Z_c/∂X_i.
  const mean = new Float64Array(N);
  for (let c = 0; c < classes; c++) for (let i = 0; i < N; i++) mean[i] += p[c] * jac[c * N + i];
  for (let t = 0; t < classes; t++) {
    let positive = 0;
    for (let i = 0; i < N; i++) if (jac[t * N + i] - mean[i] > 0) positive++;
    out[t] = 1 - positive / N;
  }
  return out;
}

/**
 * A(X, t) for every image of `x` and every class t: [n·C] flat (row i: image i). One backward pass
 * per block of `batch` images, the block tiled C times with the cotangents e_c, which gives the
 * full logit Jacobian. `x` is not disposed; no tensor is kept.
 */
export async function adversarialDistances(model: Classifier, x: tf.Tensor4D, saliency: JsmaSaliency = 'logits', batch = 32): Promise<Float64Array> {
  if (x.rank !== 4) throw new ProbeError('BAD_INPUT', `adversarial distance needs a batch [n, h, w, c], got shape [${x.shape.join(', ')}]`);
  const [n, h, w, c] = x.shape;
  const [mh, mw, mc] = model.inputShape;
  if (h !== mh || w !== mw || c !== mc) throw new ProbeError('BAD_INPUT', `model ${model.id} takes ${mh}×${mw}×${mc} images, got ${h}×${w}×${c}`);
  if (saliency !== 'logits' && saliency !== 'probabilities') throw new ProbeError('BAD_INPUT', `saliency must be logits or probabilities, got ${String(saliency)}`);
  const C = model.classNames.length;
  const N = h * w * c;
  const out = new Float64Array(n * C);
  const b = Math.max(1, Math.floor(batch));
  for (let s = 0; s < n; s += b) {
    const k = Math.min(b, n - s);
    const cot = new Float32Array(C * k * C);
    for (let cl = 0; cl < C; cl++) for (let i = 0; i < k; i++) cot[(cl * k + i) * C + cl] = 1;
    const [value, grad] = tf.tidy(() => {
      const xs = x.slice([s, 0, 0, 0], [k, h, w, c]);
      const tiled = tf.tile(xs, [C, 1, 1, 1]) as tf.Tensor4D;
      const dz = tf.tensor2d(cot, [C * k, C]);
      const vjp = tapeFreeVjp(model);
      if (vjp) {
        const f = vjp(tiled, () => dz);
        return [f.logits, f.grad];
      }
      const r = tf.engine().gradients(() => model.logits(tiled), [tiled], dz);
      return [r.value, r.grads[0]];
    });
    let z: Float32Array;
    let g: Float32Array;
    try {
      [z, g] = (await Promise.all([value.data(), grad.data()])) as [Float32Array, Float32Array];
    } finally {
      tf.dispose([value, grad]);
    }
    const jac = new Float32Array(C * N);
    for (let i = 0; i < k; i++) {
      for (let cl = 0; cl < C; cl++) jac.set(g.subarray((cl * k + i) * N, (cl * k + i + 1) * N), cl * N);
      out.set(adversarialDistanceFromJacobian(jac, C, saliency, z.subarray(i * C, (i + 1) * C)), (s + i) * C);
    }
  }
  return out;
}

/** One A(X, t) with the pair it belongs to. */
export interface DistanceRun {
  readonly index: number;
  readonly source: number;
  readonly target: number;
  readonly distance: number;
}

/** Mean A per (source class, target class) pair and the runs behind each mean; NaN where a pair has none. */
export function distanceMatrix(runs: readonly DistanceRun[], classes: number): { mean: number[][]; count: number[][] } {
  const sum = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  const count = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  for (const r of runs) {
    sum[r.source][r.target] += r.distance;
    count[r.source][r.target]++;
  }
  return { mean: sum.map((row, s) => row.map((v, t) => (count[s][t] > 0 ? v / count[s][t] : Number.NaN))), count };
}

/** R(F) = min over the (X, t) runs of A(X, t), with the run that attains it (first on ties); NaN without runs. */
export function robustness(runs: readonly DistanceRun[]): { value: number; at?: DistanceRun } {
  let at: DistanceRun | undefined;
  for (const r of runs) if (at === undefined || r.distance < at.distance) at = r;
  return at === undefined ? { value: Number.NaN } : { value: at.distance, at };
}
