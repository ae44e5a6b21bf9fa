import * as tf from '@tensorflow/tfjs';
import { ProbeError } from '../errors';
import { tapeFreeVjp } from '../models/chain';
import type { Classifier } from '../models/types';
import { stepper, type StepControl } from './types';

/** What the saliency map differentiates: the logits Z (Papernot et al.) or the softmax probabilities F (Carlini & Wagner's JSMA-F). */
export type JsmaSaliency = 'logits' | 'probabilities';

/** Every {@link JsmaSaliency}, the default first. */
export const JSMA_SALIENCIES: readonly JsmaSaliency[] = ['logits', 'probabilities'];

/**
 * Defaults: the paper's (Papernot et al. 2016: θ = +1, Υ = 14.5%, the saliency map of the logits).
 * The registry (specs.ts) shows θ as the choice '+1' / '-1'.
 */
export const JSMA_DEFAULTS = {
  theta: 1,
  maxDistortion: 0.145,
  saliency: 'logits',
} as const;

export interface JsmaOptions {
  /** Target classes [n] (int32). JSMA is a targeted attack. */
  readonly targets: tf.Tensor1D;
  /** +1: features are increased to the input max (the paper's increasing variant); −1: decreased to the min. Default +1. */
  readonly theta?: 1 | -1;
  /** Υ: maximum fraction of features that may be changed (default 0.145 = 14.5%). */
  readonly maxDistortion?: number;
  /**
   * The function whose Jacobian the saliency map uses (default 'logits').
   *
   * - 'logits': the logits Z, as Papernot, McDaniel, Jha, Fredrikson, Celik & Swami, "The Limitations
   *   of Deep Learning in Adversarial Settings" (IEEE EuroS&P 2016) define JSMA (and CleverHans'
   *   jsma_symbolic implements it): α = ∂Z_t/∂x_p + ∂Z_t/∂x_q, β = Σ_{j≠t} (∂Z_j/∂x_p + ∂Z_j/∂x_q).
   * - 'probabilities': the softmax output F, Carlini & Wagner's "JSMA-F" ("Towards Evaluating the
   *   Robustness of Neural Networks", IEEE S&P 2017; they call the logit version JSMA-Z). Since
   *   Σ_j F_j = 1, β = −α exactly, so the conditions α > 0, β < 0 (θ = +1; α < 0, β > 0 for θ = −1)
   *   reduce to θ·α > 0 and the score α·|β| to α²: the best pair is the pair in Γ with the largest
   *   θ·α, i.e. the two features of largest θ·∂F_t/∂x, provided their sum is positive. One backward
   *   pass per iteration with the cotangent e_t − softmax(Z) on the logits, i.e. the gradient of
   *   log F_t, (∂F_t/∂x)/F_t (a positive factor per image, which changes neither the conditions
   *   nor the arg-max, and avoids F_t underflowing to 0 far from the target).
   *   β is not summed from the other classes' rows: in float32 that sum is cancellation noise
   *   wherever F_t is small (below ~1e-4, i.e. at the start of most runs).
   *   On mnist-lenet (first 100 test images × 9 targets, θ = +1, Υ = 14.5%): 98.99% success, 4.27%
   *   of the pixels changed on successes, 30 ms/image (logits: 79.69%, 7.38%, 84 ms/image; Papernot
   *   et al.'s own LeNet: 97.05%, 4.03%).
   */
  readonly saliency?: JsmaSaliency;
}

/**
 * Most pair-search candidates per image that are searched exhaustively (C·(C−1)/2 pairs: at most
 * ~523k, a few ms in plain JS). Candidates are the features that can belong to a best pair (see
 * {@link saliencyPairs}); there are never more than N, so for N ≤ this value (MNIST: 784) the search
 * is always exact. With more candidates, an evenly spaced subset of them (along the front, sorted by
 * α) is searched instead: a heuristic, needed only for large inputs with a long trade-off front.
 */
export const JSMA_PAIR_CANDIDATES = 1024;

/** Upper bound on the elements of one [images, features] block processed per model call (16 MiB of float32). */
const BLOCK_ELEMENTS = 1 << 22;

/** Per-row buffers of the pair search, for N features. */
interface PairScratch {
  /** Oriented derivatives a = θ·∂Z_t/∂x (−∞ outside Γ) and o = −θ·Σ_{j≠t} ∂Z_j/∂x of one image. */
  readonly a: Float32Array;
  readonly o: Float32Array;
  readonly order: Int32Array;
  readonly keys: Float64Array;
}

function pairScratch(n: number): PairScratch {
  return { a: new Float32Array(n), o: new Float32Array(n), order: new Int32Array(n), keys: new Float64Array(n) };
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * Sorts `idx` (feature indices) by a descending, ties by index: a numeric Float64Array sort of
 * keys that pack an order-preserving uint32 of −a above the index (several times faster than a
 * comparator sort); a comparator sort where N is too large for the packing (> 2^21).
 */
function sortByA(a: Float32Array, idx: Int32Array, keys: Float64Array): void {
  let mult = 1;
  while (mult < a.length) mult *= 2;
  if (mult > 1 << 21) {
    idx.sort((i, j) => a[j] - a[i] || i - j);
    return;
  }
  const m = idx.length;
  for (let r = 0; r < m; r++) {
    f32[0] = -a[idx[r]];
    const u = u32[0];
    // IEEE-754 bits → an unsigned integer of the same order (negatives: all bits flipped).
    keys[r] = (u & 0x80000000 ? ~u >>> 0 : (u | 0x80000000) >>> 0) * mult + idx[r];
  }
  const sorted = keys.subarray(0, m).sort();
  for (let r = 0; r < m; r++) idx[r] = sorted[r] % mult;
}

/**
 * The best pair of one row, exactly (plain JS, no N×N memory), from the oriented derivatives in
 * `s.a`, `s.o`. A pair p ≠ q qualifies when a_p + a_q > 0 and o_p + o_q > 0 (the paper's α > 0,
 * β < 0 for θ = +1; α < 0, β > 0 for θ = −1) and scores (a_p + a_q)(o_p + o_q) = |α|·|β|.
 * Returns [p, q, score] with p < q, or [−1, −1, 0] when no pair qualifies. Equal scores: the pair
 * first in (p, q) order wins.
 *
 * Exactness: replacing q by a feature q' ≠ p with a_q' ≥ a_q and o_q' ≥ o_q never lowers the
 * score nor breaks the conditions. With the features sorted by a (descending), some best pair
 * therefore uses only features with at most one earlier feature of larger-or-equal o — the first
 * two Pareto layers, found in one pass with a running top-2 of o (a few dozen of the N features on
 * MNIST models). Features that cannot qualify with any partner (a + max a ≤ 0 or o + max o ≤ 0)
 * are dropped first. All pairs of the remaining C candidates are scanned when C ≤ `k`.
 */
function bestPair(s: PairScratch, k: number): [number, number, number] {
  const { a, o, order } = s;
  const n = a.length;
  let maxA = -Infinity;
  let maxO = -Infinity;
  for (let i = 0; i < n; i++) {
    if (a[i] === -Infinity) continue;
    if (a[i] > maxA) maxA = a[i];
    if (o[i] > maxO) maxO = o[i];
  }
  let m = 0;
  for (let i = 0; i < n; i++) if (a[i] + maxA > 0 && o[i] + maxO > 0) order[m++] = i;
  if (m < 2) return [-1, -1, 0];
  const cand = order.subarray(0, m);
  sortByA(a, cand, s.keys);
  // Keep the features with fewer than two earlier (larger-or-equal a) features of larger-or-equal o.
  let m1 = -Infinity;
  let m2 = -Infinity;
  let c = 0;
  for (let r = 0; r < m; r++) {
    const f = cand[r];
    const v = o[f];
    if (v > m2) cand[c++] = f;
    if (v > m1) {
      m2 = m1;
      m1 = v;
    } else if (v > m2) {
      m2 = v;
    }
  }
  if (c > k) {
    // Heuristic beyond k candidates: k of them, evenly spaced along the front.
    for (let r = 0; r < k; r++) cand[r] = cand[Math.floor((r * (c - 1)) / (k - 1))];
    c = k;
  }
  let best = 0;
  let bp = -1;
  let bq = -1;
  for (let r = 0; r < c; r++) {
    const f = cand[r];
    const af = a[f];
    const of = o[f];
    for (let t = r + 1; t < c; t++) {
      const g = cand[t];
      const u = af + a[g];
      if (!(u > 0)) break; // a only decreases from here on
      const v = of + o[g];
      if (!(v > 0)) continue;
      const score = u * v;
      const lo = f < g ? f : g;
      const hi = f < g ? g : f;
      if (score > best || (score === best && (lo < bp || (lo === bp && hi < bq)))) {
        best = score;
        bp = lo;
        bq = hi;
      }
    }
  }
  return [bp, bq, best];
}

/**
 * Fills `s.a`, `s.o` with the oriented derivatives of one image: a = θ·dT (−∞ where not in Γ),
 * o = −θ·dO, from rows of the flat arrays at the given offsets.
 */
function orient(
  s: PairScratch, dT: ArrayLike<number>, tOff: number, dO: ArrayLike<number>, oOff: number,
  inDomain: (i: number) => boolean, theta: 1 | -1,
): void {
  const { a, o } = s;
  for (let i = 0; i < a.length; i++) {
    a[i] = inDomain(i) ? theta * dT[tOff + i] : -Infinity;
    o[i] = -theta * dO[oOff + i];
  }
}

/** Fills `s.a` with θ·dT (−∞ where not in Γ) from a row of `dT` at the given offset. */
function orientTarget(s: PairScratch, dT: ArrayLike<number>, tOff: number, inDomain: (i: number) => boolean, theta: 1 | -1): void {
  const { a } = s;
  for (let i = 0; i < a.length; i++) a[i] = inDomain(i) ? theta * dT[tOff + i] : -Infinity;
}

/**
 * JSMA's pair selection on given Jacobian rows (exported for tests and tools): for each row,
 * the pair p ≠ q of features in the domain maximising α·|β| with α > 0, β < 0 (θ = +1) or
 * |α|·β with α < 0, β > 0 (θ = −1), where α = ∂Z_t/∂x_p + ∂Z_t/∂x_q and
 * β = Σ_{j≠t} (∂Z_j/∂x_p + ∂Z_j/∂x_q). `dTarget`, `dOthers`, `inDomain` (1/0) are [B, N].
 * Returns p, q [B] (int32, p < q) and the score [B]; p = q = −1 and score 0 where no pair
 * satisfies the conditions. Candidates are the features with at most one other feature at least
 * as good in both α and −β (θ = +1) — some best pair always lies among them — and all their pairs
 * are scored: exact for up to `k` candidates per row (see {@link JSMA_PAIR_CANDIDATES}).
 * Reads the inputs synchronously.
 */
export function saliencyPairs(
  dTarget: tf.Tensor2D,
  dOthers: tf.Tensor2D,
  inDomain: tf.Tensor2D,
  theta: 1 | -1 = 1,
  k: number = JSMA_PAIR_CANDIDATES,
): { p: tf.Tensor1D; q: tf.Tensor1D; score: tf.Tensor1D } {
  const [b, n] = dTarget.shape;
  const [t, o, d] = [dTarget.dataSync(), dOthers.dataSync(), inDomain.dataSync()];
  const kk = Math.max(2, Math.floor(k));
  const scratch = pairScratch(n);
  const p = new Int32Array(b);
  const q = new Int32Array(b);
  const score = new Float32Array(b);
  for (let r = 0; r < b; r++) {
    orient(scratch, t, r * n, o, r * n, (i) => d[r * n + i] !== 0, theta);
    [p[r], q[r], score[r]] = bestPair(scratch, kk);
  }
  return { p: tf.tensor1d(p, 'int32'), q: tf.tensor1d(q, 'int32'), score: tf.tensor1d(score, 'float32') };
}

/**
 * The best pair of one row for the probability saliency map (JSMA-F), exactly, from the oriented
 * derivatives `a` (θ·∂F_t/∂x or any positive multiple; −∞ outside Γ): with β = −α, a pair
 * qualifies when a_p + a_q > 0 and scores (a_p + a_q)² = α·|β|, so the best pair is the two largest
 * a, found in one pass. Returns [p, q, score] with p < q, or [−1, −1, 0] when no pair qualifies.
 * Equal values: the first indices win (as the first pair in (p, q) order among equal scores).
 */
function topPair(a: Float32Array): [number, number, number] {
  let v1 = -Infinity;
  let v2 = -Infinity;
  let i1 = -1;
  let i2 = -1;
  for (let i = 0; i < a.length; i++) {
    const v = a[i];
    if (v > v1) {
      v2 = v1;
      i2 = i1;
      v1 = v;
      i1 = i;
    } else if (v > v2) {
      v2 = v;
      i2 = i;
    }
  }
  const u = v1 + v2;
  if (i2 < 0 || !(u > 0)) return [-1, -1, 0];
  return i1 < i2 ? [i1, i2, u * u] : [i2, i1, u * u];
}

/**
 * JSMA-F's pair selection (saliency map of the softmax probabilities F, see
 * {@link JsmaOptions.saliency}) on given rows of ∂F_t/∂x (exported for tests and tools): for each
 * row, the pair p ≠ q of features in the domain maximising α·|β| = α² under the conditions of
 * {@link saliencyPairs}, where β = Σ_{j≠t} (∂F_j/∂x_p + ∂F_j/∂x_q) = −α since Σ_j F_j = 1. Any
 * positive multiple of a row (e.g. ∂log F_t/∂x) gives the same pair. `dTarget`, `inDomain` (1/0)
 * are [B, N]. Returns p, q [B] (int32, p < q) and the score α² [B] (in the units of `dTarget`);
 * p = q = −1 and score 0 where no pair qualifies. Exact: the two largest θ·α. Reads the inputs
 * synchronously.
 */
export function probabilityPairs(
  dTarget: tf.Tensor2D,
  inDomain: tf.Tensor2D,
  theta: 1 | -1 = 1,
): { p: tf.Tensor1D; q: tf.Tensor1D; score: tf.Tensor1D } {
  const [b, n] = dTarget.shape;
  const [t, d] = [dTarget.dataSync(), inDomain.dataSync()];
  const scratch = pairScratch(n);
  const p = new Int32Array(b);
  const q = new Int32Array(b);
  const score = new Float32Array(b);
  for (let r = 0; r < b; r++) {
    orientTarget(scratch, t, r * n, (i) => d[r * n + i] !== 0, theta);
    [p[r], q[r], score[r]] = topPair(scratch.a);
  }
  return { p: tf.tensor1d(p, 'int32'), q: tf.tensor1d(q, 'int32'), score: tf.tensor1d(score, 'float32') };
}

/**
 * Jacobian-based Saliency Map Attack, Papernot, McDaniel, Jha, Fredrikson, Celik & Swami,
 * "The Limitations of Deep Learning in Adversarial Settings" (IEEE EuroS&P 2016), Algorithms 2
 * and 3 with the saliency map for pairs of features.
 *
 * Per iteration and image: the forward derivative of the logits Z (pre-softmax), in one batched
 * backward pass (the batch is tiled twice, with cotangents onehot(t) and 1 − onehot(t), which
 * gives exactly the two Jacobian rows the saliency map needs: ∂Z_t/∂x and Σ_{j≠t} ∂Z_j/∂x); then
 * the pair p ≠ q in the search domain Γ maximising α·|β| subject to α > 0, β < 0 (θ = +1; for
 * θ = −1: |α|·β with α < 0, β > 0), with α = ∂Z_t/∂x_p + ∂Z_t/∂x_q and
 * β = Σ_{j≠t} (∂Z_j/∂x_p + ∂Z_j/∂x_q). Both features are set to the input max (θ = +1) or min
 * (θ = −1) and leave Γ. Γ starts as the features not already at that bound. An image stops as soon
 * as its arg-max logit is the target (images already at the target are returned unchanged), when
 * no pair qualifies, or after max_iter = ⌊N·Υ/2⌋ iterations (N = h·w·c), so at most 2·max_iter
 * features change. (No qualifying pair: the paper leaves the case open; CleverHans' jsma_symbolic
 * takes the arg-max of the all-zero score map, i.e. "changes" feature 0 and carries on without
 * progress. On mnist-lenet, images 0–4 × 9 targets give byte-identical results to a full N×N
 * jsma_symbolic port.)
 *
 * Pair search without an N×N blow-up, on the CPU in plain JS after one read-back of the two
 * Jacobian rows per image (see {@link saliencyPairs}): the features that can belong to a best pair
 * (the first two Pareto layers in (α, −β) orientation, a sort and one pass; a few dozen on MNIST
 * models) are searched pairwise, exactly for up to K = {@link JSMA_PAIR_CANDIDATES} of them, so
 * always for N ≤ K. Memory per iteration: the tiled batch, its gradient and B·N scratch, with
 * B·N ≤ 4M per model call.
 *
 * `opts.saliency` = 'probabilities' runs Carlini & Wagner's JSMA-F instead: the same algorithm on
 * the Jacobian of the softmax output, where the pair search is the two largest θ·∂F_t/∂x (one
 * backward pass over the batch, not tiled; see {@link JsmaOptions.saliency}).
 *
 * Batched: finished images stop changing and leave the batch. Honours `ctl` once per iteration.
 * Returns a new tensor; `x` and `opts.targets` are not disposed.
 */
export async function jsma(model: Classifier, x: tf.Tensor4D, opts: JsmaOptions, ctl?: StepControl): Promise<tf.Tensor4D> {
  const theta = opts.theta ?? JSMA_DEFAULTS.theta;
  const upsilon = opts.maxDistortion ?? JSMA_DEFAULTS.maxDistortion;
  const saliency = opts.saliency ?? JSMA_DEFAULTS.saliency;
  if (theta !== 1 && theta !== -1) throw new ProbeError('BAD_INPUT', `theta must be +1 or −1, got ${String(theta)}`);
  if (!JSMA_SALIENCIES.includes(saliency)) {
    throw new ProbeError('BAD_INPUT', `saliency must be one of ${JSMA_SALIENCIES.join(', ')}, got ${String(saliency)}`);
  }
  if (!Number.isFinite(upsilon) || upsilon <= 0 || upsilon > 1) {
    throw new ProbeError('BAD_INPUT', `maxDistortion must be in (0, 1], got ${upsilon}`);
  }
  if (x.rank !== 4) throw new ProbeError('BAD_INPUT', `JSMA needs a batch [n, h, w, c], got shape [${x.shape.join(', ')}]`);
  const [n, h, w, c] = x.shape;
  const [mh, mw, mc] = model.inputShape;
  if (h !== mh || w !== mw || c !== mc) {
    throw new ProbeError('BAD_INPUT', `model ${model.id} takes ${mh}×${mw}×${mc} images, got ${h}×${w}×${c}`);
  }
  const classes = model.classNames.length;
  const { targets } = opts;
  if (!targets || targets.rank !== 1 || targets.shape[0] !== n) {
    throw new ProbeError('BAD_INPUT', `JSMA needs one target class per image (${n}), got ${targets ? `shape [${targets.shape.join(', ')}]` : 'none'}`);
  }
  const tData = await targets.data();
  const target = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const t = tData[i];
    target[i] = t;
    if (!Number.isInteger(t) || t < 0 || t >= classes) {
      throw new ProbeError('BAD_INPUT', `target classes must be integers in [0, ${classes - 1}], got ${t} for image ${i}`);
    }
  }

  const N = h * w * c;
  const maxIter = Math.floor((N * upsilon) / 2);
  const { min, max } = model.inputRange;
  const bound = theta === 1 ? max : min;
  const adv = Float32Array.from(await x.data());
  // 1: outside Γ (already at the bound, or changed).
  const used = new Uint8Array(n * N);
  for (let i = 0; i < adv.length; i++) if (theta === 1 ? adv[i] >= max : adv[i] <= min) used[i] = 1;

  const step = stepper(ctl);
  const scratch = pairScratch(N);
  let active = Array.from({ length: n }, (_, i) => i);
  const groupSize = Math.max(1, Math.floor(BLOCK_ELEMENTS / N));
  for (let iter = 0; iter < maxIter && active.length > 0; iter++) {
    await step({ done: iter, total: maxIter, phase: `pair ${iter + 1}/${maxIter}`, info: { active: active.length } });
    const still: number[] = [];
    for (let g0 = 0; g0 < active.length; g0 += groupSize) {
      const group = active.slice(g0, g0 + groupSize);
      const picks = await selectPairs(model, adv, used, target, group, [h, w, c], classes, theta, saliency, scratch);
      for (let gi = 0; gi < group.length; gi++) {
        const img = group[gi];
        const p = picks[2 * gi];
        const q = picks[2 * gi + 1];
        if (p < 0) continue;
        adv[img * N + p] = bound;
        adv[img * N + q] = bound;
        used[img * N + p] = 1;
        used[img * N + q] = 1;
        still.push(img);
      }
    }
    active = still;
  }
  return tf.tensor4d(adv, [n, h, w, c]);
}

/** Reads two tensors back (in parallel) and frees them. */
async function readAndDispose(a: tf.Tensor, b: tf.Tensor): Promise<[Float32Array, Float32Array]> {
  try {
    return (await Promise.all([a.data(), b.data()])) as [Float32Array, Float32Array];
  } finally {
    tf.dispose([a, b]);
  }
}

/**
 * One JSMA iteration for the images `group`: returns [p, q] per image (int32), p = q = −1 when the
 * image is already classified as its target (arg-max logit, first on ties) or when no pair qualifies.
 * Saliency 'logits': the batch tiled twice (see below); 'probabilities': one row per image.
 */
async function selectPairs(
  model: Classifier,
  adv: Float32Array,
  used: Uint8Array,
  target: Int32Array,
  group: readonly number[],
  shape: readonly [number, number, number],
  classes: number,
  theta: 1 | -1,
  saliency: JsmaSaliency,
  scratch: PairScratch,
): Promise<Int32Array> {
  if (saliency === 'probabilities') return selectPairsF(model, adv, used, target, group, shape, classes, theta, scratch);
  const b = group.length;
  const N = shape[0] * shape[1] * shape[2];
  // One backward pass over the batch tiled twice: rows 0..b−1 get the cotangent onehot(t), i.e.
  // ∂Z_t/∂x; rows b..2b−1 get 1 − onehot(t), i.e. Σ_{j≠t} ∂Z_j/∂x.
  const x2 = new Float32Array(2 * b * N);
  const cot = new Float32Array(2 * b * classes);
  group.forEach((img, i) => {
    const row = adv.subarray(img * N, (img + 1) * N);
    x2.set(row, i * N);
    x2.set(row, (b + i) * N);
    for (let k = 0; k < classes; k++) cot[(b + i) * classes + k] = 1;
    cot[i * classes + target[img]] = 1;
    cot[(b + i) * classes + target[img]] = 0;
  });
  const vjp = tapeFreeVjp(model);
  const [value, grad] = tf.tidy(() => {
    const xt = tf.tensor4d(x2, [2 * b, ...shape]);
    const dz = tf.tensor2d(cot, [2 * b, classes]);
    if (vjp) {
      const r = vjp(xt, () => dz);
      return [r.logits, r.grad];
    }
    const r = tf.engine().gradients(() => model.logits(xt), [xt], dz);
    return [r.value, r.grads[0]];
  });
  const [z, g] = await readAndDispose(value, grad);
  const picks = new Int32Array(2 * b).fill(-1);
  group.forEach((img, i) => {
    let pred = 0;
    for (let k = 1; k < classes; k++) if (z[i * classes + k] > z[i * classes + pred]) pred = k;
    if (pred === target[img]) return;
    const base = img * N;
    orient(scratch, g, i * N, g, (b + i) * N, (f) => used[base + f] === 0, theta);
    const [p, q] = bestPair(scratch, JSMA_PAIR_CANDIDATES);
    picks[2 * i] = p;
    picks[2 * i + 1] = q;
  });
  return picks;
}

/**
 * {@link selectPairs} for the probability saliency map (JSMA-F): one backward pass over the batch of
 * [Z, log softmax(Z)] with the cotangent [0, onehot(t)], i.e. the logits' VJP with e_t − softmax(Z)
 * (tfjs' logSoftmax gradient: stable, no F_t underflow): rows ∂log F_t/∂x = (∂F_t/∂x) / F_t. The
 * value's first C columns are the logits themselves (the stopping test), unchanged.
 */
async function selectPairsF(
  model: Classifier,
  adv: Float32Array,
  used: Uint8Array,
  target: Int32Array,
  group: readonly number[],
  shape: readonly [number, number, number],
  classes: number,
  theta: 1 | -1,
  scratch: PairScratch,
): Promise<Int32Array> {
  const b = group.length;
  const N = shape[0] * shape[1] * shape[2];
  const x1 = new Float32Array(b * N);
  const cot = new Float32Array(b * 2 * classes);
  group.forEach((img, i) => {
    x1.set(adv.subarray(img * N, (img + 1) * N), i * N);
    cot[i * 2 * classes + classes + target[img]] = 1;
  });
  const vjp = tapeFreeVjp(model);
  const [value, grad] = tf.tidy(() => {
    const xt = tf.tensor4d(x1, [b, ...shape]);
    if (vjp) {
      // The same cotangent on the logits as tfjs' logSoftmax gradient: dy − Σdy · exp(logSoftmax(Z)).
      const dy = tf.slice(tf.tensor2d(cot, [b, 2 * classes]), [0, classes], [b, classes]);
      const r = vjp(xt, (z) => tf.sub(dy, tf.mul(tf.sum(dy, 1, true), tf.exp(tf.logSoftmax(z)))) as tf.Tensor2D);
      return [r.logits, r.grad];
    }
    const r = tf.engine().gradients(() => {
      const z = model.logits(xt);
      return tf.concat([z, tf.logSoftmax(z)], 1);
    }, [xt], tf.tensor2d(cot, [b, 2 * classes]));
    return [r.value, r.grads[0]];
  });
  const [z, g] = await readAndDispose(value, grad);
  const picks = new Int32Array(2 * b).fill(-1);
  // Rows of the value: the logits alone (tape-free path), or [Z, log softmax(Z)].
  const stride = vjp ? classes : 2 * classes;
  group.forEach((img, i) => {
    let pred = 0;
    for (let k = 1; k < classes; k++) if (z[i * stride + k] > z[i * stride + pred]) pred = k;
    if (pred === target[img]) return;
    const base = img * N;
    orientTarget(scratch, g, i * N, (f) => used[base + f] === 0, theta);
    const [p, q] = topPair(scratch.a);
    picks[2 * i] = p;
    picks[2 * i + 1] = q;
  });
  return picks;
}
