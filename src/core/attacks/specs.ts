/**
 * What every attack is, without its code: id, paper, kind, distance, threat model and parameters with
 * their defaults from the papers. Free of tfjs so that the popup and the message validator can use it;
 * `index.ts` binds each entry to its implementation (the one registry of runnable attacks).
 */
import { ProbeError } from '../errors';
import type { DistanceName, Norm, ParamSpec, ParamValue, ParamValues, ThreatModel } from './types';

/** Every attack id; part of the CLI, message and README interface. */
export const ATTACK_IDS = ['fgsm', 'bim', 'jsma', 'cw-l2', 'lbfgs', 'vae-classifier', 'vae-latent', 'vae-loss'] as const;
export type AttackId = (typeof ATTACK_IDS)[number];

export interface AttackMeta {
  readonly id: AttackId;
  readonly name: string;
  /** Short citation of the paper that defines it. */
  readonly paper: string;
  /** What it attacks: a classifier, or a VAE (with the classifier on its latent mean). */
  readonly model: 'classifier' | 'vae';
  /** 'fixed-eps': perturbation bounded by eps in `norms`; 'minimization': searches the smallest one. */
  readonly kind: 'fixed-eps' | 'minimization';
  /** The distance the attack bounds (fixed-ε) or minimises. */
  readonly distance: DistanceName;
  /** Norms of the ε budget (fixed-ε attacks; the contract test checks ‖δ‖ ≤ ε in each). */
  readonly norms: readonly Norm[];
  /** Whether the attack can aim at a chosen class / move away from the true one natively. */
  readonly targeted: boolean;
  readonly untargeted: boolean;
  /** Iterative attacks report progress and can be cancelled. */
  readonly iterative: boolean;
  readonly threat: ThreatModel;
  readonly params: readonly ParamSpec[];
}

const WHITE_BOX = 'architecture' as const;
const BOTH_GOALS: ThreatModel = { goals: ['misclassification', 'source-target-misclassification'], capability: WHITE_BOX };
const TARGETED_GOAL: ThreatModel = { goals: ['source-target-misclassification'], capability: WHITE_BOX };

const EPS: ParamSpec = { key: 'eps', label: 'ε', type: 'number', default: 0.25, min: 0, max: 1, step: 0.01, help: 'Perturbation budget in the chosen norm (pixel units, 0–1).' };
const NORM: ParamSpec = { key: 'norm', label: 'Norm', type: 'choice', default: 'inf', choices: ['inf', '2'], help: 'L∞ (sign of the gradient) or L2.' };
/**
 * Kos et al.'s attacks: minimise L + λ‖x* − x‖₂ (L2 method) or one signed step (FGS). λ and ε per attack
 * were measured on mnist-vae (100 sources, target = label + 1): the largest λ keeping AS_target ≥ 0.9,
 * and the smallest ε within 0.05 of the best one-step AS_target (see VAE_ATTACK_DEFAULTS in vae.ts).
 */
const vaeParams = (lambda: number, eps: number): readonly ParamSpec[] => [
  { key: 'method', label: 'Method', type: 'choice', default: 'l2', choices: ['l2', 'fgs'], help: 'L2 optimisation of L + λ‖x* − x‖, or one fast gradient-sign step.' },
  { key: 'lambda', label: 'λ', type: 'number', default: lambda, min: 0, max: 1000, step: 0.05, help: 'Weight of the distortion term ‖x* − x‖ (L2 method).' },
  { key: 'steps', label: 'Steps', type: 'integer', default: 150, min: 1, max: 5000, help: 'Adam steps (L2 method).' },
  { key: 'learningRate', label: 'Learning rate', type: 'number', default: 0.01, min: 1e-5, max: 1, step: 0.001, help: 'Adam step size (L2 method).' },
  { key: 'eps', label: 'ε (FGS)', type: 'number', default: eps, min: 0, max: 1, step: 0.01, help: 'Step size of the FGS method.' },
];

/** Metadata of every attack, in the order the README and the popup list them. */
export const ATTACK_SPECS: readonly AttackMeta[] = [
  {
    id: 'fgsm', name: 'Fast Gradient Sign Method', paper: 'Goodfellow et al. 2015', model: 'classifier',
    kind: 'fixed-eps', distance: 'linf', norms: ['inf', 2], targeted: true, untargeted: true, iterative: false, threat: BOTH_GOALS,
    params: [EPS, NORM],
  },
  {
    id: 'bim', name: 'Basic Iterative Method / PGD', paper: 'Kurakin et al. 2017 (iterated FGSM, Goodfellow et al. 2015)', model: 'classifier',
    kind: 'fixed-eps', distance: 'linf', norms: ['inf', 2], targeted: true, untargeted: true, iterative: true, threat: BOTH_GOALS,
    params: [
      EPS,
      { key: 'stepSize', label: 'Step size', type: 'number', default: 0.01, min: 0, max: 1, step: 0.001, help: 'Size of each FGSM step in the chosen norm.' },
      { key: 'steps', label: 'Steps', type: 'integer', default: 40, min: 1, max: 1000, help: 'Number of FGSM steps.' },
      NORM,
      { key: 'randomStart', label: 'Random start (PGD)', type: 'boolean', default: false, help: 'Start from a random point of the ε-ball (Madry et al. 2018).' },
    ],
  },
  {
    id: 'jsma', name: 'Jacobian-based Saliency Map Attack', paper: 'Papernot et al. 2016', model: 'classifier',
    kind: 'minimization', distance: 'l0', norms: [], targeted: true, untargeted: false, iterative: true, threat: TARGETED_GOAL,
    params: [
      { key: 'theta', label: 'θ', type: 'choice', default: '+1', choices: ['+1', '-1'], help: '+1: turn pixels fully on (increase); −1: turn them off.' },
      { key: 'maxDistortion', label: 'Υ (max distortion)', type: 'number', default: 0.145, min: 0.005, max: 1, step: 0.005, help: 'Largest fraction of pixels that may change (paper: 14.5%).' },
      { key: 'saliency', label: 'Saliency on', type: 'choice', default: 'logits', choices: ['logits', 'probabilities'], help: 'Jacobian of the logits (the paper) or of the softmax probabilities (Carlini & Wagner\'s JSMA-F: more successes, fewer pixels).' },
    ],
  },
  {
    id: 'cw-l2', name: 'Carlini-Wagner L2', paper: 'Carlini & Wagner 2017 (used by Bradshaw et al. 2017)', model: 'classifier',
    kind: 'minimization', distance: 'l2', norms: [], targeted: true, untargeted: true, iterative: true, threat: BOTH_GOALS,
    params: [
      { key: 'confidence', label: 'κ (confidence)', type: 'number', default: 0, min: 0, max: 100, step: 0.5, help: 'Required logit margin of the adversarial class.' },
      { key: 'binarySteps', label: 'Binary-search steps', type: 'integer', default: 9, min: 1, max: 20, help: 'Constants c tried per image.' },
      { key: 'maxIterations', label: 'Max iterations', type: 'integer', default: 1000, min: 1, max: 10000, help: 'Adam steps per constant.' },
      { key: 'learningRate', label: 'Learning rate', type: 'number', default: 0.05, min: 1e-5, max: 1, step: 0.001, help: 'Adam step size (reference: 0.01).' },
      { key: 'initialConst', label: 'Initial c', type: 'number', default: 0.001, min: 1e-6, max: 1e6, step: 0.001, help: 'First constant of the binary search.' },
      { key: 'abortEarly', label: 'Abort early', type: 'boolean', default: true, help: 'Stop a constant when the loss stops improving.' },
      { key: 'abortChecks', label: 'Abort-early checks', type: 'integer', default: 40, min: 1, max: 1000, help: 'Loss checks per constant (reference: 10); more stop sooner.' },
      { key: 'warmStart', label: 'Warm start', type: 'boolean', default: true, help: 'Start each constant where the last one ended (reference: from the input).' },
    ],
  },
  {
    id: 'lbfgs', name: 'Box-constrained L-BFGS', paper: 'Szegedy et al. 2014', model: 'classifier',
    kind: 'minimization', distance: 'l2', norms: [], targeted: true, untargeted: false, iterative: true, threat: TARGETED_GOAL,
    params: [
      { key: 'initialConst', label: 'Initial c', type: 'number', default: 0.01, min: 1e-6, max: 1e6, step: 0.001, help: 'First weight c of the distortion term c·‖r‖₂² (searched per image for the smallest distortion).' },
      { key: 'searchSteps', label: 'Search steps over c', type: 'integer', default: 10, min: 1, max: 30, help: 'Line search over c for the smallest distortion.' },
      { key: 'maxIterations', label: 'L-BFGS iterations', type: 'integer', default: 100, min: 1, max: 5000, help: 'Iterations per c.' },
      { key: 'warmStart', label: 'Warm start', type: 'boolean', default: true, help: 'Start each c where the last one ended (reference: from the input).' },
      { key: 'stallTolerance', label: 'Stall tolerance', type: 'number', default: 0.001, min: 0, max: 1, step: 0.0001, help: 'Stop a c once the objective falls by less than this fraction over 10 iterations (reference: 0, run to the iteration limit).' },
    ],
  },
  {
    id: 'vae-classifier', name: 'Classifier attack on a VAE', paper: 'Kos et al. 2017', model: 'vae',
    kind: 'minimization', distance: 'l2', norms: [], targeted: true, untargeted: false, iterative: true, threat: TARGETED_GOAL, params: vaeParams(0.25, 0.2),
  },
  {
    id: 'vae-latent', name: 'Latent attack on a VAE', paper: 'Kos et al. 2017', model: 'vae',
    kind: 'minimization', distance: 'l2', norms: [], targeted: true, untargeted: false, iterative: true, threat: TARGETED_GOAL, params: vaeParams(2, 0.3),
  },
  {
    id: 'vae-loss', name: 'L_VAE attack', paper: 'Kos et al. 2017', model: 'vae',
    kind: 'minimization', distance: 'l2', norms: [], targeted: true, untargeted: false, iterative: true, threat: TARGETED_GOAL, params: vaeParams(20, 0.3),
  },
];

export function isAttackId(v: unknown): v is AttackId {
  return typeof v === 'string' && (ATTACK_IDS as readonly string[]).includes(v);
}

export function attackMeta(id: string): AttackMeta | undefined {
  return ATTACK_SPECS.find((a) => a.id === id);
}

/** Default values of every parameter of an attack. */
export function defaultParams(spec: Pick<AttackMeta, 'params'>): Record<string, ParamValue> {
  return Object.fromEntries(spec.params.map((p) => [p.key, p.default]));
}

/**
 * Validates raw parameter values (from a message, the CLI or the popup) against the spec and fills
 * in defaults. Unknown keys, wrong types, out-of-range numbers and unknown choices → BAD_INPUT.
 * With `coerce` (command-line flags), numeric strings are accepted for number parameters and
 * 'true'/'false' for booleans; messages are strict.
 */
export function resolveParams(spec: Pick<AttackMeta, 'id' | 'params'>, raw: Readonly<Record<string, unknown>> = {}, opts: { coerce?: boolean } = {}): ParamValues {
  const coerce = opts.coerce === true;
  const out = defaultParams(spec);
  for (const [key, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    const p = spec.params.find((q) => q.key === key);
    if (!p) throw new ProbeError('BAD_INPUT', `${spec.id}: unknown parameter "${key}"; known: ${spec.params.map((q) => q.key).join(', ')}`);
    if (p.type === 'number' || p.type === 'integer') {
      const v = coerce && typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new ProbeError('BAD_INPUT', `${spec.id}: ${key} must be a finite number`);
      if (p.type === 'integer' && !Number.isInteger(v)) throw new ProbeError('BAD_INPUT', `${spec.id}: ${key} must be an integer`);
      if (v < p.min || v > p.max) throw new ProbeError('BAD_INPUT', `${spec.id}: ${key} must be in [${p.min}, ${p.max}], got ${v}`);
      out[key] = v;
    } else if (p.type === 'boolean') {
      const v = coerce && value === 'true' ? true : coerce && value === 'false' ? false : value;
      if (typeof v !== 'boolean') throw new ProbeError('BAD_INPUT', `${spec.id}: ${key} must be true or false`);
      out[key] = v;
    } else if (p.type === 'choice') {
      if (typeof value !== 'string' && typeof value !== 'number') throw new ProbeError('BAD_INPUT', `${spec.id}: ${key} must be one of ${p.choices.join(', ')}`);
      const v = String(value);
      if (!p.choices.includes(v)) throw new ProbeError('BAD_INPUT', `${spec.id}: ${key} must be one of ${p.choices.join(', ')}, got "${v}"`);
      out[key] = v;
    }
  }
  return out;
}
