import * as tf from '@tensorflow/tfjs';
import { ProbeError } from '../errors';
import type { Classifier } from '../models/types';
import { bim } from './bim';
import { cwL2 } from './cw';
import { fgsm } from './fgsm';
import { jsma, type JsmaSaliency } from './jsma';
import { lbfgs } from './lbfgs';
import { ATTACK_SPECS, type AttackId, type AttackMeta } from './specs';
import type { AttackRun, Norm, ParamValues, StepControl } from './types';
import { VAE_ATTACKS, type VaeAttackId, type VaeAttackModels } from './vae';

/** What every classifier attack receives besides the model and the images. */
export interface AttackRequest {
  /** Validated parameter values (see `resolveParams`); missing keys take the spec's defaults. */
  readonly params: ParamValues;
  /** Untargeted: labels to move away from (default: the model's predictions). Targeted: the targets. */
  readonly y?: tf.Tensor1D;
  readonly targeted?: boolean;
}

/** What every VAE attack (Kos et al.) receives: targets and one example image of each target class. */
export interface VaeAttackRequest {
  readonly params: ParamValues;
  readonly targets: tf.Tensor1D;
  readonly targetExamples: tf.Tensor4D;
}

export interface ClassifierAttackSpec extends AttackMeta {
  readonly model: 'classifier';
  run(model: Classifier, x: tf.Tensor4D, req: AttackRequest, ctl?: StepControl): Promise<AttackRun>;
}

export interface VaeAttackSpec extends AttackMeta {
  readonly model: 'vae';
  run(models: VaeAttackModels, x: tf.Tensor4D, req: VaeAttackRequest, ctl?: StepControl): Promise<AttackRun>;
}

export type AttackSpec = ClassifierAttackSpec | VaeAttackSpec;

const normOf = (p: ParamValues): Norm => (p.norm === '2' ? 2 : 'inf');
const num = (p: ParamValues, k: string): number => p[k] as number;

/**
 * For attacks that only aim at a class (JSMA, L-BFGS) run untargeted: the class with the second
 * highest logit for each image (the nearest class by the model's own ranking), or, when `exclude`
 * is given, the highest-scoring class other than it.
 */
export function runnerUpClasses(model: Classifier, x: tf.Tensor4D, exclude?: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => {
    const z = model.logits(x);
    const own = exclude ? (tf.cast(exclude, 'int32') as tf.Tensor1D) : (tf.argMax(z, 1) as tf.Tensor1D);
    const masked = tf.where(tf.cast(tf.oneHot(own, z.shape[1]), 'bool'), tf.fill(z.shape, -Infinity), z);
    return tf.argMax(masked, 1) as tf.Tensor1D;
  });
}

type ClassifierRunner = ClassifierAttackSpec['run'];

/** Targets for a targeted-only attack: the request's targets, or runner-up classes when untargeted. */
async function withTargets<T>(model: Classifier, x: tf.Tensor4D, req: AttackRequest, f: (targets: tf.Tensor1D) => Promise<T>): Promise<T> {
  const targets = req.targeted && req.y ? req.y : runnerUpClasses(model, x, req.y);
  try {
    return await f(targets);
  } finally {
    if (targets !== req.y) targets.dispose();
  }
}

const CLASSIFIER_RUNNERS: Partial<Record<AttackId, ClassifierRunner>> = {
  fgsm: async (model, x, req) => ({ adv: fgsm(model, x, { eps: num(req.params, 'eps'), norm: normOf(req.params), y: req.y, targeted: req.targeted }) }),
  bim: async (model, x, req, ctl) => ({
    adv: await bim(model, x, {
      eps: num(req.params, 'eps'), stepSize: num(req.params, 'stepSize'), steps: num(req.params, 'steps'), norm: normOf(req.params),
      randomStart: req.params.randomStart === true, seed: 0, y: req.y, targeted: req.targeted,
    }, ctl),
  }),
  jsma: (model, x, req, ctl) =>
    withTargets(model, x, req, async (targets) => ({
      adv: await jsma(model, x, { targets, theta: req.params.theta === '-1' ? -1 : 1, maxDistortion: num(req.params, 'maxDistortion'), saliency: req.params.saliency as JsmaSaliency | undefined }, ctl),
    })),
  'cw-l2': async (model, x, req, ctl) => {
    const r = await cwL2(model, x, {
      y: req.y, targeted: req.targeted === true, confidence: num(req.params, 'confidence'), binarySteps: num(req.params, 'binarySteps'),
      maxIterations: num(req.params, 'maxIterations'), learningRate: num(req.params, 'learningRate'),
      initialConst: num(req.params, 'initialConst'), abortEarly: req.params.abortEarly === true,
      abortChecks: num(req.params, 'abortChecks'), warmStart: req.params.warmStart === true,
    }, ctl);
    return { adv: r.adv, trace: r.trace };
  },
  lbfgs: (model, x, req, ctl) =>
    withTargets(model, x, req, async (targets) => {
      const r = await lbfgs(model, x, {
        targets, initialConst: num(req.params, 'initialConst'), searchSteps: num(req.params, 'searchSteps'), maxIterations: num(req.params, 'maxIterations'),
        warmStart: req.params.warmStart === true, stallTolerance: num(req.params, 'stallTolerance'),
      }, ctl);
      return { adv: r.adv, trace: r.trace };
    }),
};

function vaeRunner(id: VaeAttackId): VaeAttackSpec['run'] {
  return async (models, x, req, ctl) => {
    const p = req.params;
    const adv = await VAE_ATTACKS[id](models, x, {
      targets: req.targets, targetExamples: req.targetExamples, method: p.method === 'fgs' ? 'fgs' : 'l2',
      lambda: num(p, 'lambda'), steps: num(p, 'steps'), learningRate: num(p, 'learningRate'), eps: num(p, 'eps'),
    }, ctl);
    return { adv };
  };
}

function bind(meta: AttackMeta): AttackSpec | null {
  if (meta.model === 'vae') return { ...meta, model: 'vae', run: vaeRunner(meta.id as VaeAttackId) };
  const run = CLASSIFIER_RUNNERS[meta.id];
  return run ? { ...meta, model: 'classifier', run } : null;
}

/** The only registry of runnable attacks (metadata in specs.ts). README's attack table is generated from it and checked by a test. */
export const ATTACKS: readonly AttackSpec[] = ATTACK_SPECS.map(bind).filter((a): a is AttackSpec => a !== null);
export const CLASSIFIER_ATTACKS: readonly ClassifierAttackSpec[] = ATTACKS.filter((a): a is ClassifierAttackSpec => a.model === 'classifier');
export const VAE_ATTACK_SPECS: readonly VaeAttackSpec[] = ATTACKS.filter((a): a is VaeAttackSpec => a.model === 'vae');

export function getAttack(id: string): AttackSpec | undefined {
  return ATTACKS.find((a) => a.id === id);
}

/** Looks an attack up by id or throws BAD_INPUT naming the ones that exist. */
export function requireAttack(id: string): AttackSpec {
  const a = getAttack(id);
  if (!a) throw new ProbeError('BAD_INPUT', `unknown attack "${id}"; available: ${ATTACKS.map((x) => x.id).join(', ')}`);
  return a;
}

export { ATTACK_IDS, ATTACK_SPECS, attackMeta, defaultParams, isAttackId, resolveParams } from './specs';
export type { AttackId, AttackMeta } from './specs';
export { fgsm } from './fgsm';
export type { FgsmOptions } from './fgsm';
export { bim } from './bim';
export type { BimOptions } from './bim';
export { jsma } from './jsma';
export type { JsmaOptions } from './jsma';
export { cwL2 } from './cw';
export type { CwL2Options, CwL2Result } from './cw';
export { lbfgs } from './lbfgs';
export type { LbfgsOptions, LbfgsResult } from './lbfgs';
export { VAE_ATTACKS } from './vae';
export type { VaeAttackModels, VaeAttackOptions } from './vae';
export type { AttackProgress, AttackRun, DistanceName, Norm, ParamSpec, ParamValue, ParamValues, StepControl, ThreatModel, TraceEntry } from './types';
export { stepper, throwIfAborted } from './types';
export { distances, distancesOf, L0_TOLERANCE } from './distances';
export { misclassified, targetedMisclassified, attackSucceeded } from './criteria';
