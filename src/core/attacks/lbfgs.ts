import * as tf from '@tensorflow/tfjs';
import { ProbeError } from '../errors';
import { tapeFreeVjp } from '../models/chain';
import type { Classifier } from '../models/types';
import { readLabels } from './cw';
import { stepper, type StepControl, type TraceEntry } from './types';

export interface LbfgsOptions {
  /** Target labels l [n] (int): the attack is targeted, as in the paper. */
  readonly targets: tf.Tensor1D;
  /** The first constant c of c·‖r‖₂² + loss_f(x + r, l) (default 1e-2: a weak distance penalty, so the first solve succeeds). */
  readonly initialConst?: number;
  /** Constants c tried per image (default 10). */
  readonly searchSteps?: number;
  /** Projected L-BFGS iterations per constant (default 100). */
  readonly maxIterations?: number;
  /** L-BFGS memory m: correction pairs kept (default 10). */
  readonly history?: number;
  /**
   * Start each constant's solve where the image's previous one ended (default true; the reference
   * starts every constant from the input with an empty memory). The objectives of two constants differ
   * by (c′ − c)·‖r‖₂², so f, its gradient and the L-BFGS correction pairs carry over exactly (each y
   * gains 2(c′ − c)·s): the solve continues along the decision boundary instead of walking back to it.
   */
  readonly warmStart?: boolean;
  /**
   * Stop a constant's solve once f fell by less than this fraction of |f| over the last 10 iterations
   * (default 1e-3; 0, the reference, runs each solve to maxIterations or to the tight tolerances of
   * a converged minimum). On ReLU networks f creeps down for many iterations after the boundary is
   * reached while the distortion barely moves.
   */
  readonly stallTolerance?: number;
}

export interface LbfgsResult {
  /** The smallest-L2 adversarial found per image (classified as its target); the input itself where none was found. Caller disposes. */
  readonly adv: tf.Tensor4D;
  /** Per image: the model classifies `adv` as the target. */
  readonly success: boolean[];
  /** One entry per constant tried. */
  readonly trace: TraceEntry[];
}

/**
 * Defaults: 10 constants from c₀ = 1e-2, ≤ 100 iterations each, memory 10, with the faster search of
 * warm starts and the stall stop (1e-3 over 10 iterations). `LBFGS_REFERENCE` restores the reference
 * search (every constant solved from the input until maxIterations or convergence). On mnist-lenet
 * (wasm, 50 test images, random targets, `probe attack --model mnist-lenet --attack lbfgs --targets
 * random --n 50`) the reference takes about 4× as long (bench lbfgs-1: about 5×) for the same success
 * rate (100 %) and the same mean L2 of successes (2.289 reference, 2.286 fast; `--warm-start false
 * --stall-tolerance 0` reproduces the reference).
 */
export const LBFGS_DEFAULTS = {
  initialConst: 1e-2,
  searchSteps: 10,
  maxIterations: 100,
  history: 10,
  warmStart: true,
  stallTolerance: 1e-3,
} as const;

/** The search before warm starts and the stall stop: every constant solved from the input to maxIterations. */
export const LBFGS_REFERENCE: Pick<LbfgsOptions, 'warmStart' | 'stallTolerance'> = {
  warmStart: false,
  stallTolerance: 0,
};

/** Armijo sufficient-decrease parameter, halvings per line search, the stopping tolerances, and the stall window (iterations). */
const ARMIJO = 1e-4;
const MAX_HALVINGS = 20;
const PG_TOL = 1e-5;
const F_TOL = 1e-9;
const STALL_WINDOW = 10;

function checkNumber(name: string, v: number, ok: (v: number) => boolean, what: string): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) {
    throw new ProbeError('BAD_INPUT', `L-BFGS: ${name} must be ${what}, got ${String(v)}`);
  }
}

const dot = (a: Float64Array, b: Float64Array): number => {
  let s = 0;
  for (let j = 0; j < a.length; j++) s += a[j] * b[j];
  return s;
};

/** One image's projected L-BFGS state at the current constant. */
interface Solver {
  x: Float64Array;
  f: number;
  g: Float64Array;
  readonly s: Float64Array[];
  readonly y: Float64Array[];
  iter: number;
  done: boolean;
  /** Line search: direction, step, trial point and its directional decrease g·(xt − x). */
  d: Float64Array;
  alpha: number;
  halvings: number;
  xt: Float64Array;
  gdt: number;
  /** Decrease of f at the last accepted step. */
  fDrop: number;
  /** f after each accepted step of the current solve (f before the first at index 0). */
  readonly fs: number[];
}

/** What one batched evaluation returns per row: the objective, its gradient and the logits. */
interface Evaluation {
  readonly f: number;
  readonly g: Float64Array;
  readonly hit: boolean;
}

/**
 * The box-constrained L-BFGS attack of Szegedy et al., "Intriguing properties of neural networks"
 * (ICLR 2014), §4.1: for a target label l, minimise c·‖r‖₂² + loss_f(x + r, l) subject to
 * x + r ∈ [lo, hi]^m, where loss_f is the softmax cross-entropy of the logits. The paper writes
 * c·|r|; we penalise the squared L2 norm (smooth at r = 0). The paper line-searches c for the
 * trade-off where the minimiser still satisfies f(x + r) = l; here each image searches c
 * geometrically (×10 while every solve succeeds, ÷10 while none does, then bisection in log c
 * between the largest success and the smallest failure), and the smallest-L2 point classified as
 * l seen during any solve is returned.
 *
 * The minimiser is a projected L-BFGS: two-loop recursion on the free variables (those not held at
 * a bound by the gradient), projection onto the box, backtracking (Armijo) line search. The per-image
 * vectors live in Float64Arrays; losses and gradients are computed batched on tensors. By default each
 * constant's solve continues from the previous one's end point and memory (`warmStart`) and stops once
 * f stalls (`stallTolerance`); see `LBFGS_DEFAULTS` and `LBFGS_REFERENCE`.
 */
export async function lbfgs(model: Classifier, x: tf.Tensor4D, opts: LbfgsOptions, ctl?: StepControl): Promise<LbfgsResult> {
  const initialConst = opts.initialConst ?? LBFGS_DEFAULTS.initialConst;
  const searchSteps = opts.searchSteps ?? LBFGS_DEFAULTS.searchSteps;
  const maxIterations = opts.maxIterations ?? LBFGS_DEFAULTS.maxIterations;
  const history = opts.history ?? LBFGS_DEFAULTS.history;
  const warmStart = opts.warmStart ?? LBFGS_DEFAULTS.warmStart;
  const stallTolerance = opts.stallTolerance ?? LBFGS_DEFAULTS.stallTolerance;
  checkNumber('initialConst', initialConst, (v) => v > 0, 'a finite number > 0');
  checkNumber('searchSteps', searchSteps, (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1');
  checkNumber('maxIterations', maxIterations, (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1');
  checkNumber('history', history, (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1');
  checkNumber('stallTolerance', stallTolerance, (v) => v >= 0, 'a finite number ≥ 0');
  if (typeof warmStart !== 'boolean') throw new ProbeError('BAD_INPUT', 'L-BFGS: warmStart must be a boolean');
  if (!opts.targets) throw new ProbeError('BAD_INPUT', 'L-BFGS: the attack needs target labels (targets)');
  if (x.rank !== 4) throw new ProbeError('BAD_INPUT', `L-BFGS: the input must be a batch [n, h, w, c], got rank ${x.rank}`);
  const classes = model.classNames.length;
  if (classes < 2) throw new ProbeError('BAD_INPUT', 'L-BFGS needs a model with at least 2 classes');
  const n = x.shape[0];
  const { min: lo, max: hi } = model.inputRange;
  if (!(hi > lo)) throw new ProbeError('BAD_INPUT', `L-BFGS: the model's input range [${lo}, ${hi}] is empty`);
  const targets = await readLabels(opts.targets, n, classes, 'L-BFGS');
  if (n === 0) return { adv: tf.clone(x), success: [], trace: [] };

  const [, h, w, ch] = x.shape;
  const dim = h * w * ch;
  const step = stepper(ctl);
  const trace: TraceEntry[] = [];

  const x0 = new Float64Array(n * dim);
  {
    const data = await x.data();
    for (let j = 0; j < data.length; j++) x0[j] = Math.min(hi, Math.max(lo, data[j]));
  }
  const row = (a: Float64Array, i: number): Float64Array => a.subarray(i * dim, (i + 1) * dim);

  const consts = new Float64Array(n).fill(initialConst);
  /** Largest c whose solve succeeded, smallest c whose solve failed (0 / ∞ when none yet). */
  const okC = new Float64Array(n);
  const failC = new Float64Array(n).fill(Number.POSITIVE_INFINITY);
  const bestL2 = new Float64Array(n).fill(Number.POSITIVE_INFINITY);
  const bestAdv = new Float32Array(n * dim);

  /**
   * Objective c·‖x′ − x‖² + CE(x′, l), its gradient and whether x′ is classified as l, for the
   * images `rows` at the points `pts` (one batched forward and backward pass). Records successes.
   */
  const vjp = tapeFreeVjp(model);
  const evaluate = async (rows: readonly number[], pts: readonly Float64Array[], c: Float64Array): Promise<Evaluation[]> => {
    const k = rows.length;
    const flat = new Float32Array(k * dim);
    pts.forEach((p, j) => flat.set(p, j * dim));
    const kept: tf.Tensor[] = [];
    let grad: tf.Tensor;
    try {
      grad = tf.tidy(() => {
        const xt = tf.tensor4d(flat, [k, h, w, ch]);
        const oneHot = tf.oneHot(tf.tensor1d(rows.map((i) => targets[i]), 'int32'), classes);
        if (vjp) {
          // The same gradient through the tape-free chain: the cotangent of −Σ onehot ⊙ logSoftmax(Z) on Z is
          // dy − Σdy · exp(logSoftmax(Z)) with dy = −onehot (tfjs' logSoftmax gradient).
          const dy = tf.neg(oneHot);
          const r = vjp(xt, (z) => tf.sub(dy, tf.mul(tf.sum(dy, 1, true), tf.exp(tf.logSoftmax(z)))) as tf.Tensor2D);
          kept.push(tf.keep(r.logits));
          return r.grad;
        }
        return tf.grad((xv: tf.Tensor) => {
          const z = model.logits(xv as tf.Tensor4D);
          kept.push(tf.keep(z)); // the logits, kept out of the gradient's forward scope
          return tf.neg(tf.sum(tf.mul(tf.logSoftmax(z), oneHot)));
        })(xt);
      });
    } catch (e) {
      tf.dispose(kept);
      throw e;
    }
    const logits = kept[0];
    let gData: Float32Array;
    let zData: Float32Array;
    try {
      [gData, zData] = (await Promise.all([grad.data(), logits.data()])) as [Float32Array, Float32Array];
    } finally {
      tf.dispose([grad, logits]);
    }
    const out: Evaluation[] = [];
    for (let j = 0; j < k; j++) {
      const i = rows[j];
      const p = pts[j];
      const t = targets[i];
      // Cross-entropy from the logits in float64 (log-sum-exp), and whether t is the strict argmax.
      let zMax = Number.NEGATIVE_INFINITY;
      let otherMax = Number.NEGATIVE_INFINITY;
      for (let q = 0; q < classes; q++) {
        const v = zData[j * classes + q];
        zMax = Math.max(zMax, v);
        if (q !== t) otherMax = Math.max(otherMax, v);
      }
      let se = 0;
      for (let q = 0; q < classes; q++) se += Math.exp(zData[j * classes + q] - zMax);
      const ce = zMax + Math.log(se) - zData[j * classes + t];
      const xi = row(x0, i);
      let l2 = 0;
      for (let q = 0; q < dim; q++) l2 += (p[q] - xi[q]) ** 2;
      const f = c[i] * l2 + ce;
      const g = new Float64Array(dim);
      let finite = Number.isFinite(f);
      for (let q = 0; q < dim; q++) {
        g[q] = gData[j * dim + q] + 2 * c[i] * (p[q] - xi[q]);
        if (!Number.isFinite(g[q])) finite = false;
      }
      if (!finite) {
        throw new ProbeError(
          'INTERNAL',
          `L-BFGS: the loss or its gradient became non-finite for image ${i} (c = ${c[i].toPrecision(3)}); the model's logits are out of range`,
        );
      }
      const hit = zData[j * classes + t] > otherMax;
      if (hit && l2 < bestL2[i]) {
        bestL2[i] = l2;
        bestAdv.set(p, i * dim);
      }
      out.push({ f, g, hit });
    }
    return out;
  };

  const newSolver = (p: Float64Array, e: Evaluation): Solver => ({
    x: p,
    f: e.f,
    g: e.g,
    s: [],
    y: [],
    iter: 0,
    done: false,
    d: new Float64Array(dim),
    alpha: 1,
    halvings: 0,
    xt: new Float64Array(dim),
    gdt: 0,
    fDrop: Number.POSITIVE_INFINITY,
    fs: [e.f],
  });
  const solvers: (Solver | undefined)[] = new Array(n);
  /** Whether the point each image's latest solve ended at is classified as its target. */
  const lastHit: boolean[] = new Array(n).fill(false);
  /** The constant of each image's latest solve (for the warm start). */
  const solvedC = new Float64Array(n);

  const all = Array.from({ length: n }, (_, i) => i);
  for (let cs = 0; cs < searchSteps; cs++) {
    let meanConst = 0;
    for (let i = 0; i < n; i++) meanConst += consts[i] / n;
    const phase = `constant ${cs + 1}/${searchSteps}`;
    let evaluations = 0;
    let doneIters = 0;
    const progress = async (): Promise<void> => {
      let successes = 0;
      for (let i = 0; i < n; i++) if (Number.isFinite(bestL2[i])) successes++;
      await step({
        done: cs * maxIterations + doneIters,
        total: searchSteps * maxIterations,
        phase,
        info: { searchStep: cs + 1, iteration: doneIters, meanConst, successes },
      });
    };

    // Warm start: continue from where the previous constant's solve ended. The objectives of two
    // constants differ by (c′ − c)·‖x′ − x‖², so f, g and the curvature pairs (y += 2(c′ − c)·s) carry
    // over exactly, without an evaluation. Otherwise (and for the first constant) start at r = 0.
    const cold: number[] = [];
    for (const i of all) {
      const sv = solvers[i];
      if (!warmStart || !sv) {
        cold.push(i);
        continue;
      }
      shiftConst(sv, row(x0, i), consts[i] - solvedC[i]);
    }
    if (cold.length > 0) {
      const starts = cold.map((i) => Float64Array.from(row(x0, i)));
      const first = await evaluate(cold, starts, consts);
      evaluations++;
      cold.forEach((i, j) => {
        solvers[i] = newSolver(starts[j], first[j]);
        lastHit[i] = first[j].hit;
      });
    }
    solvedC.set(consts);
    // Already classified as the target: D(x, l) = x, nothing to solve.
    for (const i of all) if (bestL2[i] === 0) solvers[i]!.done = true;
    await progress();

    const live = (): number[] => all.filter((i) => !solvers[i]!.done);
    for (let open = live(); open.length > 0; open = live()) {
      // Directions and first trial points.
      const lineSearch: number[] = [];
      for (const i of open) {
        const sv = solvers[i]!;
        if (projectedGradientNorm(sv.x, sv.g, lo, hi) < PG_TOL) {
          sv.done = true;
          continue;
        }
        direction(sv, lo, hi);
        lineSearch.push(i);
      }
      // Backtracking line search, batched over the images still searching.
      let pending = lineSearch;
      while (pending.length > 0) {
        for (const i of pending) trial(solvers[i]!, lo, hi);
        const evals = await evaluate(pending, pending.map((i) => solvers[i]!.xt), consts);
        evaluations++;
        const next: number[] = [];
        pending.forEach((i, j) => {
          const sv = solvers[i]!;
          const e = evals[j];
          if (e.f <= sv.f + ARMIJO * sv.gdt) {
            accept(sv, e, history);
            lastHit[i] = e.hit;
            if (sv.iter >= maxIterations || sv.fDrop <= F_TOL * Math.max(Math.abs(sv.f), Math.abs(sv.f + sv.fDrop), 1)) sv.done = true;
            else if (stallTolerance > 0 && sv.iter >= STALL_WINDOW && sv.fs[sv.iter - STALL_WINDOW] - sv.f <= stallTolerance * Math.abs(sv.f)) sv.done = true;
          } else if (++sv.halvings >= MAX_HALVINGS) {
            sv.done = true; // no decrease along the direction: a (local) minimum up to the line search's resolution
          } else {
            sv.alpha /= 2;
            next.push(i);
          }
        });
        pending = next;
        await progress();
      }
      doneIters = Math.max(0, ...all.map((i) => solvers[i]!.iter));
    }

    // Search over c, per image: success at c → try a larger c (less distortion), failure → smaller.
    let stepSuccesses = 0;
    for (let i = 0; i < n; i++) {
      const c = consts[i];
      if (lastHit[i]) {
        stepSuccesses++;
        okC[i] = Math.max(okC[i], c);
      } else {
        failC[i] = Math.min(failC[i], c);
      }
      if (!Number.isFinite(failC[i])) consts[i] = okC[i] * 10;
      else if (okC[i] === 0) consts[i] = failC[i] / 10;
      else consts[i] = Math.sqrt(okC[i] * failC[i]);
    }
    let successes = 0;
    let sumL2 = 0;
    for (let i = 0; i < n; i++) {
      if (Number.isFinite(bestL2[i])) {
        successes++;
        sumL2 += Math.sqrt(bestL2[i]);
      }
    }
    trace.push({
      step: cs,
      info: {
        searchStep: cs + 1,
        meanConst,
        stepSuccesses,
        successes,
        meanBestL2: successes > 0 ? sumL2 / successes : Number.NaN,
        iterations: doneIters,
        evaluations,
      },
    });
  }

  // Final check on the returned batch itself; failures return the input unchanged.
  const { adv, ok } = tf.tidy(() => {
    const cand = tf.tensor4d(bestAdv, [n, h, w, ch]);
    const found = tf.logicalAnd(
      tf.equal(tf.argMax(model.logits(cand), 1), tf.tensor1d(targets, 'int32')),
      tf.tensor1d(Array.from(bestL2, (v) => Number.isFinite(v)), 'bool'),
    );
    return { adv: tf.where(tf.reshape(found, [n, 1, 1, 1]), cand, x) as tf.Tensor4D, ok: found };
  });
  const okData = await ok.data();
  ok.dispose();
  return { adv, success: Array.from(okData, (b) => b !== 0), trace };
}

/** ‖P(x − g) − x‖∞: zero exactly at a stationary point of the box-constrained problem. */
function projectedGradientNorm(x: Float64Array, g: Float64Array, lo: number, hi: number): number {
  let m = 0;
  for (let j = 0; j < x.length; j++) m = Math.max(m, Math.abs(Math.min(hi, Math.max(lo, x[j] - g[j])) - x[j]));
  return m;
}

/**
 * The L-BFGS direction on the free variables (two-loop recursion, Nocedal & Wright alg. 7.4);
 * variables at a bound whose gradient points out of the box are held fixed (d = 0). Falls back to
 * steepest descent (and forgets the memory) when the result is not a descent direction.
 */
function direction(sv: Solver, lo: number, hi: number): void {
  const { x, g, d } = sv;
  const dim = x.length;
  const free = new Uint8Array(dim);
  for (let j = 0; j < dim; j++) free[j] = (x[j] <= lo && g[j] > 0) || (x[j] >= hi && g[j] < 0) ? 0 : 1;
  const fdot = (a: Float64Array, b: Float64Array): number => {
    let s = 0;
    for (let j = 0; j < dim; j++) if (free[j]) s += a[j] * b[j];
    return s;
  };
  const q = new Float64Array(dim);
  for (let j = 0; j < dim; j++) q[j] = free[j] ? g[j] : 0;
  const m = sv.s.length;
  const rho = new Float64Array(m);
  const a = new Float64Array(m);
  let gamma = 0;
  for (let k = m - 1; k >= 0; k--) {
    const sy = fdot(sv.s[k], sv.y[k]);
    if (!(sy > 1e-12)) continue; // curvature lost on the free subspace: skip the pair
    rho[k] = 1 / sy;
    if (gamma === 0) gamma = sy / fdot(sv.y[k], sv.y[k]);
    a[k] = rho[k] * fdot(sv.s[k], q);
    for (let j = 0; j < dim; j++) if (free[j]) q[j] -= a[k] * sv.y[k][j];
  }
  if (gamma === 0) {
    // No curvature yet: a steepest-descent step of L2 length 1 (in pixel units) to start the line search.
    gamma = 1 / Math.max(Math.sqrt(fdot(q, q)), 1e-12);
  }
  for (let j = 0; j < dim; j++) q[j] *= gamma;
  for (let k = 0; k < m; k++) {
    if (rho[k] === 0) continue;
    const b = rho[k] * fdot(sv.y[k], q);
    for (let j = 0; j < dim; j++) if (free[j]) q[j] += (a[k] - b) * sv.s[k][j];
  }
  let gd = 0;
  for (let j = 0; j < dim; j++) {
    d[j] = -q[j];
    gd += g[j] * d[j];
  }
  if (!(gd < 0)) {
    sv.s.length = 0;
    sv.y.length = 0;
    const gn = Math.max(Math.sqrt(fdot(g, g)), 1e-12);
    for (let j = 0; j < dim; j++) d[j] = free[j] ? -g[j] / gn : 0;
  }
  sv.alpha = 1;
  sv.halvings = 0;
}

/** The projected trial point P(x + α·d) and g·(xt − x) for the Armijo test. */
function trial(sv: Solver, lo: number, hi: number): void {
  const { x, d, xt, g } = sv;
  let gdt = 0;
  for (let j = 0; j < x.length; j++) {
    xt[j] = Math.min(hi, Math.max(lo, x[j] + sv.alpha * d[j]));
    gdt += g[j] * (xt[j] - x[j]);
  }
  sv.gdt = gdt;
}

/**
 * Moves a solver from constant c to c + dc: f and g gain dc·‖x − x0‖² and 2dc·(x − x0), every curvature
 * pair's y gains 2dc·s (pairs left without positive curvature are dropped); the iteration count restarts.
 */
function shiftConst(sv: Solver, x0: Float64Array, dc: number): void {
  const { x, g } = sv;
  let l2 = 0;
  for (let j = 0; j < x.length; j++) {
    const r = x[j] - x0[j];
    l2 += r * r;
    g[j] += 2 * dc * r;
  }
  sv.f += dc * l2;
  for (let k = sv.s.length - 1; k >= 0; k--) {
    const s = sv.s[k];
    const y = sv.y[k];
    for (let j = 0; j < s.length; j++) y[j] += 2 * dc * s[j];
    if (!(dot(s, y) > 1e-12)) {
      sv.s.splice(k, 1);
      sv.y.splice(k, 1);
    }
  }
  sv.iter = 0;
  sv.done = false;
  sv.fDrop = Number.POSITIVE_INFINITY;
  sv.fs.length = 0;
  sv.fs.push(sv.f);
}

/** Accepts the trial point: updates x, f, g and the correction pairs (kept when s·y > 0). */
function accept(sv: Solver, e: Evaluation, history: number): void {
  const dim = sv.x.length;
  const s = new Float64Array(dim);
  const y = new Float64Array(dim);
  for (let j = 0; j < dim; j++) {
    s[j] = sv.xt[j] - sv.x[j];
    y[j] = e.g[j] - sv.g[j];
  }
  if (dot(s, y) > 1e-12) {
    sv.s.push(s);
    sv.y.push(y);
    if (sv.s.length > history) {
      sv.s.shift();
      sv.y.shift();
    }
  }
  sv.fDrop = sv.f - e.f;
  sv.x = Float64Array.from(sv.xt);
  sv.f = e.f;
  sv.g = e.g;
  sv.iter++;
  sv.fs.push(e.f);
}
