/**
 * Every attack of the registry, faked on the mock model in plain TS (no tfjs) so that the popup
 * can be tested and worked on without the extension. FGSM, BIM/PGD and JSMA are the real
 * algorithms on the linear model; CW-L2, L-BFGS and the VAE attacks are deterministic stand-ins
 * with the same shape of outcome (a binary-search trace, a VAE view).
 */
import { ProbeError } from '../core/errors';
import { attackMeta, resolveParams, type AttackMeta } from '../core/attacks/specs';
import type {
  AttackChoice,
  AttackOutcome,
  AttackParamValues,
  GrayImage,
  JobProgress,
  Prediction,
  TracePoint,
  VaeOutcome,
} from '../protocol/types';
import { MOCK_SIDE, distancesOf, lossGradient, mockLogits, mockPredict, mockWeights, runnerUp, syntheticDigit } from './mock-model';

const clip01 = (v: number): number => (v < 0 ? 0 : v > 1 ? 1 : v);

function now(): number {
  return typeof performance !== 'undefined' ? performance.now() : Date.now();
}

function num(params: AttackParamValues, key: string): number {
  const v = params[key];
  return typeof v === 'number' ? v : Number(v);
}

function l2norm(v: readonly number[]): number {
  return Math.sqrt(v.reduce((s, x) => s + x * x, 0));
}

/** A unit step along `g`: its sign (L∞) or g/‖g‖ (L2). */
function stepDirection(g: readonly number[], norm: string): number[] {
  if (norm === '2') {
    const n = l2norm(g) || 1;
    return g.map((v) => v / n);
  }
  return g.map((v) => Math.sign(v));
}

/** Projection of `adv` onto the ε-ball around `x` (L∞ or L2), then onto [0,1]. */
function project(x: readonly number[], adv: readonly number[], eps: number, norm: string): number[] {
  let d = adv.map((v, i) => v - x[i]);
  if (norm === '2') {
    const n = l2norm(d);
    if (n > eps && n > 0) d = d.map((v) => (v * eps) / n);
  } else {
    d = d.map((v) => Math.max(-eps, Math.min(eps, v)));
  }
  return x.map((v, i) => clip01(v + d[i]));
}

/** A small deterministic PRNG (LCG), for PGD's random start. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function image(pixels: number[]): GrayImage {
  return { width: MOCK_SIDE, height: MOCK_SIDE, pixels };
}

interface Goal {
  readonly clean: Prediction;
  /** null: untargeted. */
  readonly target: number | null;
}

function meets(goal: Goal, p: Prediction): boolean {
  return goal.target !== null ? p.label === goal.target : p.label !== goal.clean.label;
}

/** Logit margin of the goal: target − best other (targeted), best other − clean (untargeted). */
function margin(goal: Goal, x: readonly number[]): number {
  const z = mockLogits(x);
  const focus = goal.target ?? goal.clean.label;
  let other = -Infinity;
  for (let c = 0; c < z.length; c++) if (c !== focus && z[c] > other) other = z[c];
  return goal.target !== null ? z[focus] - other : other - z[focus];
}

/** The direction that moves x toward the goal (descend the target's loss, or climb the clean class's). */
function goalGradient(goal: Goal, x: readonly number[]): number[] {
  const g = lossGradient(x, goal.target ?? goal.clean.label);
  return goal.target !== null ? g.map((v) => -v) : g;
}

// ---------------------------------------------------------------------------------------

function fgsm(x: readonly number[], goal: Goal, p: AttackParamValues): number[] {
  const eps = num(p, 'eps');
  const dir = stepDirection(goalGradient(goal, x), String(p.norm));
  return x.map((v, i) => clip01(v + eps * dir[i]));
}

function bim(x: readonly number[], goal: Goal, p: AttackParamValues): number[] {
  const eps = num(p, 'eps');
  const stepSize = num(p, 'stepSize');
  const steps = num(p, 'steps');
  const norm = String(p.norm);
  let adv = [...x];
  if (p.randomStart === true) {
    const rnd = lcg(20170101);
    adv = project(x, x.map((v) => v + eps * (2 * rnd() - 1)), eps, norm);
  }
  for (let s = 0; s < steps; s++) {
    const dir = stepDirection(goalGradient(goal, adv), norm);
    adv = project(x, adv.map((v, i) => v + stepSize * dir[i]), eps, norm);
  }
  return adv;
}

/**
 * JSMA on the linear model: the saliency of pixel i is α_i·|β_i| where α_i = ∂z_t/∂x_i and
 * β_i = Σ_{c≠t} ∂z_c/∂x_i (constant for a linear model). The most salient pixels are set to
 * 1 (θ = +1) or 0 (θ = −1) one by one until the target wins or Υ of the pixels changed.
 */
function jsma(x: readonly number[], goal: Goal, p: AttackParamValues): number[] {
  const target = goal.target ?? runnerUp(goal.clean);
  const increase = String(p.theta) !== '-1';
  const budget = Math.floor(num(p, 'maxDistortion') * x.length);
  const w = mockWeightsOfTarget(target);
  const saliency = x.map((v, i) => {
    const alpha = w.target[i];
    const beta = w.others[i];
    const ok = increase ? alpha > 0 && beta < 0 && v < 1 : alpha < 0 && beta > 0 && v > 0;
    return ok ? Math.abs(alpha * beta) : 0;
  });
  const order = saliency
    .map((s, i) => [s, i] as const)
    .filter(([s]) => s > 0)
    .sort((a, b) => b[0] - a[0] || a[1] - b[1])
    .map(([, i]) => i);
  const adv = [...x];
  for (let k = 0; k < Math.min(budget, order.length); k++) {
    adv[order[k]] = increase ? 1 : 0;
    if (mockPredict(adv).label === target) break;
  }
  return adv;
}

/** ∂z_t/∂x and Σ_{c≠t} ∂z_c/∂x of the linear model, up to its positive scale: its weights. */
function mockWeightsOfTarget(target: number): { target: readonly number[]; others: number[] } {
  const w = mockWeights();
  const others = w[target].map((_, i) => w.reduce((s, wc, c) => (c === target ? s : s + wc[i]), 0));
  return { target: w[target], others };
}

/** Smallest α (bisection) such that clip(x + α·d) meets the goal with logit margin ≥ κ; Infinity if none up to 20. */
function criticalStep(x: readonly number[], d: readonly number[], goal: Goal, kappa: number): number {
  const at = (a: number) => x.map((v, i) => clip01(v + a * d[i]));
  const ok = (a: number) => margin(goal, at(a)) >= kappa && meets(goal, mockPredict(at(a)));
  let hi = 20;
  if (!ok(hi)) return Infinity;
  let lo = 0;
  for (let k = 0; k < 40; k++) {
    const mid = (lo + hi) / 2;
    if (ok(mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}

interface SearchResult {
  readonly adv: number[];
  readonly trace: TracePoint[];
}

function unitGoalDirection(x: readonly number[], goal: Goal): number[] {
  const g = goalGradient(goal, x);
  const n = l2norm(g) || 1;
  return g.map((v) => v / n);
}

/** CW-L2 stand-in: Carlini's binary search over c around a critical constant c* = 0.05·α*². */
function cwL2(x: readonly number[], goal: Goal, p: AttackParamValues): SearchResult {
  const d = unitGoalDirection(x, goal);
  const alpha = criticalStep(x, d, goal, num(p, 'confidence'));
  const cStar = Number.isFinite(alpha) ? 0.05 * alpha * alpha : Infinity;
  const steps = num(p, 'binarySteps');
  const maxIterations = num(p, 'maxIterations');
  let c = num(p, 'initialConst');
  let lower = 0;
  let upper = 1e10;
  let best = Infinity;
  let ever = 0;
  const trace: TracePoint[] = [];
  for (let bs = 0; bs < steps; bs++) {
    const used = c;
    const success = used >= cStar;
    if (success) {
      ever = 1;
      best = Math.min(best, alpha * (1 + 0.3 * (1 - cStar / used)));
      upper = Math.min(upper, used);
      if (upper < 1e9) c = (lower + upper) / 2;
    } else {
      lower = Math.max(lower, used);
      c = upper < 1e9 ? (lower + upper) / 2 : used * 10;
    }
    const iterations = p.abortEarly === true ? Math.min(maxIterations, Math.round(maxIterations * (0.3 + 0.05 * bs))) : maxIterations;
    trace.push({
      step: bs,
      info: {
        binaryStep: bs + 1,
        meanConst: used,
        stepSuccesses: success ? 1 : 0,
        successes: ever,
        meanBestL2: Number.isFinite(best) ? best : Number.NaN,
        iterations,
      },
    });
  }
  return { adv: finalAdv(x, d, best, goal), trace };
}

/** L-BFGS stand-in (Szegedy et al.): minimise c·‖r‖ + loss; succeeds for c ≤ c* = 2/α*², line search for the largest such c. */
function lbfgs(x: readonly number[], goal: Goal, p: AttackParamValues): SearchResult {
  const d = unitGoalDirection(x, goal);
  const alpha = criticalStep(x, d, goal, 0);
  const cStar = Number.isFinite(alpha) && alpha > 0 ? 2 / (alpha * alpha) : Number.isFinite(alpha) ? Infinity : 0;
  const steps = num(p, 'searchSteps');
  let c = num(p, 'initialConst');
  let lower = 0;
  let upper = 1e10;
  let best = Infinity;
  const trace: TracePoint[] = [];
  for (let s = 0; s < steps; s++) {
    const used = c;
    const success = used <= cStar;
    const l2 = success ? alpha * (1 + 0.3 * (1 - used / cStar)) : Number.NaN;
    if (success) {
      best = Math.min(best, l2);
      lower = Math.max(lower, used);
      c = upper < 1e9 ? (lower + upper) / 2 : used * 10;
    } else {
      upper = Math.min(upper, used);
      c = (lower + upper) / 2;
    }
    trace.push({
      step: s,
      info: { searchStep: s + 1, c: used, success: success ? 1 : 0, l2, bestL2: Number.isFinite(best) ? best : Number.NaN },
    });
  }
  return { adv: finalAdv(x, d, best, goal), trace };
}

/** x + s·d clipped when it meets the goal; the input unchanged otherwise (as CW returns failures). */
function finalAdv(x: readonly number[], d: readonly number[], s: number, goal: Goal): number[] {
  if (!Number.isFinite(s)) return [...x];
  const adv = x.map((v, i) => clip01(v + s * d[i]));
  return meets(goal, mockPredict(adv)) ? adv : [...x];
}

// ---------------------------------------------------------------------------------------
// VAE attacks (Kos et al.): the "VAE" is a 3×3 blur with a contrast stretch; its latent
// classifier is the mock model on the reconstruction.

/** The mock VAE's decode(encode(x)). */
export function mockReconstruct(x: readonly number[]): number[] {
  const out = new Array<number>(x.length).fill(0);
  for (let y = 0; y < MOCK_SIDE; y++) {
    for (let xx = 0; xx < MOCK_SIDE; xx++) {
      let s = 0;
      let n = 0;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const yy = y + dy;
          const xs = xx + dx;
          if (yy < 0 || yy >= MOCK_SIDE || xs < 0 || xs >= MOCK_SIDE) continue;
          s += x[yy * MOCK_SIDE + xs];
          n++;
        }
      }
      out[y * MOCK_SIDE + xx] = clip01(1.3 * (s / n) - 0.08);
    }
  }
  return out;
}

const VAE_STRENGTH: Readonly<Record<string, number>> = { 'vae-classifier': 1, 'vae-latent': 1.1, 'vae-loss': 0.9 };

function vaeAttack(id: string, x: readonly number[], target: number, p: AttackParamValues): { adv: number[]; vae: VaeOutcome } {
  const targetExample = syntheticDigit(target);
  const t = targetExample.pixels;
  let adv: number[];
  if (String(p.method) === 'fgs') {
    const eps = num(p, 'eps');
    adv = x.map((v, i) => clip01(v + eps * Math.sign(t[i] - v)));
  } else {
    const reach = 1 - Math.exp((-num(p, 'steps') * num(p, 'learningRate')) / 2);
    const beta = Math.min(1, ((1.3 * (VAE_STRENGTH[id] ?? 1)) / (1 + 0.1 * num(p, 'lambda'))) * reach);
    adv = x.map((v, i) => clip01(v + beta * (t[i] - v)));
  }
  const reconstruction = mockReconstruct(x);
  const advReconstruction = mockReconstruct(adv);
  return {
    adv,
    vae: {
      targetExample,
      reconstruction: image(reconstruction),
      reconstructionPrediction: mockPredict(reconstruction),
      advReconstruction: image(advReconstruction),
      advReconstructionPrediction: mockPredict(advReconstruction),
    },
  };
}

// ---------------------------------------------------------------------------------------

function specOf(id: string): AttackMeta {
  const spec = attackMeta(id);
  if (!spec) throw new ProbeError('BAD_MESSAGE', `attack must be a known attack id, got "${id}"`);
  return spec;
}

/**
 * Run `choice` on the mock model. Parameters are resolved against the attack's spec (defaults
 * filled in; bad values throw BAD_INPUT); a null target of a targeted-only attack becomes the
 * runner-up class, as in the extension.
 */
export function mockAttack(input: GrayImage, choice: { readonly attack: string; readonly params?: AttackParamValues; readonly target: number | null }): AttackOutcome {
  const t0 = now();
  const spec = specOf(choice.attack);
  const params = resolveParams(spec, choice.params ?? {});
  const x = input.pixels;
  const clean = mockPredict(x);
  const target = choice.target ?? (spec.untargeted ? null : runnerUp(clean));
  const goal: Goal = { clean, target };

  let adv: number[];
  let trace: TracePoint[] = [];
  let vae: VaeOutcome | null = null;
  switch (spec.id) {
    case 'fgsm':
      adv = fgsm(x, goal, params);
      break;
    case 'bim':
      adv = bim(x, goal, params);
      break;
    case 'jsma':
      adv = jsma(x, goal, params);
      break;
    case 'cw-l2':
      ({ adv, trace } = cwL2(x, goal, params));
      break;
    case 'lbfgs':
      ({ adv, trace } = lbfgs(x, goal, params));
      break;
    default:
      ({ adv, vae } = vaeAttack(spec.id, x, target ?? runnerUp(clean), params));
  }

  const perturbation = adv.map((v, i) => v - x[i]);
  const prediction = mockPredict(adv);
  const success = vae !== null ? vae.advReconstructionPrediction.label === target : meets(goal, prediction);
  return {
    choice: { attack: spec.id, params, target },
    perturbation: { width: input.width, height: input.height, pixels: perturbation },
    adversarial: { width: input.width, height: input.height, pixels: adv },
    prediction,
    success,
    distances: distancesOf(perturbation),
    ms: Math.max(0.1, now() - t0),
    trace,
    vae,
  };
}

/** Planned number of steps of an attack (what its progress counts up to). */
export function mockTotalSteps(spec: AttackMeta, params: AttackParamValues): number {
  switch (spec.id) {
    case 'fgsm':
      return 1;
    case 'bim':
      return num(params, 'steps');
    case 'jsma':
      return Math.max(1, Math.floor((num(params, 'maxDistortion') * MOCK_SIDE * MOCK_SIDE) / 2));
    case 'cw-l2':
      return num(params, 'binarySteps') * num(params, 'maxIterations');
    case 'lbfgs':
      return num(params, 'searchSteps') * num(params, 'maxIterations');
    default:
      return String(params.method) === 'fgs' ? 1 : num(params, 'steps');
  }
}

/** What the extension would report `done` steps into `choice` (null for attacks that are not iterative). */
export function mockProgress(choice: AttackChoice, done: number): JobProgress | null {
  const spec = specOf(choice.attack);
  if (!spec.iterative) return null;
  const params = resolveParams(spec, choice.params);
  const total = mockTotalSteps(spec, params);
  const d = Math.max(0, Math.min(total, Math.round(done)));
  switch (spec.id) {
    case 'cw-l2': {
      const per = num(params, 'maxIterations');
      const bs = Math.min(num(params, 'binarySteps') - 1, Math.floor(d / per));
      return {
        done: d,
        total,
        phase: `binary search ${bs + 1}/${num(params, 'binarySteps')}`,
        info: { binaryStep: bs + 1, iteration: d - bs * per, meanConst: num(params, 'initialConst') * 10 ** bs, successes: bs > 2 ? 1 : 0 },
      };
    }
    case 'lbfgs': {
      const per = num(params, 'maxIterations');
      const s = Math.min(num(params, 'searchSteps') - 1, Math.floor(d / per));
      return { done: d, total, phase: `search over c ${s + 1}/${num(params, 'searchSteps')}`, info: { searchStep: s + 1, c: num(params, 'initialConst') } };
    }
    case 'jsma':
      return { done: d, total, phase: `pair ${Math.min(total, d + 1)}/${total}`, info: { active: MOCK_SIDE * MOCK_SIDE - 2 * d } };
    case 'bim':
      return { done: d, total, phase: `step ${Math.min(total, d + 1)}/${total}`, info: null };
    default:
      return { done: d, total, phase: `${spec.id} ${String(params.method) === 'fgs' ? 'fgs' : 'adam'}`, info: null };
  }
}
