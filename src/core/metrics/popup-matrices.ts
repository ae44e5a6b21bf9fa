/**
 * The per-pair matrices of Papernot et al.'s experiments that `probe reproduce` writes for the popup
 * (`reproduction/popup-matrices.json`): JSMA success rate and distortion per (source, target) pair for
 * both saliency maps, the hardness matrix H(s, t) and the mean adversarial distance A per pair, with
 * the sizes, the Υ grid and the generating command. A typed, versioned format with a runtime
 * validator; free of TensorFlow.js (the popup imports it).
 */
import type { JsmaSaliency } from '../attacks/jsma';
import { ProbeError } from '../errors';

export const POPUP_MATRICES_VERSION = 1;
export const POPUP_MATRICES_FILE = 'popup-matrices.json';

/** The saliency maps, in the order of JSMA_SALIENCIES (kept here so the popup needs no TensorFlow.js). */
export const POPUP_SALIENCIES = ['logits', 'probabilities'] as const satisfies readonly JsmaSaliency[];

/** A C × C matrix [source][target]; null where there is no value (the diagonal, a pair without runs or successes). */
export type PopupMatrix = readonly (readonly (number | null)[])[];

/** One saliency map's matrices. */
export interface PopupSaliencyMatrices {
  /** JSMA runs per pair at the largest Υ (0 on the diagonal). */
  readonly count: PopupMatrix;
  /** Fraction of the pair's runs classified as the target, at the largest Υ. */
  readonly successRate: PopupMatrix;
  /** Average fraction of pixels changed over the successful runs, at the largest Υ. */
  readonly distortionSuccessful: PopupMatrix;
  /** H(s, t) = Σ_k (τ_{k+1} − τ_k)(ε_{k+1} + ε_k)/2 over the Υ grid (ε: distortion of successful samples). */
  readonly hardness: PopupMatrix;
  /** Mean of A(X, t) over the pair's sources (in [0, 1]). */
  readonly adversarialDistance: PopupMatrix;
  /** R(F) = min over the (X, t) of A(X, t). */
  readonly robustness: number;
}

export interface PopupMatrices {
  readonly version: typeof POPUP_MATRICES_VERSION;
  readonly model: string;
  readonly classNames: readonly string[];
  /** The command that wrote the file, and when. */
  readonly command: string;
  readonly generatedAt: string;
  readonly theta: 1 | -1;
  /** Υ of the success and distortion matrices (the largest of the grid). */
  readonly maxDistortion: number;
  /** The Υ grid of the hardness estimate, increasing. */
  readonly upsilons: readonly number[];
  /** Source images (correctly classified, each attacked towards every other class) and JSMA runs per saliency map. */
  readonly sources: number;
  readonly runs: number;
  /** (X, t) pairs behind the adversarial distance matrices. */
  readonly distanceRuns: number;
  readonly saliency: Readonly<Record<JsmaSaliency, PopupSaliencyMatrices>>;
}

/** A matrix with its non-finite entries as null (JSON has no NaN). */
export function toPopupMatrix(m: readonly (readonly number[])[]): (number | null)[][] {
  return m.map((row) => row.map((v) => (Number.isFinite(v) ? v : null)));
}

const bad = (what: string): ProbeError => new ProbeError('BAD_INPUT', `popup matrices: ${what}`);
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function matrix(v: unknown, name: string, size: number, lo: number, hi: number): PopupMatrix {
  if (!Array.isArray(v) || v.length !== size) throw bad(`${name} must be a ${size}×${size} matrix`);
  return v.map((row: unknown, s) => {
    if (!Array.isArray(row) || row.length !== size) throw bad(`${name} row ${s} must have ${size} entries`);
    return row.map((x: unknown, t) => {
      if (x === null) return null;
      if (!finite(x) || x < lo || x > hi) throw bad(`${name}[${s}][${t}] must be null or a number in [${lo}, ${hi}], got ${JSON.stringify(x)}`);
      return x;
    });
  });
}

/**
 * Checks a parsed popup-matrices.json and returns it typed; a ProbeError (BAD_INPUT) naming the
 * first problem otherwise: wrong version, missing fields, matrices of the wrong size, entries out of
 * range, a diagonal with values, or a success rate where the pair has no runs.
 */
export function parsePopupMatrices(v: unknown): PopupMatrices {
  if (!isRecord(v)) throw bad('not an object');
  if (v.version !== POPUP_MATRICES_VERSION) throw bad(`version must be ${POPUP_MATRICES_VERSION}, got ${JSON.stringify(v.version)}`);
  for (const k of ['model', 'command', 'generatedAt'] as const) if (typeof v[k] !== 'string' || v[k] === '') throw bad(`${k} must be a non-empty string`);
  const names = v.classNames;
  if (!Array.isArray(names) || names.length < 2 || !names.every((x) => typeof x === 'string')) throw bad('classNames must list at least 2 class names');
  const C = names.length;
  if (v.theta !== 1 && v.theta !== -1) throw bad('theta must be 1 or -1');
  const ups = v.upsilons;
  if (!Array.isArray(ups) || ups.length === 0 || !ups.every((u, k) => finite(u) && u > 0 && u <= 1 && (k === 0 || u > (ups[k - 1] as number)))) {
    throw bad('upsilons must be an increasing list of numbers in (0, 1]');
  }
  if (!finite(v.maxDistortion) || v.maxDistortion !== ups[ups.length - 1]) throw bad('maxDistortion must be the largest Υ of the grid');
  for (const k of ['sources', 'runs', 'distanceRuns'] as const) {
    const x = v[k];
    if (!finite(x) || !Number.isInteger(x) || x < 0) throw bad(`${k} must be a non-negative integer`);
  }
  const sal = v.saliency;
  if (!isRecord(sal)) throw bad('saliency must be an object');
  const out = {} as Record<JsmaSaliency, PopupSaliencyMatrices>;
  for (const s of POPUP_SALIENCIES) {
    const m = sal[s];
    if (!isRecord(m)) throw bad(`saliency.${s} is missing`);
    const count = matrix(m.count, `${s}.count`, C, 0, Number.MAX_SAFE_INTEGER);
    const successRate = matrix(m.successRate, `${s}.successRate`, C, 0, 1);
    const distortionSuccessful = matrix(m.distortionSuccessful, `${s}.distortionSuccessful`, C, 0, 1);
    const hardness = matrix(m.hardness, `${s}.hardness`, C, 0, 1);
    const adversarialDistance = matrix(m.adversarialDistance, `${s}.adversarialDistance`, C, 0, 1);
    let total = 0;
    for (let a = 0; a < C; a++) {
      for (let b = 0; b < C; b++) {
        const k = count[a][b];
        if (k === null || !Number.isInteger(k)) throw bad(`${s}.count[${a}][${b}] must be an integer`);
        total += k;
        if (a === b && (k !== 0 || successRate[a][b] !== null || hardness[a][b] !== null || adversarialDistance[a][b] !== null)) {
          throw bad(`${s}: the diagonal (${a} → ${a}) must have no runs and no values`);
        }
        if ((k === 0) !== (successRate[a][b] === null)) throw bad(`${s}.successRate[${a}][${b}] must be set exactly where the pair has runs`);
      }
    }
    if (total !== v.runs) throw bad(`${s}.count adds up to ${total}, not runs = ${String(v.runs)}`);
    if (!finite(m.robustness) || m.robustness < 0 || m.robustness > 1) throw bad(`${s}.robustness must be a number in [0, 1]`);
    out[s] = { count, successRate, distortionSuccessful, hardness, adversarialDistance, robustness: m.robustness };
  }
  return {
    version: POPUP_MATRICES_VERSION, model: v.model as string, classNames: names as string[], command: v.command as string, generatedAt: v.generatedAt as string,
    theta: v.theta, maxDistortion: v.maxDistortion, upsilons: ups as number[], sources: v.sources as number, runs: v.runs as number,
    distanceRuns: v.distanceRuns as number, saliency: out,
  };
}
