import * as tf from '@tensorflow/tfjs';
import { ProbeError } from '../errors';
import type { Classifier } from '../models/types';
import { stepper, type StepControl } from './types';

export interface JsmaOptions {
  /** Target classes [n] (int32). JSMA is a targeted attack. */
  readonly targets: tf.Tensor1D;
  /** +1: features are increased to the input max (the paper's increasing variant); −1: decreased to the min. Default +1. */
  readonly theta?: 1 | -1;
  /** Υ: maximum fraction of features that may be changed (default 0.145 = 14.5%). */
  readonly maxDistortion?: number;
}

/**
 * Size of the pair-search candidate set per image. The pair search runs over K×K pairs of
 * candidates (B·K² elements), never over N×N pairs.
 */
export const JSMA_PAIR_CANDIDATES = 64;

/** Features outside the search domain Γ get this (oriented) target derivative: no pair with one of them qualifies. */
const OUT = -1e30;
/** Upper bound on the elements of one [images, features] block processed per model call (16 MiB of float32). */
const BLOCK_ELEMENTS = 1 << 22;
/** Upper bound on the elements of one [images, K, K] pair tensor. */
const PAIR_ELEMENTS = 1 << 23;

/**
 * Per-row gather: out[b, j] = params[b, idx[b, j]]. A flat gather rather than `tf.gather(…, 1, 1)`:
 * the wasm backend of tfjs 4.22 indexes batched gathers wrongly (out of bounds) unless the
 * indices per row equal the number of rows.
 */
function pick(params: tf.Tensor, idx: tf.Tensor): tf.Tensor2D {
  const [b, m] = params.shape;
  const offsets = tf.range(0, b * m, m, 'int32').reshape([b, 1]);
  return tf.gather(params.reshape([b * m]), tf.add(idx, offsets)) as tf.Tensor2D;
}

/** `t` shifted right by `d` columns along axis 1, filled with OUT on the left. */
function shiftRight(t: tf.Tensor2D, d: number): tf.Tensor2D {
  const [b, m] = t.shape;
  return tf.pad(tf.slice(t, [0, 0], [b, m - d]), [[0, 0], [d, 0]], OUT);
}

/**
 * Candidate features for the pair search, per row: indices [B, K'] (int32, K' = min(K, M)) and
 * the oriented derivatives a, o of those features.
 *
 * Exactness: a pair (p, q) qualifies when a_p + a_q > 0 and o_p + o_q > 0 and scores
 * (a_p + a_q)(o_p + o_q); replacing q by a feature q' ≠ p with a_q' ≥ a_q and o_q' ≥ o_q never
 * lowers the score nor breaks the constraints. So some best pair uses only features that are
 * dominated (in (a, o)) by at most one other feature of Γ — the first two Pareto layers, in practice
 * a few dozen of the N features. They are found in O(N log N): sort by a (descending), then an
 * exclusive prefix "top-2 maximum" of o by log₂N doubling steps flags every feature with at most
 * one earlier feature of larger-or-equal o. When more than K features are flagged, the K with the
 * largest a + o are kept (the search is then a heuristic over the top-K); otherwise it is exact.
 */
function pairCandidates(a: tf.Tensor2D, o: tf.Tensor2D, k: number): { idx: tf.Tensor2D; a: tf.Tensor2D; o: tf.Tensor2D } {
  const [b, m] = a.shape;
  if (m <= k) {
    return { idx: tf.tile(tf.range(0, m, 1, 'int32').reshape([1, m]), [b, 1]) as tf.Tensor2D, a, o };
  }
  const sorted = tf.topk(a, m, true);
  const order = sorted.indices as tf.Tensor2D;
  const aS = sorted.values as tf.Tensor2D;
  const oS = pick(o, order);
  // m1/m2: the largest and second-largest o over the window [i − w, i − 1] (w doubles each step).
  let m1 = shiftRight(oS, 1);
  let m2 = tf.fill([b, m], OUT) as tf.Tensor2D;
  for (let w = 1; w < m - 1; w *= 2) {
    const [n1, n2] = tf.tidy(() => {
      const s1 = shiftRight(m1, w);
      const s2 = shiftRight(m2, w);
      return [tf.maximum(m1, s1), tf.maximum(tf.minimum(m1, s1), tf.maximum(m2, s2))] as tf.Tensor2D[];
    });
    m1.dispose();
    m2.dispose();
    m1 = n1;
    m2 = n2;
  }
  // Keep: at most one earlier feature with o ≥ this one's. Others are pushed below every kept one.
  const dominated = tf.cast(tf.lessEqual(oS, m2), 'float32');
  const key = tf.add(tf.add(aS, oS), tf.mul(dominated, OUT));
  const pos = tf.topk(key, k, false).indices as tf.Tensor2D;
  return {
    idx: pick(order, pos),
    a: pick(aS, pos),
    o: pick(oS, pos),
  };
}

/**
 * The best pair per row over oriented derivatives (a = θ·∂Z_t/∂x, o = −θ·Σ_{j≠t} ∂Z_j/∂x; features
 * outside Γ carry a = OUT). Returns p, q [B] (int32 feature indices) and the score [B] (0: no pair qualifies).
 */
function bestPairs(a: tf.Tensor2D, o: tf.Tensor2D, k: number): { p: tf.Tensor1D; q: tf.Tensor1D; score: tf.Tensor1D } {
  const cand = pairCandidates(a, o, k);
  const [b, kk] = cand.a.shape;
  const offDiagonal = tf.sub(1, tf.eye(kk));
  const rows = Math.max(1, Math.floor(PAIR_ELEMENTS / (kk * kk)));
  const best: tf.Tensor1D[] = [];
  const score: tf.Tensor1D[] = [];
  for (let r0 = 0; r0 < b; r0 += rows) {
    const r = Math.min(rows, b - r0);
    const [bi, sc] = tf.tidy(() => {
      const ak = r === b ? cand.a : tf.slice(cand.a, [r0, 0], [r, kk]);
      const ok = r === b ? cand.o : tf.slice(cand.o, [r0, 0], [r, kk]);
      // α-like and β-like sums over each pair of candidates, clipped at 0: their product is the
      // paper's α·|β| where the sign conditions hold and 0 elsewhere.
      const alpha = tf.relu(tf.add(ak.reshape([r, kk, 1]), ak.reshape([r, 1, kk])));
      const beta = tf.relu(tf.add(ok.reshape([r, kk, 1]), ok.reshape([r, 1, kk])));
      const s = tf.mul(tf.mul(alpha, beta), offDiagonal).reshape([r, kk * kk]);
      const i = tf.argMax(s, 1) as tf.Tensor1D;
      return [i, pick(s, i.reshape([r, 1])).reshape([r]) as tf.Tensor1D];
    });
    best.push(bi);
    score.push(sc);
  }
  const flat = best.length === 1 ? best[0] : (tf.concat(best) as tf.Tensor1D);
  const width = tf.scalar(kk, 'int32');
  const row = tf.floorDiv(flat, width);
  const i = row.reshape([b, 1]);
  const j = tf.sub(flat, tf.mul(row, width)).reshape([b, 1]);
  return {
    p: pick(cand.idx, i).reshape([b]) as tf.Tensor1D,
    q: pick(cand.idx, j).reshape([b]) as tf.Tensor1D,
    score: (score.length === 1 ? score[0] : tf.concat(score)) as tf.Tensor1D,
  };
}

/**
 * JSMA's pair selection on given Jacobian rows (exported for tests and tools): for each row,
 * the pair p ≠ q of features in the domain maximising α·|β| with α > 0, β < 0 (θ = +1) or
 * |α|·β with α < 0, β > 0 (θ = −1), where α = ∂Z_t/∂x_p + ∂Z_t/∂x_q and
 * β = Σ_{j≠t} (∂Z_j/∂x_p + ∂Z_j/∂x_q). `dTarget`, `dOthers`, `inDomain` (1/0) are [B, N].
 * Returns p, q [B] (int32) and the score [B] (0 where no pair satisfies the conditions).
 */
export function saliencyPairs(
  dTarget: tf.Tensor2D,
  dOthers: tf.Tensor2D,
  inDomain: tf.Tensor2D,
  theta: 1 | -1 = 1,
  k: number = JSMA_PAIR_CANDIDATES,
): { p: tf.Tensor1D; q: tf.Tensor1D; score: tf.Tensor1D } {
  return tf.tidy(() => {
    const a = tf.add(tf.mul(dTarget, theta), tf.mul(tf.sub(1, inDomain), OUT)) as tf.Tensor2D;
    const o = tf.mul(dOthers, -theta) as tf.Tensor2D;
    return bestPairs(a, o, k);
  });
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
 * features change.
 *
 * Pair search without an N×N blow-up: candidates are first reduced to the features dominated (in
 * (α, −β) orientation) by at most one other feature — exact, since a best pair always lies there —
 * found with a sort and O(log N) [B, N] operations; at most K = {@link JSMA_PAIR_CANDIDATES} of
 * them (largest oriented α − β first) enter the K×K pair search. When more than K qualify, the
 * search is restricted to those top-K, a heuristic (on mnist-lenet the set has a median of 9 and
 * at most 33 of the 784 features). N ≤ K: all pairs are searched. Memory per iteration: a few
 * [B, N] tensors and [B, K, K] pair tensors (chunked at 8M elements), B·N ≤ 4M per model call.
 *
 * Batched: finished images stop changing and leave the batch. Honours `ctl` once per iteration.
 * Returns a new tensor; `x` and `opts.targets` are not disposed.
 */
export async function jsma(model: Classifier, x: tf.Tensor4D, opts: JsmaOptions, ctl?: StepControl): Promise<tf.Tensor4D> {
  const theta = opts.theta ?? 1;
  const upsilon = opts.maxDistortion ?? 0.145;
  if (theta !== 1 && theta !== -1) throw new ProbeError('BAD_INPUT', `theta must be +1 or −1, got ${String(theta)}`);
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
  // Oriented-derivative offset per feature: 0 inside Γ, OUT outside (already at the bound, or used).
  const outside = new Float32Array(n * N);
  for (let i = 0; i < adv.length; i++) if (theta === 1 ? adv[i] >= max : adv[i] <= min) outside[i] = OUT;

  const step = stepper(ctl);
  let active = Array.from({ length: n }, (_, i) => i);
  const groupSize = Math.max(1, Math.floor(BLOCK_ELEMENTS / N));
  for (let iter = 0; iter < maxIter && active.length > 0; iter++) {
    await step({ done: iter, total: maxIter, phase: `pair ${iter + 1}/${maxIter}`, info: { active: active.length } });
    const still: number[] = [];
    for (let g0 = 0; g0 < active.length; g0 += groupSize) {
      const group = active.slice(g0, g0 + groupSize);
      const picks = await selectPairs(model, adv, outside, target, group, [h, w, c], classes, theta);
      for (let gi = 0; gi < group.length; gi++) {
        const img = group[gi];
        const reached = picks[3 * gi + 2] === 1;
        const p = picks[3 * gi];
        const q = picks[3 * gi + 1];
        if (reached || p < 0) continue;
        adv[img * N + p] = bound;
        adv[img * N + q] = bound;
        outside[img * N + p] = OUT;
        outside[img * N + q] = OUT;
        still.push(img);
      }
    }
    active = still;
  }
  return tf.tensor4d(adv, [n, h, w, c]);
}

/**
 * One JSMA iteration for the images `group`: returns [p, q, reached] per image (int32), with
 * p = q = −1 when no pair qualifies and reached = 1 when the image is already classified as its target.
 */
async function selectPairs(
  model: Classifier,
  adv: Float32Array,
  outside: Float32Array,
  target: Int32Array,
  group: readonly number[],
  shape: readonly [number, number, number],
  classes: number,
  theta: 1 | -1,
): Promise<Int32Array> {
  const b = group.length;
  const N = shape[0] * shape[1] * shape[2];
  const xs = new Float32Array(b * N);
  const off = new Float32Array(b * N);
  const ts = new Int32Array(b);
  group.forEach((img, i) => {
    xs.set(adv.subarray(img * N, (img + 1) * N), i * N);
    off.set(outside.subarray(img * N, (img + 1) * N), i * N);
    ts[i] = target[img];
  });
  const packed = tf.tidy(() => {
    const xb = tf.tensor4d(xs, [b, ...shape]);
    const t = tf.tensor1d(ts, 'int32');
    const oneHot = tf.cast(tf.oneHot(t, classes), 'float32');
    // One backward pass over the batch tiled twice: rows 0..b−1 get ∂Z_t/∂x, rows b..2b−1 Σ_{j≠t} ∂Z_j/∂x.
    const x2 = tf.concat([xb, xb], 0);
    const cot = tf.concat([oneHot, tf.sub(1, oneHot)], 0) as tf.Tensor2D;
    const { value, grads } = tf.engine().gradients(() => model.logits(x2), [x2], cot);
    const g = grads[0].reshape([2 * b, N]);
    const reached = tf.cast(tf.equal(tf.argMax(tf.slice(value, [0, 0], [b, classes]), 1), t), 'int32');
    const a = tf.add(tf.mul(tf.slice(g, [0, 0], [b, N]), theta), tf.tensor2d(off, [b, N])) as tf.Tensor2D;
    const o = tf.mul(tf.slice(g, [b, 0], [b, N]), -theta) as tf.Tensor2D;
    const { p, q, score } = bestPairs(a, o, JSMA_PAIR_CANDIDATES);
    // p, q → −1 where no pair qualifies.
    const found = tf.greater(score, 0);
    const none = tf.fill([b], -1, 'int32');
    return tf.stack([tf.where(found, p, none), tf.where(found, q, none), reached], 1);
  });
  try {
    return (await packed.data()) as Int32Array;
  } finally {
    packed.dispose();
  }
}
