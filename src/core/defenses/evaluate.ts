/**
 * Dataset-level evaluation of the defenses on clean images and on adversarial images crafted against a
 * classifier: MagNet's detection rate and reformed accuracy, the GPDNN's unsure rate and the ensemble's
 * accuracy and agreement. One loop for the `probe defend` command and the calibration script.
 */
import * as tf from '@tensorflow/tfjs';
import type { ClassifierAttackSpec } from '../attacks';
import type { ParamValues } from '../attacks/types';
import { ProbeError } from '../errors';
import type { LabelledSet } from '../metrics/evaluate';
import type { Classifier, Uncertain } from '../models/types';
import { ensembleVote, type Ensemble } from './ensemble';
import type { Magnet } from './magnet';
import { gpUncertainty, type UncertaintyCalibration } from './uncertainty';

/** The defenses to evaluate; `classifier` is the model the attack is crafted on (and MagNet's reformer classifier). */
export interface DefenseSuite {
  readonly classifier: Classifier;
  readonly magnet?: Magnet;
  readonly gpdnn?: { readonly model: Uncertain; readonly calibration: UncertaintyCalibration };
  readonly ensemble?: Ensemble;
}

/** The attack that makes the adversarial images (untargeted, away from the true labels). */
export interface DefenseAttack {
  readonly spec: ClassifierAttackSpec;
  readonly params: ParamValues;
}

/** Rates over the n images of one condition (clean or adversarial). Absent blocks: defense not in the suite. */
export interface ConditionReport {
  /** Accuracy of the undefended classifier. */
  readonly accuracy: number;
  readonly magnet?: {
    readonly detectionRate: number;
    readonly reformedAccuracy: number;
    readonly meanScore: number;
    /** Detection rate among the images the classifier gets wrong here but right on the clean image (null: none). */
    readonly detectionRateOnFooled: number | null;
    readonly fooled: number;
  };
  readonly gpdnn?: {
    readonly accuracy: number;
    readonly unsureRate: number;
    readonly meanEntropy: number;
    /** Unsure rate among the images the GPDNN gets wrong here but right on the clean image (null: none). */
    readonly unsureRateOnFooled: number | null;
    readonly fooled: number;
  };
  readonly ensemble?: {
    /** Accuracy of the mean-softmax prediction and of the majority vote. */
    readonly accuracy: number;
    readonly majorityAccuracy: number;
    /** Mean fraction of members that vote for the majority class, and the fraction of unanimous images. */
    readonly meanAgreement: number;
    readonly unanimousRate: number;
  };
}

export interface DefenseReport {
  readonly n: number;
  readonly clean: ConditionReport;
  /** Present when an attack was given. */
  readonly adversarial?: ConditionReport;
}

export interface DefenseEvalOptions {
  /** Images from `start` (default 0) to `start + n`. */
  readonly n: number;
  readonly start?: number;
  readonly batch?: number;
  readonly attack?: DefenseAttack;
  /** Called after each batch with the images done so far. */
  readonly onProgress?: (done: number) => void;
}

class Tally {
  n = 0;
  correct = 0;
  magnet = { flagged: 0, reformed: 0, score: 0, fooled: 0, fooledFlagged: 0 };
  gp = { correct: 0, unsure: 0, entropy: 0, fooled: 0, fooledUnsure: 0 };
  ens = { correct: 0, majority: 0, agreement: 0, unanimous: 0 };

  report(s: DefenseSuite): ConditionReport {
    const d = Math.max(this.n, 1);
    const m = this.magnet;
    const g = this.gp;
    const e = this.ens;
    return {
      accuracy: this.correct / d,
      ...(s.magnet ? {
        magnet: {
          detectionRate: m.flagged / d, reformedAccuracy: m.reformed / d, meanScore: m.score / d,
          detectionRateOnFooled: m.fooled > 0 ? m.fooledFlagged / m.fooled : null, fooled: m.fooled,
        },
      } : {}),
      ...(s.gpdnn ? {
        gpdnn: {
          accuracy: g.correct / d, unsureRate: g.unsure / d, meanEntropy: g.entropy / d,
          unsureRateOnFooled: g.fooled > 0 ? g.fooledUnsure / g.fooled : null, fooled: g.fooled,
        },
      } : {}),
      ...(s.ensemble ? {
        ensemble: { accuracy: e.correct / d, majorityAccuracy: e.majority / d, meanAgreement: e.agreement / d, unanimousRate: e.unanimous / d },
      } : {}),
    };
  }
}

async function labelsOf(model: Classifier, x: tf.Tensor4D): Promise<Int32Array> {
  const t = tf.tidy(() => tf.argMax(model.logits(x), 1));
  try {
    return Int32Array.from((await t.data()) as Int32Array);
  } finally {
    t.dispose();
  }
}

/**
 * Per-image verdicts of one condition added to `tally`; `cleanRight` (from the clean pass) marks which
 * images each model got right on the clean image, so that "fooled" = right on clean, wrong here.
 */
async function tallyBatch(
  s: DefenseSuite, x: tf.Tensor4D, y: Uint8Array | Int32Array, tally: Tally,
  cleanRight: { clf: boolean[]; gp: boolean[] } | null,
): Promise<{ clf: boolean[]; gp: boolean[] }> {
  const n = x.shape[0];
  const pred = await labelsOf(s.classifier, x);
  const clf = Array.from(pred, (p, i) => p === y[i]);
  const gpRight: boolean[] = [];
  tally.n += n;
  tally.correct += clf.filter(Boolean).length;
  if (s.magnet) {
    const r = await s.magnet.run(x);
    for (let i = 0; i < n; i++) {
      if (r.flagged[i]) tally.magnet.flagged++;
      if (r.reformedLabels[i] === y[i]) tally.magnet.reformed++;
      tally.magnet.score += r.scores[i];
      if (cleanRight && cleanRight.clf[i] && !clf[i]) {
        tally.magnet.fooled++;
        if (r.flagged[i]) tally.magnet.fooledFlagged++;
      }
    }
  }
  if (s.gpdnn) {
    const r = await gpUncertainty(s.gpdnn.model, x, s.gpdnn.calibration);
    for (let i = 0; i < n; i++) {
      const right = r.labels[i] === y[i];
      gpRight.push(right);
      if (right) tally.gp.correct++;
      if (r.unsure[i]) tally.gp.unsure++;
      tally.gp.entropy += r.entropy[i];
      if (cleanRight && cleanRight.gp[i] && !right) {
        tally.gp.fooled++;
        if (r.unsure[i]) tally.gp.fooledUnsure++;
      }
    }
  }
  if (s.ensemble) {
    const v = await ensembleVote(s.ensemble, x);
    for (let i = 0; i < n; i++) {
      if (v.meanLabels[i] === y[i]) tally.ens.correct++;
      if (v.majority[i] === y[i]) tally.ens.majority++;
      tally.ens.agreement += v.agreement[i];
      if (v.agreement[i] === 1) tally.ens.unanimous++;
    }
  }
  return { clf, gp: gpRight };
}

/**
 * Clean (and, with `opts.attack`, adversarial) rates of every defense in the suite over images
 * [start, start + n) of `set`. The attack is untargeted, crafted on `suite.classifier` with the true
 * labels, on every image (also those the classifier gets wrong). Frees every tensor it makes.
 */
export async function evaluateDefenses(suite: DefenseSuite, set: LabelledSet, opts: DefenseEvalOptions): Promise<DefenseReport> {
  const start = opts.start ?? 0;
  const { n } = opts;
  if (!Number.isInteger(n) || n < 1) throw new ProbeError('BAD_INPUT', `n must be a positive integer, got ${n}`);
  if (!Number.isInteger(start) || start < 0 || start + n > set.n) throw new ProbeError('BAD_INPUT', `images ${start}..${start + n - 1} are outside the set of ${set.n}`);
  const batch = Math.max(1, Math.floor(opts.batch ?? 100));
  const [h, w, c] = suite.classifier.inputShape;
  const size = h * w * c;
  if (set.images.length < set.n * size) throw new ProbeError('BAD_INPUT', `the set holds ${set.images.length} values, fewer than ${set.n} images of ${h}×${w}×${c}`);
  const clean = new Tally();
  const adv = new Tally();
  for (let s = start; s < start + n; s += batch) {
    const e = Math.min(start + n, s + batch);
    const y = set.labels.subarray(s, e);
    const x = tf.tensor4d(set.images.subarray(s * size, e * size), [e - s, h, w, c]);
    let yT: tf.Tensor1D | undefined;
    let xAdv: tf.Tensor4D | undefined;
    try {
      const right = await tallyBatch(suite, x, y, clean, null);
      if (opts.attack) {
        yT = tf.tensor1d(Int32Array.from(y), 'int32');
        xAdv = (await opts.attack.spec.run(suite.classifier, x, { params: opts.attack.params, y: yT, targeted: false })).adv;
        await tallyBatch(suite, xAdv, y, adv, right);
      }
    } finally {
      tf.dispose([x, ...(yT ? [yT] : []), ...(xAdv ? [xAdv] : [])]);
    }
    opts.onProgress?.(e - start);
  }
  return { n, clean: clean.report(suite), ...(opts.attack ? { adversarial: adv.report(suite) } : {}) };
}
