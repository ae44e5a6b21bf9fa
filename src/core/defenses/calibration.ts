/**
 * The generated calibration files of the defenses (written by training/calibrate-defenses.ts, read by
 * the CLI and the extension): models/mnist-vae/magnet.json (MagNet detector threshold) and
 * models/mnist-gpdnn/uncertainty.json (GPDNN "unsure" threshold). Parsers check every field they use
 * and fail with MODEL_LOAD_FAILED and a readable reason.
 */
import { ProbeError } from '../errors';
import { RECONSTRUCTION_METRICS, type MagnetCalibration, type ReconstructionMetric } from './magnet';
import { binomialConsistent } from './threshold';
import type { UncertaintyCalibration } from './uncertainty';

/** File name of MagNet's calibration inside the VAE's folder. */
export const MAGNET_FILE = 'magnet.json';
/** File name of the GPDNN's calibration inside its folder. */
export const UNCERTAINTY_FILE = 'uncertainty.json';

/** Where the calibration images came from: never the test split. */
export interface CalibrationSplit {
  readonly dataset: 'mnist';
  readonly source: 'train';
  /** Images [start, end) of the training split. */
  readonly start: number;
  readonly end: number;
  readonly note: string;
}

/** Rates measured by the calibration script on one condition of the test images. */
export interface MeasuredRates {
  /** Fraction flagged (MagNet: detected; GPDNN: unsure). */
  readonly flaggedRate: number;
  /** Flagged among the images the attacked model gets wrong but got right on the clean image (null: none). */
  readonly flaggedRateOnFooled: number | null;
  /** Accuracy of the undefended model, and of MagNet's reformer (MagNet only). */
  readonly accuracy: number;
  readonly reformedAccuracy?: number;
}

/**
 * Is the clean test rate what the threshold was calibrated for? flagged of n clean test images against
 * Binomial(n, fpr), two-sided exact test at level alpha. `consistent: false` means the stated fpr does
 * not hold on unseen images (the calibration images were part of the model's training set).
 */
export interface CleanTestCheck {
  readonly n: number;
  readonly flagged: number;
  readonly alpha: number;
  /** P(X ≤ flagged) and P(X ≥ flagged) for X ~ Binomial(n, fpr). */
  readonly lowerTail: number;
  readonly upperTail: number;
  readonly consistent: boolean;
}

/** Fields common to both calibration files. */
export interface CalibrationFileBase {
  readonly model: string;
  readonly fpr: number;
  readonly threshold: number;
  /** Number of calibration (validation) images. */
  readonly n: number;
  /** Calibration images strictly above the threshold. */
  readonly calibrationFlagged: number;
  readonly split: CalibrationSplit;
  readonly test: {
    /** The model the FGSM images are crafted on. */
    readonly attackedModel: string;
    readonly start: number;
    readonly n: number;
    readonly clean: MeasuredRates;
    readonly fgsm: readonly (MeasuredRates & { readonly eps: number })[];
  };
  readonly cleanTestCheck: CleanTestCheck;
  readonly backend: string;
  readonly generatedBy: string;
}

export interface MagnetCalibrationFile extends CalibrationFileBase {
  readonly format: 'magnet-calibration';
  readonly metric: ReconstructionMetric;
  readonly reformerClassifier: string;
}

export interface UncertaintyCalibrationFile extends CalibrationFileBase {
  readonly format: 'uncertainty-calibration';
  readonly score: 'entropy';
}

type Obj = Record<string, unknown>;

function checker(file: string) {
  const bad = (why: string): never => {
    throw new ProbeError('MODEL_LOAD_FAILED', `${file}: ${why}`);
  };
  const obj = (v: unknown, what: string): Obj => (v != null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : bad(`${what} is not an object`));
  const numIn = (v: unknown, what: string, lo: number, hi: number): number =>
    typeof v === 'number' && Number.isFinite(v) && v >= lo && v <= hi ? v : bad(`${what} must be a number in [${lo}, ${hi}], got ${JSON.stringify(v)}`);
  const int = (v: unknown, what: string, lo: number): number =>
    typeof v === 'number' && Number.isInteger(v) && v >= lo ? v : bad(`${what} must be an integer ≥ ${lo}, got ${JSON.stringify(v)}`);
  const str = (v: unknown, what: string): string => (typeof v === 'string' && v.length > 0 ? v : bad(`${what} must be a non-empty string`));
  const rate = (v: unknown, what: string): number => numIn(v, what, 0, 1);
  const rates = (v: unknown, what: string): MeasuredRates => {
    const o = obj(v, what);
    const fooled = o.flaggedRateOnFooled === null ? null : rate(o.flaggedRateOnFooled, `${what}.flaggedRateOnFooled`);
    return {
      flaggedRate: rate(o.flaggedRate, `${what}.flaggedRate`), flaggedRateOnFooled: fooled, accuracy: rate(o.accuracy, `${what}.accuracy`),
      ...(o.reformedAccuracy !== undefined ? { reformedAccuracy: rate(o.reformedAccuracy, `${what}.reformedAccuracy`) } : {}),
    };
  };
  const base = (raw: unknown, format: string): CalibrationFileBase & Obj => {
    const o = obj(raw, 'the file');
    if (o.format !== format) bad(`format is ${JSON.stringify(o.format)}, expected "${format}"`);
    const n = int(o.n, 'n', 1);
    const s = obj(o.split, 'split');
    if (s.dataset !== 'mnist' || s.source !== 'train') bad('split must be {dataset: "mnist", source: "train"}: thresholds are never calibrated on the test set');
    const start = int(s.start, 'split.start', 0);
    const end = int(s.end, 'split.end', start + 1);
    if (end - start !== n) bad(`split covers ${end - start} images but n is ${n}`);
    const t = obj(o.test, 'test');
    const fgsm = Array.isArray(t.fgsm) ? t.fgsm : bad('test.fgsm is not a list');
    const flagged = int(o.calibrationFlagged, 'calibrationFlagged', 0);
    const fpr = numIn(o.fpr, 'fpr', 0, 0.999999);
    if (flagged > Math.floor(fpr * n + 1e-9)) bad(`calibrationFlagged ${flagged} exceeds floor(fpr·n) = ${Math.floor(fpr * n + 1e-9)}`);
    const clean = rates(t.clean, 'test.clean');
    const testN = int(t.n, 'test.n', 1);
    const ck = obj(o.cleanTestCheck, 'cleanTestCheck');
    const check: CleanTestCheck = {
      n: int(ck.n, 'cleanTestCheck.n', 1), flagged: int(ck.flagged, 'cleanTestCheck.flagged', 0), alpha: numIn(ck.alpha, 'cleanTestCheck.alpha', 0, 1),
      lowerTail: rate(ck.lowerTail, 'cleanTestCheck.lowerTail'), upperTail: rate(ck.upperTail, 'cleanTestCheck.upperTail'),
      consistent: typeof ck.consistent === 'boolean' ? ck.consistent : bad('cleanTestCheck.consistent must be true or false'),
    };
    if (check.n !== testN || Math.abs(check.flagged / check.n - clean.flaggedRate) > 1e-9) bad('cleanTestCheck does not match test.n and test.clean.flaggedRate');
    if (check.flagged > check.n) bad('cleanTestCheck.flagged exceeds its n');
    if (check.consistent !== binomialConsistent(check.flagged, check.n, fpr, check.alpha)) bad('cleanTestCheck.consistent disagrees with the binomial test of its own numbers');
    return {
      ...o,
      cleanTestCheck: check,
      model: str(o.model, 'model'), fpr, threshold: numIn(o.threshold, 'threshold', 0, Number.MAX_VALUE), n, calibrationFlagged: flagged,
      split: { dataset: 'mnist', source: 'train', start, end, note: typeof s.note === 'string' ? s.note : '' },
      test: {
        attackedModel: str(t.attackedModel, 'test.attackedModel'), start: int(t.start, 'test.start', 0), n: testN,
        clean,
        fgsm: fgsm.map((f: unknown, i: number) => ({ ...rates(f, `test.fgsm[${i}]`), eps: numIn(obj(f, `test.fgsm[${i}]`).eps, `test.fgsm[${i}].eps`, 0, 1) })),
      },
      backend: str(o.backend, 'backend'), generatedBy: str(o.generatedBy, 'generatedBy'),
    };
  };
  return { bad, str, base };
}

/** Parses and checks models/mnist-vae/magnet.json. */
export function parseMagnetCalibrationFile(raw: unknown): MagnetCalibrationFile {
  const c = checker(MAGNET_FILE);
  const b = c.base(raw, 'magnet-calibration');
  if (!RECONSTRUCTION_METRICS.includes(b.metric as ReconstructionMetric)) c.bad(`metric must be one of ${RECONSTRUCTION_METRICS.join(', ')}`);
  const { metric, reformerClassifier, ...rest } = b;
  return { ...(rest as CalibrationFileBase), format: 'magnet-calibration', metric: metric as ReconstructionMetric, reformerClassifier: c.str(reformerClassifier, 'reformerClassifier') };
}

/** Parses and checks models/mnist-gpdnn/uncertainty.json. */
export function parseUncertaintyCalibrationFile(raw: unknown): UncertaintyCalibrationFile {
  const c = checker(UNCERTAINTY_FILE);
  const b = c.base(raw, 'uncertainty-calibration');
  if (b.score !== 'entropy') c.bad('score must be "entropy"');
  return { ...(b as CalibrationFileBase), format: 'uncertainty-calibration', score: 'entropy' };
}

/** The part of magnet.json that {@link magnet} needs. */
export function magnetCalibrationOf(f: MagnetCalibrationFile): MagnetCalibration {
  return { metric: f.metric, threshold: f.threshold };
}

/** The part of uncertainty.json that the uncertainty functions need. */
export function uncertaintyCalibrationOf(f: UncertaintyCalibrationFile): UncertaintyCalibration {
  return { score: f.score, threshold: f.threshold };
}
