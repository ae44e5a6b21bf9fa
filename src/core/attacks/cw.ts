import * as tf from '@tensorflow/tfjs';
import { ProbeError } from '../errors';
import { tapeFreeVjp } from '../models/chain';
import type { Classifier } from '../models/types';
import { deviceScalars } from '../tensors';
import { cwAdam, cwBestCpu, cwForward, cwFusedAvailable, cwSeedAndMargin } from '../kernels/cw-step';
import * as gpu from '../kernels/cw-webgpu';
import { stepper, type StepControl, type TraceEntry } from './types';

export interface CwL2Options {
  /**
   * Labels [n] (int). Targeted: the target classes (required). Untargeted: the true labels to
   * move away from (default: the model's own predictions).
   */
  readonly y?: tf.Tensor1D;
  /** Default false. */
  readonly targeted?: boolean;
  /** κ ≥ 0: the logit margin the adversarial must reach (default 0). */
  readonly confidence?: number;
  /** Steps of the binary search over the constant c (default 9). */
  readonly binarySteps?: number;
  /** Adam iterations per constant (default 1000). */
  readonly maxIterations?: number;
  /** Adam learning rate (default 0.01). */
  readonly learningRate?: number;
  /** The first constant c of every image (default 1e-3). */
  readonly initialConst?: number;
  /**
   * Stop an image's optimisation at a constant once its loss stalls (< 0.01 % gain over maxIterations/10
   * steps), default true. Carlini's rule, applied per image (for one image exactly the reference
   * behaviour; the reference checks the batch's total loss); stopped images leave the batch.
   */
  readonly abortEarly?: boolean;
  /**
   * Start each constant's optimisation where the image's previous one ended, with fresh Adam moments
   * (default true; the reference starts every constant from the input). The search then moves along
   * the decision boundary instead of walking back to it for every constant: about half the steps.
   */
  readonly warmStart?: boolean;
  /**
   * Abort-early checks per constant: the loss is compared every maxIterations/abortChecks steps
   * (default 40; the reference: 10). With a warm start the loss settles fast, so a shorter window
   * stops sooner.
   */
  readonly abortChecks?: number;
}

export interface CwL2Result {
  /** The smallest-L2 adversarial found per image; the input itself where none was found. Caller disposes. */
  readonly adv: tf.Tensor4D;
  /** Per image: an adversarial was found (the model's logits on `adv` meet the goal with margin κ). */
  readonly success: boolean[];
  /** One entry per binary-search step. */
  readonly trace: TraceEntry[];
}

/**
 * Defaults: Carlini's reference implementation (nn_robust_attacks, l2_attack.py: 9 binary steps,
 * c₀ = 1e-3, κ = 0, abort early), untargeted, with 1000 steps per constant (reference: 10000) and a
 * faster search: warm starts, 40 abort-early checks per constant (reference: 10) and Adam's learning
 * rate 0.05 (reference: 0.01). `CW_L2_REFERENCE` restores the reference search; on mnist-lenet the fast
 * one takes about a quarter of the time per image for a mean L2 about 2 % larger (`probe attack … --warm-start false
 * --abort-checks 10 --learning-rate 0.01` reproduces the comparison).
 */
export const CW_L2_DEFAULTS = {
  targeted: false,
  confidence: 0,
  binarySteps: 9,
  maxIterations: 1000,
  learningRate: 0.05,
  initialConst: 1e-3,
  abortEarly: true,
  warmStart: true,
  abortChecks: 40,
} as const;

/** The search of Carlini's reference implementation (with 1000 steps per constant). */
export const CW_L2_REFERENCE: Pick<CwL2Options, 'learningRate' | 'warmStart' | 'abortChecks'> = {
  learningRate: 0.01,
  warmStart: false,
  abortChecks: 10,
};

const ADAM_B1 = 0.9;
const ADAM_B2 = 0.999;
const ADAM_EPS = 1e-8;
/** Scale of the input box before atanh, so that pixels exactly at the bounds map to finite w. */
const TANH_SHRINK = 1 - 1e-6;
const UPPER_INIT = 1e10;

function checkNumber(name: string, v: number, ok: (v: number) => boolean, what: string): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) {
    throw new ProbeError('BAD_INPUT', `CW-L2: ${name} must be ${what}, got ${String(v)}`);
  }
}

/** Reads labels [n] as ints and checks them against the number of classes. */
export async function readLabels(y: tf.Tensor1D, n: number, classes: number, who: string): Promise<Int32Array> {
  if (y.rank !== 1 || y.shape[0] !== n) {
    throw new ProbeError('BAD_INPUT', `${who}: labels must have shape [${n}], got [${y.shape.join(', ')}]`);
  }
  const data = await y.data();
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = Number(data[i]);
    if (!Number.isInteger(v) || v < 0 || v >= classes) {
      throw new ProbeError('BAD_INPUT', `${who}: label ${i} is ${v}, not a class index in 0..${classes - 1}`);
    }
    out[i] = v;
  }
  return out;
}

/** The model's predicted classes for a batch. */
export async function predictions(model: Classifier, x: tf.Tensor4D): Promise<Int32Array> {
  const pred = tf.tidy(() => tf.argMax(model.logits(x), 1));
  try {
    return Int32Array.from(await pred.data());
  } finally {
    pred.dispose();
  }
}

/**
 * Carlini & Wagner's L2 attack, "Towards Evaluating the Robustness of Neural Networks"
 * (IEEE S&P 2017): minimise ‖x′ − x‖₂² + c·f(x′) over w with x′ = lo + (hi − lo)·(tanh(w) + 1)/2
 * (the change of variables keeps x′ in the box), with Adam, where
 * f(x′) = max(Z_y − max_{i≠y} Z_i, −κ) (untargeted) or max(max_{i≠t} Z_i − Z_t, −κ) (targeted) on the
 * logits Z. A binary search over c per image (success lowers the upper bound; failure raises the lower
 * bound, or multiplies c by 10 while there is no upper bound) keeps the smallest-L2 success.
 * All images (each with its own c) are optimised together in one batch; an image whose loss stalls
 * leaves the batch until the next constant, so each image's result does not depend on the others.
 * Adam runs on the tensors (state reset per constant); the only readbacks are a [2, n] status every
 * maxIterations/10 steps and the success flags per constant.
 */
export async function cwL2(model: Classifier, x: tf.Tensor4D, opts: CwL2Options, ctl?: StepControl): Promise<CwL2Result> {
  const targeted = opts.targeted ?? CW_L2_DEFAULTS.targeted;
  const kappa = opts.confidence ?? CW_L2_DEFAULTS.confidence;
  const binarySteps = opts.binarySteps ?? CW_L2_DEFAULTS.binarySteps;
  const maxIterations = opts.maxIterations ?? CW_L2_DEFAULTS.maxIterations;
  const lr = opts.learningRate ?? CW_L2_DEFAULTS.learningRate;
  const initialConst = opts.initialConst ?? CW_L2_DEFAULTS.initialConst;
  const abortEarly = opts.abortEarly ?? CW_L2_DEFAULTS.abortEarly;
  const warmStart = opts.warmStart ?? CW_L2_DEFAULTS.warmStart;
  const abortChecks = opts.abortChecks ?? CW_L2_DEFAULTS.abortChecks;
  checkNumber('confidence', kappa, (v) => v >= 0, 'a finite number ≥ 0');
  checkNumber('binarySteps', binarySteps, (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1');
  checkNumber('maxIterations', maxIterations, (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1');
  checkNumber('learningRate', lr, (v) => v > 0, 'a finite number > 0');
  checkNumber('initialConst', initialConst, (v) => v > 0, 'a finite number > 0');
  if (typeof abortEarly !== 'boolean') throw new ProbeError('BAD_INPUT', 'CW-L2: abortEarly must be a boolean');
  if (typeof warmStart !== 'boolean') throw new ProbeError('BAD_INPUT', 'CW-L2: warmStart must be a boolean');
  checkNumber('abortChecks', abortChecks, (v) => Number.isInteger(v) && v >= 1 && v <= 1000, 'an integer in [1, 1000]');
  if (x.rank !== 4) throw new ProbeError('BAD_INPUT', `CW-L2: the input must be a batch [n, h, w, c], got rank ${x.rank}`);
  if (targeted && !opts.y) throw new ProbeError('BAD_INPUT', 'CW-L2: a targeted attack needs target labels (y)');
  const classes = model.classNames.length;
  if (classes < 2) throw new ProbeError('BAD_INPUT', 'CW-L2 needs a model with at least 2 classes');

  const n = x.shape[0];
  const { min: lo, max: hi } = model.inputRange;
  if (!(hi > lo)) throw new ProbeError('BAD_INPUT', `CW-L2: the model's input range [${lo}, ${hi}] is empty`);
  if (n === 0) return { adv: tf.clone(x), success: [], trace: [] };

  const labels = opts.y ? await readLabels(opts.y, n, classes, 'CW-L2') : await predictions(model, x);

  const step = stepper(ctl);
  // wasm/cpu: the element-wise work of an iteration in two fused kernels (src/core/kernels/cw-step.ts).
  const fused = cwFusedAvailable();
  // webgpu and webgl: the iteration in 10 programs around the model’s pass (src/core/kernels/cw-webgpu.ts, cw-webgl.ts).
  const onGpu = gpu.cwGpuAvailable();
  // The model's tape-free logits + VJP where it has one (a chain of standard layers), else tf's tape.
  const vjp = tapeFreeVjp(model);
  const trace: TraceEntry[] = [];
  const checkEvery = Math.max(1, Math.floor(maxIterations / abortChecks));
  const scale = (hi - lo) / 2;

  const lower = new Float64Array(n);
  const upper = new Float64Array(n).fill(UPPER_INIT);
  const consts = new Float64Array(n).fill(initialConst);
  const everSucceeded = new Uint8Array(n);

  /** Z_y − max_{i≠y} Z_i (untargeted) or max_{i≠t} Z_i − Z_t (targeted): f without the −κ clamp. */
  const margin = (z: tf.Tensor2D, oneHot: tf.Tensor2D, labelMask: tf.Tensor2D): tf.Tensor1D => {
    const real = tf.sum(tf.mul(z, oneHot), 1);
    const other = tf.max(tf.sub(z, labelMask), 1);
    return (targeted ? tf.sub(other, real) : tf.sub(real, other)) as tf.Tensor1D;
  };
  /** The goal with confidence κ: margin < −κ (Carlini's compare() on logits shifted by κ). */
  const meetsGoal = (z: tf.Tensor2D, oneHot: tf.Tensor2D, labelMask: tf.Tensor2D): tf.Tensor1D =>
    tf.less(margin(z, oneHot, labelMask), k.negKappa) as tf.Tensor1D;

  // Every number used inside the loop, made once on the device (src/core/tensors.ts says why); lrT[it] is
  // Adam's bias-corrected step size (one upload per attack).
  const lrTable = new Float32Array(maxIterations);
  for (let it = 0, b1t = 1, b2t = 1; it < maxIterations; it++) {
    b1t *= ADAM_B1;
    b2t *= ADAM_B2;
    lrTable[it] = (lr * Math.sqrt(1 - b2t)) / (1 - b1t);
  }
  const k = {
    ...deviceScalars({ one: 1, two: 2, lo, hi, scale, negKappa: -kappa, b1: ADAM_B1, b1c: 1 - ADAM_B1, b2: ADAM_B2, b2c: 1 - ADAM_B2, eps: ADAM_EPS, dy: 1 }),
    lrT: tf.tensor1d(lrTable),
  };

  let full: Rows | undefined;
  let best: Best | undefined;
  let batch: Batch | undefined;
  try {
    full = tf.tidy((): Rows => {
      const x0 = tf.clipByValue(x, lo, hi) as tf.Tensor4D;
      const oneHot = tf.oneHot(tf.tensor1d(labels, 'int32'), classes).toFloat() as tf.Tensor2D;
      return {
        x0,
        w0: tf.atanh(tf.mul(tf.sub(tf.div(tf.sub(x0, lo), scale), 1), TANH_SHRINK)),
        oneHot,
        labelMask: tf.mul(oneHot, 1e10),
      };
    });
    const w00 = full.w0;
    best = tf.tidy((): Best => ({ l2: tf.fill([n], Number.POSITIVE_INFINITY) as tf.Tensor1D, adv: tf.clone(x), w: tf.clone(w00) }));

    const repeat = binarySteps >= 10;
    for (let bs = 0; bs < binarySteps; bs++) {
      if (repeat && bs === binarySteps - 1) {
        for (let i = 0; i < n; i++) if (upper[i] < UPPER_INIT) consts[i] = upper[i];
      }
      let meanConst = 0;
      for (let i = 0; i < n; i++) meanConst += consts[i] / n;
      const phase = `binary search ${bs + 1}/${binarySteps}`;
      let successes = 0;
      for (let i = 0; i < n; i++) successes += everSucceeded[i];

      // The images still being optimised at this constant (indices into the batch), compacted as they stop.
      let active = Int32Array.from({ length: n }, (_, i) => i);
      const rows: Rows = full;
      const b0: Best = best;
      batch = tf.tidy((): Batch => {
        const w0 = tf.clone(warmStart ? b0.w : rows.w0);
        return {
          x0: tf.clone(rows.x0),
          oneHot: tf.clone(rows.oneHot),
          labelMask: tf.clone(rows.labelMask),
          c: tf.tensor1d(Float32Array.from(consts)),
          w: w0,
          m: tf.zerosLike(w0),
          v: tf.zerosLike(w0),
          stepSucc: tf.zeros([n], 'bool') as tf.Tensor1D,
          bestL2: tf.clone(b0.l2),
          bestAdv: tf.clone(b0.adv),
        };
      });
      const prev = new Float64Array(n).fill(Number.POSITIVE_INFINITY);
      const stepSucc = new Uint8Array(n);
      let iterations = 0;
      let imageIterations = 0;

      for (let it = 0; it < maxIterations; it++) {
        const last = it === maxIterations - 1;
        const check = it % checkEvery === 0 || last;
        const rowsNow = active.length;
        const cur: Batch = batch;
        const out = tf.tidy((): { state: State; status?: tf.Tensor2D } => {
          // Tensors kept out of valueAndGrad's forward scope (x′, its squared L2, the logits, the loss per image).
          const kept: tf.Tensor[] = [];
          const hold = <T extends tf.Tensor>(t: T): T => {
            kept.push(tf.keep(t));
            return t;
          };
          try {
            let adv: tf.Tensor4D, l2: tf.Tensor1D, z: tf.Tensor2D, grad: tf.Tensor | undefined;
            // The loss per image, for the status read back at a check (made only then where it is not a by-product).
            let perImage: () => tf.Tensor1D;
            const lossOf = (l: tf.Tensor1D, mg: tf.Tensor1D) => (): tf.Tensor1D => tf.add(l, tf.mul(cur.c, tf.maximum(mg, k.negKappa))) as tf.Tensor1D;
            // Adam's result when the fused kernel computed it.
            let adam: { w: tf.Tensor4D; m: tf.Tensor4D; v: tf.Tensor4D } | undefined;
            /**
             * The model's part by its tape-free VJP (src/core/models/chain.ts): the logits, the margin and
             * c·1[margin ≥ −κ]·(∂margin/∂Z)ᵀ ∂Z/∂x′.
             */
            const modelPart = (a: tf.Tensor4D): { logits: tf.Tensor2D; grad: tf.Tensor; margin: tf.Tensor1D } => {
              let margin: tf.Tensor1D | undefined;
              const r = (vjp as NonNullable<typeof vjp>)(a, (zz: tf.Tensor2D): tf.Tensor2D => {
                const shifted = tf.sub(zz, cur.labelMask);
                const other = tf.max(shifted, 1);
                const real = tf.sum(tf.mul(zz, cur.oneHot), 1);
                // Kept out of the VJP's scope (freed with the others in `finally`).
                margin = hold((targeted ? tf.sub(other, real) : tf.sub(real, other)) as tf.Tensor1D);
                // ∂max/∂Z as tf's Max gradient: every entry equal to the maximum.
                const otherMask = tf.cast(tf.equal(shifted, tf.reshape(other, [rowsNow, 1])), 'float32');
                const dm = targeted ? tf.sub(otherMask, cur.oneHot) : tf.sub(cur.oneHot, otherMask);
                const active = tf.cast(tf.greaterEqual(margin, k.negKappa), 'float32');
                return tf.mul(dm, tf.reshape(tf.mul(cur.c, active), [rowsNow, 1])) as tf.Tensor2D;
              });
              return { logits: r.logits, grad: r.grad, margin: margin as tf.Tensor1D };
            };
            // The margin Z_y − max Z_i (or its targeted form) of the pre-update point, when the loss computed it.
            let marginNow: tf.Tensor1D | undefined;
            if (vjp && onGpu) {
              adv = gpu.cwAdv(cur.w, { lo, hi, scale });
              l2 = gpu.cwL2(adv, cur.x0);
              const sa = { negKappa: -kappa, targeted };
              const r = vjp(adv, (zz) => gpu.cwSeed(zz, cur.oneHot, cur.labelMask, cur.c, sa));
              z = r.logits;
              marginNow = gpu.cwMargin(z, cur.oneHot, cur.labelMask, sa);
              perImage = lossOf(l2, marginNow);
              adam = gpu.cwAdam({ w: cur.w, x0: cur.x0, g: r.grad as tf.Tensor4D, m: cur.m, v: cur.v, lr: k.lrT }, { lo, hi, scale, b1: ADAM_B1, b2: ADAM_B2, eps: ADAM_EPS, it });
            } else if (vjp && fused) {
              const attrs = { lo, hi, scale, b1: ADAM_B1, b2: ADAM_B2, eps: ADAM_EPS, it };
              const fw = cwForward(cur.w, cur.x0, attrs);
              adv = fw.adv;
              l2 = fw.l2;
              let g: tf.Tensor | null;
              if (vjp.unlessZero) {
                // The seed and margin in one kernel; where every image already meets the goal (margin < −κ) the
                // model's part of the gradient is exactly zero, and its backward pass is skipped (margins are
                // host memory on cpu and wasm: reading them costs no sync).
                let mg: tf.Tensor1D | undefined;
                const r = vjp.unlessZero(adv, (zz) => {
                  const sm = cwSeedAndMargin(zz, cur.oneHot, cur.labelMask, cur.c, { negKappa: -kappa, targeted });
                  mg = hold(sm.margin);
                  return anyAtLeast(mg.dataSync(), Math.fround(-kappa)) ? sm.seed : null;
                });
                z = r.logits;
                marginNow = mg as tf.Tensor1D;
                g = r.grad;
              } else {
                const r = modelPart(adv);
                z = r.logits;
                marginNow = r.margin;
                g = r.grad;
              }
              perImage = lossOf(l2, marginNow);
              adam = cwAdam({ w: cur.w, t: fw.t, diff: fw.diff, g: (g ?? tf.zerosLike(adv)) as tf.Tensor4D, m: cur.m, v: cur.v, lr: k.lrT }, attrs);
            } else if (vjp) {
              // The same loss and gradient written out, the model's part by its tape-free VJP
              // (src/core/models/chain.ts): dL/da = 2(a − x0) + c·1[margin ≥ −κ]·(∂margin/∂Z)ᵀ ∂Z/∂a,
              // then through the clip (where a was inside the box) and a = (tanh w + 1)·scale + lo.
              const t = tf.tanh(cur.w);
              const u = tf.add(tf.mul(tf.add(t, k.one), k.scale), k.lo);
              adv = tf.clipByValue(u, lo, hi) as tf.Tensor4D;
              const diff = tf.sub(adv, cur.x0);
              l2 = tf.sum(tf.square(tf.reshape(diff, [rowsNow, -1])), 1) as tf.Tensor1D;
              const r = modelPart(adv);
              z = r.logits;
              marginNow = r.margin;
              perImage = lossOf(l2, marginNow);
              const dA = tf.add(tf.mul(diff, k.two), r.grad);
              const inBox = tf.logicalAnd(tf.greaterEqual(u, k.lo), tf.lessEqual(u, k.hi));
              grad = tf.mul(tf.mul(tf.where(inBox, dA, tf.zerosLike(dA)), k.scale), tf.sub(k.one, tf.square(t)));
            } else {
              grad = tf.valueAndGrad((wv: tf.Tensor): tf.Scalar => {
                const a = hold(tf.clipByValue(tf.add(tf.mul(tf.add(tf.tanh(wv), k.one), k.scale), k.lo), lo, hi) as tf.Tensor4D);
                const l = hold(tf.sum(tf.square(tf.reshape(tf.sub(a, cur.x0), [rowsNow, -1])), 1) as tf.Tensor1D);
                const zz = hold(model.logits(a));
                const f = tf.maximum(margin(zz, cur.oneHot, cur.labelMask), k.negKappa);
                return tf.sum(hold(tf.add(l, tf.mul(cur.c, f))));
              })(cur.w, k.dy).grad;
              let p: tf.Tensor1D;
              [adv, l2, z, p] = kept as [tf.Tensor4D, tf.Tensor1D, tf.Tensor2D, tf.Tensor1D];
              perImage = () => p;
            }
            // Adam (Kingma & Ba), bias correction folded into the step size as in TF1.
            let w: tf.Tensor4D, m: tf.Tensor4D, v: tf.Tensor4D;
            if (adam) {
              ({ w, m, v } = adam);
            } else {
              const g = grad as tf.Tensor4D;
              m = tf.add(tf.mul(cur.m, k.b1), tf.mul(g, k.b1c));
              v = tf.add(tf.mul(cur.v, k.b2), tf.mul(tf.square(g), k.b2c));
              w = tf.sub(cur.w, tf.mul(tf.div(m, tf.add(tf.sqrt(v), k.eps)), tf.slice(k.lrT, [it], [1])));
            }
            // Success of the pre-update point x′(w), as in the reference implementation.
            let state: State;
            if (onGpu && marginNow) {
              state = { w, m, v, ...gpu.cwBest({ margin: marginNow, l2, bestL2: cur.bestL2, adv, bestAdv: cur.bestAdv, stepSucc: cur.stepSucc }, -kappa) };
            } else if (fused && marginNow) {
              state = { w, m, v, ...cwBestCpu({ margin: marginNow, l2, bestL2: cur.bestL2, adv, bestAdv: cur.bestAdv, stepSucc: cur.stepSucc }, -kappa) };
            } else {
              const succ = marginNow ? (tf.less(marginNow, k.negKappa) as tf.Tensor1D) : meetsGoal(z, cur.oneHot, cur.labelMask);
              const improved = tf.logicalAnd(succ, tf.less(l2, cur.bestL2));
              state = {
                w,
                m,
                v,
                stepSucc: tf.logicalOr(cur.stepSucc, succ) as tf.Tensor1D,
                bestL2: tf.where(improved, l2, cur.bestL2),
                bestAdv: tf.where(tf.reshape(improved, [rowsNow, 1, 1, 1]), adv, cur.bestAdv),
              };
            }
            const stepSuccNext = state.stepSucc;
            return check ? { state, status: tf.stack([perImage(), tf.cast(stepSuccNext, 'float32')]) as tf.Tensor2D } : { state };
          } finally {
            tf.dispose(kept);
          }
        });
        disposeState(cur);
        batch = { ...cur, ...out.state };
        iterations = it + 1;
        imageIterations += rowsNow;

        if (out.status) {
          const status = await out.status.data();
          out.status.dispose();
          const stopping = new Uint8Array(rowsNow);
          let nStop = 0;
          for (let j = 0; j < rowsNow; j++) {
            const i = active[j];
            const l = status[j];
            if (!Number.isFinite(l)) {
              throw new ProbeError(
                'INTERNAL',
                `CW-L2: the loss of image ${i} became ${String(l)} (binary step ${bs + 1}, iteration ${it + 1}, c = ${consts[i].toPrecision(3)}); the model's logits or the constant are out of range`,
              );
            }
            // Abort early, per image: its loss gained less than 0.01 % since the last check (Carlini's
            // rule `l > 0.9999·prev`, written so that it also holds for negative losses when κ > 0).
            let stop = last;
            if (abortEarly && it % checkEvery === 0) {
              if (l >= prev[i] - 1e-4 * Math.abs(prev[i])) stop = true;
              prev[i] = l;
            }
            if (stop) {
              stopping[j] = 1;
              nStop++;
              stepSucc[i] = status[rowsNow + j] > 0 ? 1 : 0;
            }
          }
          if (nStop > 0) {
            // Write the batch's best back to the full tensors, then keep only the images still running.
            const done: Batch = batch;
            const prevBest: Best = best;
            const act = active;
            best = tf.tidy((): Best => mergeRows(prevBest, done, act, n));
            tf.dispose([prevBest.l2, prevBest.adv, prevBest.w]);
            const keepPos = Int32Array.from(Array.from({ length: rowsNow }, (_, j) => j).filter((j) => !stopping[j]));
            active = Int32Array.from(keepPos, (j) => act[j]);
            batch = keepPos.length > 0 ? tf.tidy((): Batch => gatherBatch(done, keepPos)) : undefined;
            disposeBatch(done);
          }
        }
        await step({
          done: bs * maxIterations + it + 1,
          total: binarySteps * maxIterations,
          phase,
          info: { binaryStep: bs + 1, iteration: it + 1, meanConst, successes, active: active.length },
        });
        if (!batch) break;
      }
      if (batch) {
        // Unreachable: the last iteration stops every image; kept for safety.
        disposeBatch(batch);
        batch = undefined;
      }

      // Binary search over c (Carlini's rule), per image.
      const l2Data = await best.l2.data();
      let stepSuccesses = 0;
      for (let i = 0; i < n; i++) {
        if (stepSucc[i]) {
          stepSuccesses++;
          everSucceeded[i] = 1;
          upper[i] = Math.min(upper[i], consts[i]);
          if (upper[i] < 1e9) consts[i] = (lower[i] + upper[i]) / 2;
        } else {
          lower[i] = Math.max(lower[i], consts[i]);
          consts[i] = upper[i] < 1e9 ? (lower[i] + upper[i]) / 2 : consts[i] * 10;
        }
      }
      successes = 0;
      let sumL2 = 0;
      for (let i = 0; i < n; i++) {
        if (everSucceeded[i]) {
          successes++;
          sumL2 += Math.sqrt(l2Data[i]);
        }
      }
      trace.push({
        step: bs,
        info: {
          binaryStep: bs + 1,
          meanConst,
          stepSuccesses,
          successes,
          meanBestL2: successes > 0 ? sumL2 / successes : Number.NaN,
          iterations,
          imageIterations,
        },
      });
    }

    // Final check on the returned images themselves; failures return the input unchanged.
    const fin: Best = best;
    const rows: Rows = full;
    const { adv, ok } = tf.tidy(() => {
      const found = tf.logicalAnd(meetsGoal(model.logits(fin.adv), rows.oneHot, rows.labelMask), tf.isFinite(fin.l2));
      return { adv: tf.where(tf.reshape(found, [n, 1, 1, 1]), fin.adv, x) as tf.Tensor4D, ok: found };
    });
    const okData = await ok.data();
    ok.dispose();
    return { adv, success: Array.from(okData, (b) => b !== 0), trace };
  } finally {
    if (full) tf.dispose([full.x0, full.w0, full.oneHot, full.labelMask]);
    if (best) tf.dispose([best.l2, best.adv, best.w]);
    if (batch) disposeBatch(batch);
    tf.dispose(Object.values(k));
  }
}

/** Whether any value is ≥ t (NaN is not: the op path's 1[margin ≥ −κ] is 0 there too). */
function anyAtLeast(values: ArrayLike<number>, t: number): boolean {
  for (let i = 0; i < values.length; i++) if (values[i] >= t) return true;
  return false;
}

/** Per-image constants of the whole batch. */
type Rows = {
  readonly x0: tf.Tensor4D;
  readonly w0: tf.Tensor4D;
  readonly oneHot: tf.Tensor2D;
  readonly labelMask: tf.Tensor2D;
};

/** What one Adam iteration replaces: w, Adam's moments, success at this constant, best so far. */
type State = {
  readonly w: tf.Tensor4D;
  readonly m: tf.Tensor4D;
  readonly v: tf.Tensor4D;
  readonly stepSucc: tf.Tensor1D;
  readonly bestL2: tf.Tensor1D;
  readonly bestAdv: tf.Tensor4D;
};

/** The images still optimised at the current constant (rows in `active` order). */
type Batch = State & {
  readonly x0: tf.Tensor4D;
  readonly oneHot: tf.Tensor2D;
  readonly labelMask: tf.Tensor2D;
  readonly c: tf.Tensor1D;
};

/** The smallest squared L2 of a success so far (∞ where none) and that adversarial (the input where none). */
type Best = {
  readonly l2: tf.Tensor1D;
  readonly adv: tf.Tensor4D;
  /** The last w of each image (where its optimisation at the latest constant ended): the warm start. */
  readonly w: tf.Tensor4D;
};

const disposeState = (s: State): void => tf.dispose([s.w, s.m, s.v, s.stepSucc, s.bestL2, s.bestAdv]);
const disposeBatch = (b: Batch): void => {
  disposeState(b);
  tf.dispose([b.x0, b.oneHot, b.labelMask, b.c]);
};

/** The rows `pos` of every tensor of a batch. */
function gatherBatch(b: Batch, pos: Int32Array): Batch {
  const idx = tf.tensor1d(pos, 'int32');
  const g = <T extends tf.Tensor>(t: T): T => tf.gather(t, idx) as T;
  return {
    x0: g(b.x0),
    oneHot: g(b.oneHot),
    labelMask: g(b.labelMask),
    c: g(b.c),
    w: g(b.w),
    m: g(b.m),
    v: g(b.v),
    stepSucc: g(b.stepSucc),
    bestL2: g(b.bestL2),
    bestAdv: g(b.bestAdv),
  };
}

/** `best` with the rows `active` (of n) replaced by the batch's best. */
function mergeRows(best: Best, b: Batch, active: Int32Array, n: number): Best {
  const pos = new Int32Array(n);
  const inBatch = new Uint8Array(n);
  active.forEach((i, j) => {
    pos[i] = j;
    inBatch[i] = 1;
  });
  const idx = tf.tensor1d(pos, 'int32');
  const mask = tf.tensor1d(inBatch, 'bool');
  return {
    l2: tf.where(mask, tf.gather(b.bestL2, idx), best.l2),
    adv: tf.where(tf.reshape(mask, [n, 1, 1, 1]), tf.gather(b.bestAdv, idx), best.adv),
    w: tf.where(tf.reshape(mask, [n, 1, 1, 1]), tf.gather(b.w, idx), best.w),
  };
}
