/**
 * `probe reproduce [--quick] [--out DIR]`: regenerates the seed papers' tables and figures on the
 * shipped models and writes DIR/REPRODUCTION.md (default DIR: reproduction/), DIR/reproduction.json
 * and SVG figures. Every measured number is computed here; every published number comes from
 * src/core/metrics/paper-numbers.json with its source section in papers.md. This slice: Goodfellow et al. 2015,
 * Szegedy et al. 2014 (tables 1 and 2), Papernot et al. 2016 (JSMA success and distortion table, per-pair heatmaps, hardness matrix, adversarial distance, empty-input samples, popup-matrices.json)
 * and Kos et al. 2017 (classifier and latent attacks on the VAE: AS_target / AS_ignore-target, per-pair heatmaps, examples).
 */
import * as tf from '@tensorflow/tfjs';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { arch, cpus, release, totalmem, type as osType } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getAttack, resolveParams, type ClassifierAttackSpec, type ParamValues, type VaeAttackSpec } from '../core/attacks';
import { blankUnattacked, KOS_ATTACKS, kosRows, kosSources, type KosAttackId, type KosRow } from '../core/metrics/reproduce-kos';
import { bradshawFigures, bradshawPlan, bradshawRows, bradshawSection, bradshawTables, type BradshawResult } from './reproduce-bradshaw';
import { attackVaeRows, VaeAttackAccumulator } from '../core/metrics/vae-attack';
import { parseVaeExamples, VAE_CLASSIFIER_ID, VAE_EXAMPLES_FILE, VAE_ID } from '../core/models/vae-examples';
import { ProbeError } from '../core/errors';
import {
  adversarialError, classRegions, errorVsEps, kinkFraction, linearWeights, linspace, logitSweep, predictionChanges, signAgreement,
  type AdversarialError, type EpsPoint, type LogitSweep,
} from '../core/metrics/reproduce-goodfellow';
import {
  asFraction, compareRates, formatPaperNumber, paperClaim, paperInfo, paperNumber, parsePaperData,
  type Comparison, type PaperClaim, type PaperData, type PaperNumber,
} from '../core/metrics/reproduce-papers';
import {
  allTargetPairs, finiteRange, offDiagonal, pairMatrices, PAPERNOT_SETS, pearson, setSource, summarise, VALIDATION_START,
  type PairMatrices, type PapernotRun, type PapernotSet, type PapernotSummary,
} from '../core/metrics/reproduce-papernot';
import { JSMA_SALIENCIES, type JsmaSaliency } from '../core/attacks/jsma';
import { hardnessMatrix, HARDNESS_UPSILONS, jsmaSweep, pairBudget, predictFlat } from '../core/metrics/hardness';
import { adversarialDistances, distanceMatrix, robustness, type DistanceRun } from '../core/metrics/adversarial-distance';
import { parsePopupMatrices, POPUP_MATRICES_FILE, POPUP_MATRICES_VERSION, toPopupMatrix, type PopupMatrices } from '../core/metrics/popup-matrices';
import {
  compareMeans, errorRate, gaussianNoise, mean, NOISE_STDDEVS, randomTargets, rmsDistortion, sampleSd, SZEGEDY_MODELS,
} from '../core/metrics/reproduce-szegedy';
import { catalogEntry, classNamesFor } from '../core/models/catalog';
import { classifierFromLayersModel } from '../core/models/layers';
import { registerMaxout } from '../core/models/maxout';
import type { Classifier } from '../core/models/types';
import { NODE_BACKENDS, useNodeBackend, type NodeBackend } from './backend';
import type { Dataset } from './data';
import { datasetSplit } from './datasets';
import { loadLayersModelFromDir } from './model-io';
import { loadShippedClassifier, loadShippedVae, MODELS_DIR, readCard, type ModelCard } from './models';
import { encodePng } from './png';
import { heatmap, imageGrid, lineChart, type Band, type Marker, type Series } from './svg';

export const DEFAULT_OUT = 'reproduction';
export const REPORT_FILE = 'REPRODUCTION.md';
export const RESULTS_FILE = 'reproduction.json';
/** The published numbers (one file, each with its source section in papers.md). */
export const PAPER_NUMBERS_FILE = fileURLToPath(new URL('../core/metrics/paper-numbers.json', import.meta.url));

export const FIGURES = {
  errorVsEps: 'goodfellow-error-vs-eps.svg',
  fig4: 'goodfellow-fig4-logits.svg',
  lrWeights: 'goodfellow-lr-weights.svg',
} as const;

/** Kos et al.'s AS_target heatmaps per attack, and the example grid. */
export const KOS_FIGURES = {
  asTarget: { 'vae-classifier': 'kos-as-target-classifier.svg', 'vae-latent': 'kos-as-target-latent.svg' } as Readonly<Record<KosAttackId, string>>,
  examples: 'kos-examples.svg',
} as const;

/** Papernot et al.'s per-pair heatmaps (success rate, distortion of successes, hardness, mean adversarial distance), per saliency map. */
export const PAPERNOT_FIGURES: Readonly<Record<JsmaSaliency, { readonly success: string; readonly distortion: string; readonly hardness: string; readonly distance: string }>> = {
  logits: { success: 'papernot-success-logits.svg', distortion: 'papernot-distortion-logits.svg', hardness: 'papernot-hardness-logits.svg', distance: 'papernot-distance-logits.svg' },
  probabilities: {
    success: 'papernot-success-probabilities.svg', distortion: 'papernot-distortion-probabilities.svg',
    hardness: 'papernot-hardness-probabilities.svg', distance: 'papernot-distance-probabilities.svg',
  },
};

/** Papernot et al.'s other figures: success and distortion against Υ, and the samples crafted from an empty input. */
export const PAPERNOT_EXTRA_FIGURES = { curves: 'papernot-success-vs-upsilon.svg', emptyInput: 'papernot-empty-input.svg' } as const;

export interface ReproduceOptions {
  readonly quick: boolean;
  readonly out: string;
  /** Images per row; hidden flag (--n) for tests. Default: 500 with --quick, else the full test set. */
  readonly n?: number;
  readonly backend: NodeBackend;
}

const KNOWN_FLAGS = new Set(['quick', 'out', 'n', 'backend', 'json']);
export const USAGE_LINE = 'reproduce [--quick] [--out DIR (reproduction)] [--backend wasm|cpu|webgpu] [--json]';

/** Reads the flags of `probe reproduce` (unknown flags are an error: a typo must not silently run the full hour). */
export function reproduceOptions(flags: ReadonlyMap<string, string | true>): ReproduceOptions {
  for (const k of flags.keys()) if (!KNOWN_FLAGS.has(k)) throw new ProbeError('BAD_INPUT', `reproduce: unknown flag --${k}`);
  const quick = flags.get('quick');
  if (quick !== undefined && quick !== true) throw new ProbeError('BAD_INPUT', '--quick takes no value');
  const out = flags.get('out') ?? DEFAULT_OUT;
  if (out === true || out.trim() === '') throw new ProbeError('BAD_INPUT', '--out needs a directory');
  const nRaw = flags.get('n');
  let n: number | undefined;
  if (nRaw !== undefined) {
    n = Number(nRaw);
    if (nRaw === true || !Number.isInteger(n) || n < 1 || n > 10000) throw new ProbeError('BAD_INPUT', '--n must be an integer in [1, 10000]');
  }
  const backend = flags.get('backend') ?? 'wasm';
  if (backend === true || !(NODE_BACKENDS as readonly string[]).includes(backend)) throw new ProbeError('BAD_INPUT', `--backend must be one of ${NODE_BACKENDS.join(', ')}`);
  return { quick: quick === true, out, n, backend: backend as NodeBackend };
}

/** Reads and validates src/core/metrics/paper-numbers.json. */
export function loadPaperData(file = PAPER_NUMBERS_FILE): PaperData {
  return parsePaperData(JSON.parse(readFileSync(file, 'utf8')) as unknown);
}

/** Sizes of one run. */
export interface Plan {
  /** MNIST test images per row (10,000 in the full run). */
  readonly n: number;
  /** 3-vs-7 test images for the logistic regression (2,038 in the full run). */
  readonly nLr: number;
  readonly curveEps: readonly number[];
  readonly sweepMax: number;
  readonly sweepPoints: number;
  /** Images for the supplementary BIM check (iterative: 40× the cost of FGSM). */
  readonly bimN: number;
  /** MNIST training images for the training errors of Szegedy et al.'s table 1 (60,000 in the full run). */
  readonly trainN: number;
  /** MNIST test images attacked with L-BFGS (random targets) per model of Szegedy et al.'s tables 1–2. */
  readonly szegedyN: number;
  /**
   * Source images per set of Papernot et al.'s table (each attacked towards its 9 other classes, when correctly classified;
   * 150 per set in the full run: about 45 runs per pair for the hardness matrix; ~0.9 s per source for both saliency maps on wasm, 2 cores).
   */
  readonly papernotN: number;
  readonly papernotSets: readonly PapernotSet[];
  /** Test images per class attacked with each Kos et al. attack (each towards its 9 other classes). */
  readonly kosK: number;
}

export function planFor(opts: Pick<ReproduceOptions, 'quick' | 'n'>, mnistN: number, lrN: number, trainN = 60000): Plan {
  const base = opts.n ?? (opts.quick ? 500 : Infinity);
  return {
    n: Math.min(base, mnistN),
    nLr: Math.min(base, lrN),
    curveEps: opts.quick ? linspace(0, 0.3, 7) : linspace(0, 0.3, 13),
    sweepMax: 15,
    sweepPoints: opts.quick ? 121 : 301,
    bimN: Math.min(base, opts.quick ? 100 : 1000, mnistN),
    trainN: Math.min(base, trainN),
    szegedyN: Math.min(base, opts.quick ? 20 : 100, mnistN),
    papernotN: Math.min(base, opts.quick ? 10 : 150, mnistN),
    papernotSets: opts.quick ? ['test'] : PAPERNOT_SETS,
    kosK: opts.quick ? 2 : 10,
  };
}

/** One measured number, beside the published one when the paper has it. */
export interface ResultRow {
  readonly table: 'fgsm' | 'advtrain' | 'ensemble' | 'beyond' | 'szegedy-t1' | 'szegedy-t2' | 'papernot' | 'kos' | 'bradshaw-clean' | 'bradshaw-cw' | 'bradshaw-transfer';
  readonly model: string;
  readonly quantity: string;
  /** A fraction when unit is '%'. */
  readonly measured: number;
  readonly unit: '%' | '';
  /** Items the measured number averages over. */
  readonly count: number;
  readonly paper?: { readonly id: string; readonly value: number; readonly text: string; readonly section: string };
  readonly comparison?: Comparison;
  /** Why they differ (shown when they do), or a remark. */
  readonly note?: string;
}

/** One qualitative claim of a paper and what this run measured about it. */
export interface ClaimRow {
  readonly id: string;
  readonly claim: string;
  readonly section: string;
  readonly figure?: string;
  readonly measured: string;
  readonly verdict: 'reproduced' | 'partly' | 'not reproduced';
}

export interface Machine {
  readonly os: string;
  readonly cpus: string;
  readonly memoryGiB: number;
  readonly node: string;
  readonly tfjs: string;
  readonly backend: string;
}

export interface ReproduceResult {
  readonly generatedAt: string;
  readonly mode: 'quick' | 'full';
  readonly command: string;
  readonly plan: Plan;
  readonly machine: Machine;
  readonly runtimeSeconds: number;
  readonly sectionSeconds: Readonly<Record<string, number>>;
  readonly rows: readonly ResultRow[];
  readonly claims: readonly ClaimRow[];
  readonly curves: Readonly<Record<string, readonly EpsPoint[]>>;
  readonly sweep: { readonly model: string; readonly testIndex: number; readonly label: number; readonly eps: readonly number[]; readonly logits: readonly (readonly number[])[] };
  readonly lr: { readonly b: number; readonly epsL1: number; readonly medianMargin: number; readonly signAgreement: number; readonly changedPixels: number };
  readonly szegedy: SzegedyResult;
  readonly papernot: PapernotResult;
  readonly kos: KosResult;
  readonly bradshaw: BradshawResult;
  readonly files: readonly string[];
}

/** Papernot et al.'s table and per-pair matrices as measured here, per saliency map. */
export interface PapernotResult {
  readonly model: string;
  readonly theta: number;
  readonly maxDistortion: number;
  /** The Υ grid of the hardness estimate (increasing, the last = maxDistortion) and its pixel-pair budgets ⌊784·Υ/2⌋. */
  readonly upsilons: readonly number[];
  readonly budgets: readonly number[];
  /** Correctly classified sources of all sets (A(X, t) is measured on each towards its 9 other classes). */
  readonly distanceSources: number;
  /** JSMA (Υ = maxDistortion, θ = +1) from the all-zero image towards every class. */
  readonly emptyInput: {
    /** The class the model gives the all-zero image (reached with no change). */
    readonly blankClass: number;
    readonly variants: readonly {
      readonly saliency: JsmaSaliency;
      readonly samples: readonly {
        readonly target: number;
        readonly predicted: number;
        readonly distortion: number;
        /** Indices of the pixels turned on (the image is 1 there, 0 elsewhere). */
        readonly pixels: readonly number[];
      }[];
    }[];
  };
  readonly variants: readonly {
    readonly saliency: JsmaSaliency;
    readonly sets: readonly {
      readonly set: PapernotSet;
      readonly split: 'train' | 'test';
      /** First index of the sources in their split; `sources` images from there. */
      readonly start: number;
      readonly sources: number;
      /** Sources the model classifies correctly (the ones attacked, each towards its 9 other classes). */
      readonly correct: number;
      readonly summary: PapernotSummary;
      readonly seconds: number;
    }[];
    /** All sets together. */
    readonly total: PapernotSummary;
    readonly pairs: PairMatrices;
    /** All sets together at each Υ of the grid (the last is `total`). */
    readonly stages: readonly { readonly upsilon: number; readonly budget: number; readonly summary: PapernotSummary }[];
    /** [k][s][t]: success rate and distortion of successful samples per pair at Υ_k. */
    readonly stageSuccessRate: readonly (readonly (readonly number[])[])[];
    readonly stageDistortion: readonly (readonly (readonly number[])[])[];
    /** H(s, t) = Σ_k (τ_{k+1} − τ_k)(ε_{k+1} + ε_k)/2 (ε: distortion of successful samples; points without success left out). */
    readonly hardness: readonly (readonly number[])[];
    /** A(X, t) of this saliency map, per pair, over the correctly classified sources of all sets. */
    readonly distance: {
      readonly runs: number;
      readonly mean: readonly (readonly number[])[];
      readonly count: readonly (readonly number[])[];
      /** R(F) = min over (X, t) of A(X, t), and where. */
      readonly robustness: number;
      readonly robustnessAt?: DistanceRun;
      /** Mean A over the runs JSMA (Υ = maxDistortion) completes, and over those it does not. */
      readonly meanSuccessful: number;
      readonly meanFailed: number;
      /** Pearson correlation over the off-diagonal pairs of the mean A with H, and with the success rate. */
      readonly corrHardness: number;
      readonly corrSuccess: number;
    };
  }[];
}

/** Kos et al.'s success rates on mnist-vae + mnist-vae-clf as measured here, per attack. */
export interface KosResult {
  readonly vae: string;
  readonly classifier: string;
  readonly k: number;
  /** Test-set indices of the sources (the first k of each class). */
  readonly sources: readonly number[];
  readonly attacks: readonly {
    readonly id: KosAttackId;
    readonly params: ParamValues;
    readonly runs: number;
    readonly meanAsTarget: number;
    readonly meanAsIgnoreTarget: number;
    readonly meanL2: number;
    /** [source class][target class]; the diagonal 0 with count 0. */
    readonly asTarget: readonly (readonly number[])[];
    readonly asIgnoreTarget: readonly (readonly number[])[];
    readonly counts: readonly (readonly number[])[];
    readonly seconds: number;
  }[];
}

/** Szegedy et al. tables 1–2 as measured here. */
export interface SzegedyResult {
  /** Seed of the random targets (and, + 1 + k, of the k-th noise row). */
  readonly seed: number;
  readonly models: readonly {
    readonly id: string;
    readonly paperName: string;
    readonly trainError: number;
    readonly trainN: number;
    readonly testError: number;
    readonly testN: number;
    /** Test images attacked, and how many L-BFGS moved to their target. */
    readonly attacked: number;
    readonly succeeded: number;
    /** Mean and sample sd of √(Σ(x′−x)²/n) over the successful adversarial examples. */
    readonly meanDistortion: number;
    readonly sdDistortion: number;
  }[];
  /** transfer[s][t]: error of model t on the adversarial examples crafted on model s (rows: source, columns: evaluated, as in the paper). */
  readonly transfer: readonly (readonly number[])[];
  readonly noise: readonly { readonly stddev: number; readonly n: number; readonly meanDistortion: number; readonly error: readonly number[] }[];
}

const PAPER_TEST_N = { mnist: 10000, lr: 2038 };

function machineInfo(backend: string): Machine {
  const c = cpus();
  return {
    os: `${osType()} ${release()} ${arch()}`,
    cpus: `${c.length} × ${c[0]?.model.trim() ?? 'unknown'}`,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    tfjs: tf.version.tfjs,
    backend: backend === 'wasm' ? 'wasm (single-threaded, SIMD kernels patched)' : backend,
  };
}

/** A targeted attack on n 28×28 images (float pixels) towards `targets`; the adversarials, read back. */
async function targetedAdversarials(
  spec: ClassifierAttackSpec, model: Classifier, x: Float32Array, n: number, targets: Int32Array | number[], params: ParamValues,
): Promise<Float32Array> {
  const xT = tf.tensor4d(x, [n, 28, 28, 1]);
  const tT = tf.tensor1d(Int32Array.from(targets), 'int32');
  try {
    const r = await spec.run(model, xT, { params, y: tT, targeted: true });
    try {
      return (await r.adv.data()) as Float32Array;
    } finally {
      r.adv.dispose();
    }
  } finally {
    tf.dispose([xT, tT]);
  }
}

function classifierAttack(id: string): ClassifierAttackSpec {
  const a = getAttack(id);
  if (!a || a.model !== 'classifier') throw new ProbeError('BAD_INPUT', `no classifier attack "${id}"`);
  return a;
}

/** Formats a fraction as a percentage with one decimal (two below 10% and just under 100%, so 0.9996 is not shown as 100.0%). */
export function pct(v: number): string {
  if (!Number.isFinite(v)) return '—';
  return `${(100 * v).toFixed(Math.abs(v) < 0.1 || (v >= 0.995 && v < 1) ? 2 : 1)}%`;
}

const pp = (d: number): string => `${d >= 0 ? '+' : '−'}${Math.abs(100 * d).toFixed(Math.abs(d) < 0.1 ? 2 : 1)} pp`;

/** Reasons for a difference, by its direction (measured higher or lower than the paper). */
interface Reasons {
  readonly higher?: string;
  readonly lower?: string;
}

function compared(
  data: PaperData, table: ResultRow['table'], paperId: string, model: string, quantity: string,
  measured: number, count: number, paperCount: number, reasons: Reasons = {},
): ResultRow {
  const p: PaperNumber = paperNumber(data, paperId);
  const paper = asFraction(p);
  const comparison = compareRates(measured, paper, count, paperCount);
  const note = comparison.agrees ? undefined : ((comparison.difference > 0 ? reasons.higher : reasons.lower) ?? 'not investigated yet');
  return {
    table, model, quantity, measured, unit: '%', count, comparison, note,
    paper: { id: p.id, value: paper, text: formatPaperNumber(p), section: p.source.section },
  };
}

/** A grey PNG data URI of a 28×28 image: values mapped linearly from [lo, hi] to black..white, upscaled `scale`× (nearest). */
export function greyDataUri(values: ArrayLike<number>, lo: number, hi: number, scale = 3, side = 28): string {
  const W = side * scale;
  const data = new Uint8Array(W * W * 4);
  for (let y = 0; y < W; y++) {
    for (let x = 0; x < W; x++) {
      const v = values[Math.floor(y / scale) * side + Math.floor(x / scale)];
      const g = Math.round(255 * Math.min(1, Math.max(0, (v - lo) / (hi - lo || 1))));
      const p = (y * W + x) * 4;
      data[p] = g; data[p + 1] = g; data[p + 2] = g; data[p + 3] = 255;
    }
  }
  return `data:image/png;base64,${encodePng({ width: W, height: W, data }).toString('base64')}`;
}

/** One member of a shipped ensemble (layer `m<k>_logits` of mnist-ensemble-5) as a Classifier of its own. */
async function ensembleMember(id: string, k: number): Promise<{ member: Classifier; dispose: () => void }> {
  registerMaxout();
  const full = await loadLayersModelFromDir(join(MODELS_DIR, id));
  const sub = tf.model({ inputs: full.inputs, outputs: full.getLayer(`m${k}_logits`).output as tf.SymbolicTensor });
  const entry = catalogEntry(id);
  const member = classifierFromLayersModel(sub, { id: `${id}[m${k}]`, classNames: classNamesFor(entry?.dataset ?? 'mnist'), output: 'logits' });
  return { member, dispose: () => full.dispose() };
}

async function withModel<T>(id: string, f: (m: Classifier) => Promise<T>): Promise<T> {
  const m = await loadShippedClassifier(id);
  try {
    return await f(m);
  } finally {
    m.dispose();
  }
}

const field = (o: unknown, ...path: string[]): unknown => path.reduce<unknown>((v, k) => (typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[k] : undefined), o);
const shown = (v: unknown): string => (v === undefined || v === null ? 'none' : typeof v === 'object' ? JSON.stringify(v) : String(v));

/** What the model cards say about how a model was trained, for the reason lines (facts, not measurements). */
export function trainingFacts(cards: Readonly<Record<string, ModelCard>>): Record<string, string> {
  const recipe = (id: string): string => {
    const c = cards[id];
    return `training recipe differs from the paper's (ours: ${shown(c.optimizer)}, ${shown(c.epochs)} epochs; models/${id}/card.json)`;
  };
  const adv = cards['mnist-maxout-adv'];
  const phases = field(adv, 'phases');
  const fineTune = Array.isArray(phases) && phases.length > 1 ? phases[phases.length - 1] : undefined;
  // A clean phase that widened the net before the adversarial one, and the adversarial phase's augmentation.
  const widenedBy = Array.isArray(phases) ? phases.slice(0, -1).find((p) => field(p, 'widened') != null) : undefined;
  const shiftPx = field(adv, 'augmentation', 'maxPixels');
  const ens = cards['mnist-ensemble-5'];
  const members = field(ens, 'members');
  return {
    softmaxRecipe: recipe('mnist-softmax'),
    softmaxDecay: field(cards['mnist-softmax'], 'weightDecay') == null
      ? 'our softmax is trained without weight decay (models/mnist-softmax/card.json), the paper does not state its regularisation'
      : recipe('mnist-softmax'),
    maxoutRecipe: recipe('mnist-maxout'),
    lrDecay: field(cards['mnist-lr-3v7'], 'weightDecay') == null ? 'unregularised' : `weight decay ${shown(field(cards['mnist-lr-3v7'], 'weightDecay'))}`,
    adv: `${fineTune ? `fine-tuned from mnist-maxout${widenedBy != null ? ` (widened to ${shown(field(adv, 'maxout', 'units'))} units per layer, then ${shown(field(widenedBy, 'epochs'))} clean epochs)` : ''} `
      + `for ${shown(field(fineTune, 'epochs'))} epochs` : 'trained'}${shiftPx != null ? ` on training images shifted by up to ${shown(shiftPx)} px` : ''} `
      + `with α = ${shown(field(adv, 'adversarialTraining', 'alpha'))}, ε = ${shown(field(adv, 'adversarialTraining', 'eps'))}, `
      + `early-stopped on ${shown(field(adv, 'validation', 'criterion'))} (models/mnist-maxout-adv/card.json)`,
    ensemble: `ours has ${Array.isArray(members) ? members.length : '?'} members of ${shown(field(ens, 'maxout', 'units'))}×${shown(field(ens, 'maxout', 'pieces'))} maxout units trained ${shown(ens.epochs)} epochs each (models/mnist-ensemble-5/card.json)`,
  };
}

/** ε at which a rising curve first reaches `level` (linear interpolation), or undefined. */
export function crossing(points: readonly { eps: number; adversarialError: number }[], level: number): number | undefined {
  for (let i = 1; i < points.length; i++) {
    const a = points[i - 1];
    const b = points[i];
    if (a.adversarialError < level && b.adversarialError >= level) {
      return a.eps + ((level - a.adversarialError) / (b.adversarialError - a.adversarialError)) * (b.eps - a.eps);
    }
  }
  return points.length > 0 && points[0].adversarialError >= level ? points[0].eps : undefined;
}

const at25 = (curve: readonly EpsPoint[]): EpsPoint => {
  const p = curve.find((q) => Math.abs(q.eps - 0.25) < 1e-9);
  if (!p) throw new Error('the ε grid must contain 0.25');
  return p;
};

/** Runs the reproduction and writes the report, the JSON results and the figures to opts.out. */
export async function runReproduce(opts: ReproduceOptions, log: (line: string) => void = () => {}): Promise<ReproduceResult> {
  const t0 = performance.now();
  const data = loadPaperData();
  const backend = await useNodeBackend(opts.backend);
  const mnist = datasetSplit('mnist', 'test');
  const threeSeven = datasetSplit('mnist-3v7', 'test');
  const mnistTrain = datasetSplit('mnist', 'train');
  const plan = planFor(opts, mnist.n, threeSeven.n, mnistTrain.n);
  const fgsmSpec = classifierAttack('fgsm');
  const bimSpec = classifierAttack('bim');
  const fgsm25 = resolveParams(fgsmSpec, { eps: 0.25 });
  const sectionSeconds: Record<string, number> = {};
  const timed = async <T>(name: string, f: () => Promise<T>): Promise<T> => {
    const s = performance.now();
    log(`${name} …`);
    const r = await f();
    sectionSeconds[name] = (performance.now() - s) / 1000;
    log(`${name}: ${sectionSeconds[name].toFixed(1)} s`);
    return r;
  };
  const rows: ResultRow[] = [];
  const claims: ClaimRow[] = [];

  // 1 + 3a. FGSM error vs ε for softmax, maxout and adversarially trained maxout (ε = 0.25 is a grid point).
  const curveModels = ['mnist-softmax', 'mnist-maxout', 'mnist-maxout-adv'] as const;
  const curves: Record<string, EpsPoint[]> = {};
  for (const id of curveModels) {
    curves[id] = await timed(`FGSM error vs ε: ${id}`, () => withModel(id, (m) => errorVsEps(m, fgsmSpec, fgsm25, mnist, plan.curveEps, { n: plan.n })));
  }
  const soft = at25(curves['mnist-softmax']);
  const maxout = at25(curves['mnist-maxout']);
  const maxoutAdv = at25(curves['mnist-maxout-adv']);

  // Logistic regression on 3s and 7s: FGSM error, weights, sign agreement, margins.
  const lr = await timed('logistic regression 3 vs 7', () => withModel('mnist-lr-3v7', async (m) => {
    const err = await adversarialError(m, fgsmSpec, fgsm25, threeSeven, { n: plan.nLr });
    const { w, b } = await linearWeights(m);
    let l1 = 0;
    for (const v of w) l1 += Math.abs(v);
    const margins: number[] = [];
    for (let i = 0; i < plan.nLr; i++) {
      let z = b;
      for (let j = 0; j < 784; j++) z += w[j] * threeSeven.images[i * 784 + j];
      margins.push(Math.abs(z));
    }
    margins.sort((a, c) => a - c);
    let changed = 0;
    let agreeing = 0;
    for (let s = 0; s < plan.nLr; s += 500) {
      const e = Math.min(plan.nLr, s + 500);
      const x = threeSeven.images.slice(s * 784, e * 784);
      const xT = tf.tensor4d(x, [e - s, 28, 28, 1]);
      const yT = tf.tensor1d(Int32Array.from(threeSeven.labels.subarray(s, e)), 'int32');
      const { adv } = await fgsmSpec.run(m, xT, { params: fgsm25, y: yT });
      const a = (await adv.data()) as Float32Array;
      tf.dispose([xT, yT, adv]);
      const g = signAgreement(x, a, w, threeSeven.labels.subarray(s, e));
      changed += g.changed;
      agreeing += g.agreeing;
    }
    const examples = await lrExamples(m, threeSeven, fgsm25, fgsmSpec);
    return { err, w, b, epsL1: 0.25 * l1, medianMargin: margins[Math.floor(margins.length / 2)], changed, agreement: agreeing / Math.max(changed, 1), examples };
  }));

  // 2. Ensemble: crafted on the ensemble, and on one member (transfer to the ensemble).
  const ens = await timed('ensemble', () => withModel('mnist-ensemble-5', async (m) => {
    const own = await adversarialError(m, fgsmSpec, fgsm25, mnist, { n: plan.n });
    const { member, dispose } = await ensembleMember('mnist-ensemble-5', 0);
    try {
      const fromMember = await adversarialError(m, fgsmSpec, fgsm25, mnist, { n: plan.n, craftOn: member });
      return { own, fromMember };
    } finally {
      dispose();
    }
  }));

  // Beyond the paper: the iterative attack at the same ε on both maxout nets (is the robustness FGSM-only?).
  const bim25 = resolveParams(bimSpec, { eps: 0.25 });
  const bim: Record<string, AdversarialError> = {};
  for (const id of ['mnist-maxout', 'mnist-maxout-adv']) {
    bim[id] = await timed(`BIM check: ${id}`, () => withModel(id, (m) => adversarialError(m, bimSpec, bim25, mnist, { n: plan.bimN, batch: 100 })));
  }

  // Beyond the paper: the same FGSM on softmax models trained with weight decay (does regularisation lower the confidence?).
  const decayModels = ['mnist-fc10-1e-4', 'mnist-fc10-1e-2', 'mnist-fc10-1'] as const;
  const decay: Record<string, AdversarialError> = {};
  for (const id of decayModels) {
    decay[id] = await timed(`FGSM on ${id}`, () => withModel(id, (m) => adversarialError(m, fgsmSpec, fgsm25, mnist, { n: plan.n })));
  }

  // 3b. Fig. 4: logits of mnist-maxout along the FGSM direction of one correctly classified test 4.
  const sweepEps = linspace(-plan.sweepMax, plan.sweepMax, plan.sweepPoints);
  const sweepRes = await timed('fig. 4 sweep', () => withModel('mnist-maxout', async (m) => {
    for (let i = 0; i < mnist.n; i++) {
      if (mnist.labels[i] !== 4) continue;
      const img = mnist.images.slice(i * 784, (i + 1) * 784);
      const s = await logitSweep(m, img, 4, [0]);
      if (s.predicted[0] !== 4) continue;
      return { index: i, sweep: await logitSweep(m, img, 4, sweepEps) };
    }
    throw new Error('no correctly classified test 4');
  }));

  // Table rows.
  const cards: Record<string, ModelCard> = {};
  for (const id of ['mnist-softmax', 'mnist-maxout', 'mnist-maxout-adv', 'mnist-lr-3v7', 'mnist-ensemble-5', ...decayModels]) cards[id] = readCard(id);
  const lambda = (id: string): string => `λ = ${shown(field(cards[id], 'weightDecay'))}`;
  const softConfPaper = asFraction(paperNumber(data, 'goodfellow.fgsm.softmax.confidence'));
  const decayConf = decayModels.map((id) => decay[id].meanWrongConfidence).filter(Number.isFinite);
  const decayText = `with weight decay the mean confidence falls (${decayModels.map((id) => `${lambda(id)}: ${pct(decay[id].meanWrongConfidence)}`).join(', ')}; rows below)`
    + (decayConf.length > 1 && Math.min(...decayConf) <= softConfPaper && softConfPaper <= Math.max(...decayConf) ? ', a range that holds the paper\'s value' : '');
  const facts = trainingFacts(cards);
  // FGSM error at smaller ε above the error at 0.25: robustness tuned to the training ε (gradient masking).
  const advBelow = curves['mnist-maxout-adv'].filter((q) => q.eps > 0 && q.eps < 0.25).reduce<EpsPoint | undefined>((a, q) => (a && a.adversarialError >= q.adversarialError ? a : q), undefined);
  const advNonMonotone = advBelow !== undefined && advBelow.adversarialError > maxoutAdv.adversarialError + 0.01
    ? `; its FGSM error is higher at a smaller ε (${pct(advBelow.adversarialError)} at ε = ${advBelow.eps}), another sign of it`
    : '';
  const maxoutCross = crossing(curves['mnist-maxout'], asFraction(paperNumber(data, 'goodfellow.fgsm.maxout.error')));
  rows.push(
    compared(data, 'fgsm', 'goodfellow.fgsm.softmax.error', 'mnist-softmax', 'FGSM error', soft.adversarialError, soft.n, PAPER_TEST_N.mnist),
    compared(data, 'fgsm', 'goodfellow.fgsm.softmax.confidence', 'mnist-softmax', 'mean confidence (wrong)', soft.meanWrongConfidence, soft.wrong, PAPER_TEST_N.mnist, {
      higher: `${facts.softmaxDecay}; ${decayText}`,
      lower: facts.softmaxRecipe,
    }),
    compared(data, 'fgsm', 'goodfellow.fgsm.maxout.error', 'mnist-maxout', 'FGSM error', maxout.adversarialError, maxout.n, PAPER_TEST_N.mnist, {
      higher: `our maxout net is more FGSM-sensitive: its error reaches the paper's ${formatPaperNumber(paperNumber(data, 'goodfellow.fgsm.maxout.error'))} already at ε ≈ ${maxoutCross === undefined ? '—' : maxoutCross.toFixed(3)}; ${facts.maxoutRecipe}`,
      lower: facts.maxoutRecipe,
    }),
    compared(data, 'fgsm', 'goodfellow.fgsm.maxout.confidence', 'mnist-maxout', 'mean confidence (wrong)', maxout.meanWrongConfidence, maxout.wrong, PAPER_TEST_N.mnist, {
      higher: facts.maxoutRecipe,
      lower: facts.maxoutRecipe,
    }),
    compared(data, 'fgsm', 'goodfellow.fgsm.lr3v7.error', 'mnist-lr-3v7', 'FGSM error (3s and 7s)', lr.err.adversarialError, lr.err.n, PAPER_TEST_N.lr, {
      higher: `ε‖w‖₁ = ${lr.epsL1.toFixed(1)} dwarfs the median margin |w·x + b| = ${lr.medianMargin.toFixed(1)} of our ${facts.lrDecay} model, so (almost) no test image keeps its class`,
      lower: 'our model\'s margins are larger than ε‖w‖₁ for more test images than the paper\'s',
    }),
    { table: 'fgsm', model: 'mnist-lr-3v7', quantity: 'mean confidence (wrong)', measured: lr.err.meanWrongConfidence, unit: '%', count: lr.err.wrong, note: 'the paper gives no confidence for this model' },
  );
  const advNote = facts.adv;
  rows.push(
    compared(data, 'advtrain', 'goodfellow.advtrain.maxout.cleanError', 'mnist-maxout', 'clean error', maxout.cleanError, maxout.n, PAPER_TEST_N.mnist, {
      higher: facts.maxoutRecipe, lower: facts.maxoutRecipe,
    }),
    compared(data, 'advtrain', 'goodfellow.advtrain.maxoutAdv.cleanError', 'mnist-maxout-adv', 'clean error', maxoutAdv.cleanError, maxoutAdv.n, PAPER_TEST_N.mnist, {
      higher: maxoutAdv.cleanError >= maxout.cleanError
        ? `the paper's regularising effect (lower clean error after adversarial training) does not appear: our net is ${advNote}`
        : `our clean error is below mnist-maxout's (${pct(maxoutAdv.cleanError)} vs ${pct(maxout.cleanError)}), the paper's direction, but our net differs from mnist-maxout by more than the objective: it is ${advNote}`,
      lower: advNote,
    }),
    compared(data, 'advtrain', 'goodfellow.advtrain.maxout.advError', 'mnist-maxout', 'FGSM error', maxout.adversarialError, maxout.n, PAPER_TEST_N.mnist, {
      higher: 'see the FGSM table: our maxout net is more FGSM-sensitive than the paper\'s', lower: facts.maxoutRecipe,
    }),
    compared(data, 'advtrain', 'goodfellow.advtrain.maxout.advConfidence', 'mnist-maxout', 'mean confidence (wrong)', maxout.meanWrongConfidence, maxout.wrong, PAPER_TEST_N.mnist, {
      higher: facts.maxoutRecipe, lower: facts.maxoutRecipe,
    }),
    compared(data, 'advtrain', 'goodfellow.advtrain.maxoutAdv.advError', 'mnist-maxout-adv', 'FGSM error', maxoutAdv.adversarialError, maxoutAdv.n, PAPER_TEST_N.mnist, {
      lower: `our net resists FGSM far better than the paper's, but not the iterative BIM at the same ε (${pct(bim['mnist-maxout-adv'].adversarialError)} error, below): single-step adversarial training mostly masks the FGSM gradient${advNonMonotone}; ${advNote}`,
      higher: advNote,
    }),
    compared(data, 'advtrain', 'goodfellow.advtrain.maxoutAdv.advConfidence', 'mnist-maxout-adv', 'mean confidence (wrong)', maxoutAdv.meanWrongConfidence, maxoutAdv.wrong, PAPER_TEST_N.mnist, {
      lower: `our net misclassifies far fewer FGSM images (${maxoutAdv.wrong.toLocaleString('en-US')} of ${maxoutAdv.n.toLocaleString('en-US')}), so this mean is over a different, smaller set than the paper's; ${advNote}`,
      higher: advNote,
    }),
  );
  const members = paperNumber(data, 'goodfellow.ensemble.members');
  const ensNote = `${facts.ensemble}; the paper's had ${formatPaperNumber(members)}`;
  rows.push(
    compared(data, 'ensemble', 'goodfellow.ensemble.error', 'mnist-ensemble-5', 'FGSM error, crafted on the ensemble', ens.own.adversarialError, ens.own.n, PAPER_TEST_N.mnist, {
      higher: `${ensNote}; like our single maxout net, our members are more FGSM-sensitive than the paper's`, lower: ensNote,
    }),
    compared(data, 'ensemble', 'goodfellow.ensemble.memberError', 'mnist-ensemble-5', 'FGSM error, crafted on member 0', ens.fromMember.adversarialError, ens.fromMember.n, PAPER_TEST_N.mnist, {
      higher: `${ensNote}; our members share data and recipe (only the seed differs), so a member's examples transfer well`, lower: ensNote,
    }),
    { table: 'ensemble', model: 'mnist-ensemble-5', quantity: 'mean confidence (wrong), crafted on the ensemble', measured: ens.own.meanWrongConfidence, unit: '%', count: ens.own.wrong, note: 'the paper gives no confidence for the ensemble' },
  );
  for (const id of decayModels) {
    const r = decay[id];
    rows.push(
      { table: 'beyond', model: id, quantity: `FGSM error (softmax, weight decay ${lambda(id)})`, measured: r.adversarialError, unit: '%', count: r.n, note: 'not in the paper (a Szegedy et al. model)' },
      { table: 'beyond', model: id, quantity: 'mean confidence (wrong)', measured: r.meanWrongConfidence, unit: '%', count: r.wrong, note: 'not in the paper: does weight decay explain the softmax confidence gap?' },
    );
  }
  for (const id of ['mnist-maxout', 'mnist-maxout-adv']) {
    const r = bim[id];
    rows.push({ table: 'beyond', model: id, quantity: 'BIM error (ε = 0.25, step 0.01, 40 steps)', measured: r.adversarialError, unit: '%', count: r.n, note: `not in the paper; mean confidence (wrong) ${pct(r.meanWrongConfidence)}` });
  }

  // Claims of fig. 4 and of the logistic-regression figure.
  const sw = sweepRes.sweep;
  const regions = classRegions(sw, 4);
  const step = sw.eps[1] - sw.eps[0];
  const correctWidth = regions.reduce((a, [lo, hi]) => a + (hi - lo + step), 0);
  const straight = 1 - kinkFraction(sw);
  const extreme = (i: number): number => {
    const row = sw.logits[i];
    const mx = Math.max(...row);
    const z = row.reduce((a, v) => a + Math.exp(v - mx), 0);
    return 1 / z;
  };
  const firstWrongPositive = sw.eps.find((e, i) => e > 0 && sw.predicted[i] !== 4);
  const wrongPositiveStable = firstWrongPositive !== undefined && sw.eps.every((e, i) => e < firstWrongPositive || sw.predicted[i] !== 4);
  const negativeCorrect = sw.eps.filter((e, i) => e < 0 && sw.predicted[i] === 4).length / Math.max(1, sw.eps.filter((e) => e < 0).length);
  const claim = (id: string, measured: string, verdict: ClaimRow['verdict']): ClaimRow => {
    const c: PaperClaim = paperClaim(data, id);
    return { id, claim: c.claim, section: c.source.section, figure: c.source.figure, measured, verdict };
  };
  claims.push(
    claim('goodfellow.fig4.piecewiseLinear',
      `${pct(straight)} of the interior sweep points lie on straight segments of all 10 logits (second difference ≤ 0.1% of the logit range); ${predictionChanges(sw.predicted)} changes of the predicted class over ε ∈ [−${plan.sweepMax}, ${plan.sweepMax}]`,
      straight >= 0.8 ? 'reproduced' : straight >= 0.5 ? 'partly' : 'not reproduced'),
    claim('goodfellow.fig4.thinManifold',
      `class 4 is predicted on ${regions.map(([a, b]) => `[${a.toFixed(2)}, ${b.toFixed(2)}]`).join(', ') || 'no ε'} (${pct(correctWidth / (2 * plan.sweepMax))} of the range); `
      + `along +sign(∇ₓJ) the prediction is wrong from ε = ${firstWrongPositive?.toFixed(2) ?? '—'} ${wrongPositiveStable ? 'to the end of the range' : 'but not throughout'}; along −sign(∇ₓJ) it stays correct on ${pct(negativeCorrect)} of the points`,
      wrongPositiveStable && negativeCorrect < 0.5 ? 'reproduced' : wrongPositiveStable ? 'partly' : 'not reproduced'),
    claim('goodfellow.fig4.rubbish',
      `top softmax probability ${pct(extreme(0))} at ε = −${plan.sweepMax} and ${pct(extreme(sw.eps.length - 1))} at ε = +${plan.sweepMax} (class ${sw.predicted[0]} and ${sw.predicted[sw.eps.length - 1]})`,
      Math.min(extreme(0), extreme(sw.eps.length - 1)) > 0.99 ? 'reproduced' : 'partly'),
    claim('goodfellow.lr.signIsOptimal',
      `${pct(lr.agreement)} of the ${lr.changed.toLocaleString('en-US')} pixels FGSM changes on ${plan.nLr.toLocaleString('en-US')} test images move by ±ε·sign(w) (+ for 3s, − for 7s), as the figure shows`,
      lr.agreement > 0.999 ? 'reproduced' : 'not reproduced'),
  );

  // Szegedy et al. tables 1 and 2.
  const szegedy = await timed('Szegedy et al. tables 1-2', () => szegedyTables(plan, mnistTrain, mnist, log));
  szegedyRows(data, szegedy, plan, rows, claims);

  // Papernot et al.: JSMA success and distortion per source set, per-pair matrices, both saliency maps.
  const papernot = await timed('Papernot et al. JSMA', () => papernotTables(plan, mnistTrain, mnist, log));
  papernotRows(data, papernot, rows, claims);

  // Kos et al.: classifier and latent attacks on the VAE, every source towards its 9 other classes.
  const kosRun = await timed('Kos et al. VAE attacks', () => kosTables(plan, mnist, log));
  const kos = kosRun.result;
  kosResultRows(kos, rows);

  // Bradshaw et al.: the GPDNN and its NN twin (accuracy and LL, FGSM vs ε, CW-L2, NN ↔ GPDNN transfer, shifted test data).
  const bradshaw = await timed('Bradshaw et al. GPDNN', () => bradshawTables(bradshawPlan(opts.quick, opts.n, mnist.n, plan.curveEps), mnist, log));
  bradshawRows(data, bradshaw, rows, claims);

  // Figures.
  mkdirSync(opts.out, { recursive: true });
  const files: string[] = [];
  const put = (name: string, body: string): void => {
    writeFileSync(join(opts.out, name), body);
    files.push(name);
  };
  const paperMarks: Marker[] = [
    { id: 'goodfellow.fgsm.softmax.error', model: 'mnist-softmax', color: '#4e79a7' },
    { id: 'goodfellow.fgsm.maxout.error', model: 'mnist-maxout', color: '#f28e2b' },
    { id: 'goodfellow.advtrain.maxoutAdv.advError', model: 'mnist-maxout-adv', color: '#59a14f' },
  ].map((k) => ({ label: `paper: ${formatPaperNumber(paperNumber(data, k.id))} (${k.model})`, x: 0.25, y: 100 * asFraction(paperNumber(data, k.id)), color: k.color }));
  put(FIGURES.errorVsEps, lineChart({
    title: `FGSM error vs ε on MNIST (${plan.n.toLocaleString('en-US')} test images)`,
    xLabel: 'ε (L∞, pixels in [0, 1])', yLabel: 'error on adversarial examples (%)',
    series: curveModels.map((id, i): Series => ({ name: id, color: ['#4e79a7', '#f28e2b', '#59a14f'][i], points: curves[id].map((p) => [p.eps, 100 * p.adversarialError] as const) })),
    markers: paperMarks, xDomain: [0, 0.3], yDomain: [0, 100],
  }));
  const bands: Band[] = regions.map(([a, b]) => ({ from: a - step / 2, to: b + step / 2, label: 'predicted: 4 (correct)' }));
  put(FIGURES.fig4, lineChart({
    title: `Fig. 4: mnist-maxout logits along sign(∇ₓJ), test image ${sweepRes.index} (a 4)`,
    xLabel: 'ε (no clipping)', yLabel: 'logit (argument of the softmax)',
    series: Array.from({ length: 10 }, (_, c): Series => ({ name: `class ${c}${c === 4 ? ' (correct)' : ''}`, points: sw.eps.map((e, i) => [e, sw.logits[i][c]] as const) })),
    bands, height: 440,
  }));
  // Grey scale to the 99th percentile of |w| (a few large weights would otherwise wash the picture out).
  const absW = Array.from(lr.w, Math.abs).sort((a, c) => a - c);
  const wMax = absW[Math.floor(0.99 * (absW.length - 1))] || 1;
  put(FIGURES.lrWeights, imageGrid({
    title: 'Logistic regression, 3 vs 7 (mnist-lr-3v7): weights, their sign, and FGSM ε = 0.25',
    cell: 84,
    rows: [
      { title: '(a) weights w (black ≤ −q, white ≥ +q, q = 99th percentile of |w|) and (b) sign(w), the optimal perturbation', images: [
        { href: greyDataUri(lr.w, -wMax, wMax), caption: '(a) w' },
        { href: greyDataUri(Array.from(lr.w, Math.sign), -1, 1), caption: '(b) sign(w)' },
      ] },
      { title: '(c) test 3s and 7s, with the model\'s prediction', images: lr.examples.map((e) => ({ href: greyDataUri(e.x, 0, 1), caption: `${e.label} → ${e.clean}`, frame: e.clean !== e.label ? '#e15759' : undefined })) },
      { title: '(d) FGSM ε = 0.25 (red frame: misclassified)', images: lr.examples.map((e) => ({ href: greyDataUri(e.adv, 0, 1), caption: `${e.label} → ${e.adversarial}`, frame: e.adversarial !== e.label ? '#e15759' : undefined })) },
    ],
  }));

  papernotFigures(papernot, put);
  kosFigures(kos, kosRun.examples, put);
  bradshawFigures(bradshaw, put);

  const runtimeSeconds = (performance.now() - t0) / 1000;
  const result: ReproduceResult = {
    generatedAt: new Date().toISOString(),
    mode: opts.quick ? 'quick' : 'full',
    command: `npm run probe -- reproduce${opts.quick ? ' --quick' : ''}${opts.out !== DEFAULT_OUT ? ` --out ${opts.out}` : ''}${opts.n !== undefined ? ` --n ${opts.n}` : ''}${opts.backend !== 'wasm' ? ` --backend ${opts.backend}` : ''}`,
    plan, machine: machineInfo(backend), runtimeSeconds, sectionSeconds, rows, claims, curves,
    sweep: { model: 'mnist-maxout', testIndex: sweepRes.index, label: 4, eps: sw.eps, logits: sw.logits },
    lr: { b: lr.b, epsL1: lr.epsL1, medianMargin: lr.medianMargin, signAgreement: lr.agreement, changedPixels: lr.changed },
    szegedy,
    papernot,
    kos,
    bradshaw,
    files: [REPORT_FILE, RESULTS_FILE, POPUP_MATRICES_FILE, ...files],
  };
  writeFileSync(join(opts.out, RESULTS_FILE), `${JSON.stringify(result, null, 1)}\n`);
  writeFileSync(join(opts.out, POPUP_MATRICES_FILE), `${JSON.stringify(papernotPopupMatrices(papernot, result.command, result.generatedAt), null, 1)}\n`);
  writeFileSync(join(opts.out, REPORT_FILE), renderReport(result, data));
  return result;
}

/** Seed of the random L-BFGS targets of Szegedy et al.'s tables (the noise rows use seed + 1 + k). */
export const SZEGEDY_SEED = 2014;

/** Predicted classes of the first n images of a flat batch, in batches. */
async function predictAll(m: Classifier, images: Float32Array, n: number, batch = 1000): Promise<Int32Array> {
  const out = new Int32Array(n);
  for (let s = 0; s < n; s += batch) {
    const k = Math.min(batch, n - s);
    const p = tf.tidy(() => tf.argMax(m.logits(tf.tensor4d(images.subarray(s * 784, (s + k) * 784), [k, 28, 28, 1])), 1));
    out.set(await p.data() as Int32Array, s);
    p.dispose();
  }
  return out;
}

/** Tables 1 and 2 of Szegedy et al. on our six models: errors, L-BFGS minimum distortions, transfer and noise rows. */
async function szegedyTables(plan: Plan, train: Dataset, test: Dataset, log: (line: string) => void): Promise<SzegedyResult> {
  const spec = classifierAttack('lbfgs');
  const params = resolveParams(spec, {});
  const N = plan.szegedyN;
  const x = test.images.slice(0, N * 784);
  const labels = test.labels.slice(0, N);
  const targets = randomTargets(labels, 10, SZEGEDY_SEED);
  const models: Classifier[] = [];
  try {
    for (const { id } of SZEGEDY_MODELS) models.push(await loadShippedClassifier(id));
    const rowsOut: SzegedyResult['models'][number][] = [];
    /** Successful adversarial examples per source model and their true labels. */
    const advs: { x: Float32Array; labels: Uint8Array }[] = [];
    for (let k = 0; k < models.length; k++) {
      const m = models[k];
      const s0 = performance.now();
      const trainPred = await predictAll(m, train.images, plan.trainN);
      const testPred = await predictAll(m, test.images, plan.n);
      const adv = await targetedAdversarials(spec, m, x, N, targets, params);
      const advPred = await predictAll(m, adv, N);
      const ok: number[] = [];
      for (let i = 0; i < N; i++) if (advPred[i] === targets[i]) ok.push(i);
      const okX = new Float32Array(ok.length * 784);
      ok.forEach((i, j) => okX.set(adv.subarray(i * 784, (i + 1) * 784), j * 784));
      const okOrig = new Float32Array(ok.length * 784);
      ok.forEach((i, j) => okOrig.set(x.subarray(i * 784, (i + 1) * 784), j * 784));
      const d = ok.length > 0 ? rmsDistortion(okOrig, okX, 784) : [];
      advs.push({ x: okX, labels: Uint8Array.from(ok.map((i) => labels[i])) });
      rowsOut.push({
        id: SZEGEDY_MODELS[k].id, paperName: SZEGEDY_MODELS[k].paperName,
        trainError: errorRate(trainPred, train.labels.subarray(0, plan.trainN)), trainN: plan.trainN,
        testError: errorRate(testPred, test.labels.subarray(0, plan.n)), testN: plan.n,
        attacked: N, succeeded: ok.length, meanDistortion: mean(d), sdDistortion: sampleSd(d),
      });
      log(`  ${SZEGEDY_MODELS[k].id}: L-BFGS ${ok.length}/${N}, mean distortion ${mean(d).toFixed(4)} (${((performance.now() - s0) / 1000).toFixed(1)} s)`);
    }
    const transfer: number[][] = [];
    for (const a of advs) {
      const row: number[] = [];
      for (const m of models) row.push(a.labels.length > 0 ? errorRate(await predictAll(m, a.x, a.labels.length), a.labels) : Number.NaN);
      transfer.push(row);
    }
    const clean = test.images.subarray(0, plan.n * 784);
    const noise: SzegedyResult['noise'][number][] = [];
    for (let k = 0; k < NOISE_STDDEVS.length; k++) {
      const noisy = gaussianNoise(clean, NOISE_STDDEVS[k], SZEGEDY_SEED + 1 + k);
      const error: number[] = [];
      for (const m of models) error.push(errorRate(await predictAll(m, noisy, plan.n), test.labels.subarray(0, plan.n)));
      noise.push({ stddev: NOISE_STDDEVS[k], n: plan.n, meanDistortion: mean(rmsDistortion(clean, noisy, 784)), error });
    }
    return { seed: SZEGEDY_SEED, models: rowsOut, transfer, noise };
  } finally {
    for (const m of models) m.dispose();
  }
}

/** The rows (measured beside published) and the claim of Szegedy et al.'s tables. */
function szegedyRows(data: PaperData, r: SzegedyResult, plan: Plan, rows: ResultRow[], claims: ClaimRow[]): void {
  const cards = Object.fromEntries(SZEGEDY_MODELS.map(({ id }) => [id, readCard(id)]));
  const recipe = (id: string): string => {
    const c = cards[id];
    return `training differs: ours ${shown(c.optimizer)}, ${shown(c.epochs)} epochs, weight decay ${shown(c.weightDecay)} (models/${id}/card.json); papers.md gives only λ, not how it scales the loss nor the schedule`;
  };
  SZEGEDY_MODELS.forEach(({ id, key }, k) => {
    const m = r.models[k];
    rows.push(
      compared(data, 'szegedy-t1', `szegedy.t1.${key}.trainError`, id, 'training error', m.trainError, m.trainN, 60000, { higher: recipe(id), lower: recipe(id) }),
      compared(data, 'szegedy-t1', `szegedy.t1.${key}.testError`, id, 'test error', m.testError, m.testN, PAPER_TEST_N.mnist, { higher: recipe(id), lower: recipe(id) }),
    );
    const p = paperNumber(data, `szegedy.t1.${key}.distortion`);
    const comparison = compareMeans(m.meanDistortion, p.value, m.sdDistortion, m.succeeded);
    rows.push({
      table: 'szegedy-t1', model: id, quantity: `mean min. distortion √(Σ(x′−x)²/n), L-BFGS, ${m.succeeded}/${m.attacked} targets reached`,
      measured: m.meanDistortion, unit: '', count: m.succeeded, comparison,
      note: comparison.agrees ? undefined : comparison.difference > 0
        ? `our model needs a larger change (${recipe(id)}); L-BFGS with registry defaults (10 constants, ≤ 100 iterations) may also stop above the minimum`
        : `our model is easier to move (${recipe(id)}); the paper's distortions may be over its training images ("wrt. original training set"), ours over test images`,
      paper: { id: p.id, value: p.value, text: formatPaperNumber(p), section: p.source.section },
    });
  });
  const transferReason: Reasons = {
    higher: 'hypothesis: our six models, all trained with Adam from seed 1 on the same data order (models/*/card.json), are more alike than the paper\'s; the paper crafted from training images, we from test images',
    lower: 'hypothesis: our models differ more from the source than the paper\'s (recipes in models/*/card.json), or our L-BFGS examples sit closer to the source\'s boundary; the paper crafted from training images, we from test images',
  };
  SZEGEDY_MODELS.forEach((src, s) => {
    SZEGEDY_MODELS.forEach((dst, t) => {
      rows.push(compared(data, 'szegedy-t2', `szegedy.t2.${src.key}.${dst.key}`, dst.id, `error on adversarial examples of ${src.paperName}`,
        r.transfer[s][t], r.models[s].succeeded, PAPER_TEST_N.mnist, s === t ? {} : transferReason));
    });
  });
  r.noise.forEach((nz, k) => {
    const key = k === 0 ? 'noise01' : 'noise03';
    SZEGEDY_MODELS.forEach((dst, t) => {
      rows.push(compared(data, 'szegedy-t2', `szegedy.t2.${key}.${dst.key}`, dst.id, `error on Gaussian noise, stddev ${nz.stddev}`,
        nz.error[t], nz.n, PAPER_TEST_N.mnist, {
          higher: `includes the clean test error (${pct(r.models[t].testError)} here); our model is less noise-robust (${recipe(dst.id)})`,
          lower: `noise clipped to [0, 1] here (RMS distortion ${nz.meanDistortion.toFixed(3)} vs the paper's ${nz.stddev}); our model is more noise-robust`,
        }));
    });
  });
  // Cross-model generalisation: adversarial examples of other models vs noise of larger distortion, and vs the clean error.
  const off: number[] = [];
  r.transfer.forEach((row, s) => row.forEach((v, t) => { if (s !== t && Number.isFinite(v)) off.push(v); }));
  const offMean = mean(off);
  const cleanMean = mean(r.models.map((m) => m.testError));
  const noise3 = r.noise[r.noise.length - 1];
  const noiseMean = mean([...noise3.error]);
  const advDist = mean(r.models.map((m) => m.meanDistortion).filter(Number.isFinite));
  const c = paperClaim(data, 'szegedy.t2.crossModel');
  claims.push({
    id: c.id, claim: c.claim, section: c.source.section, figure: c.source.figure,
    measured: `mean error of a model on the other models' L-BFGS examples ${pct(offMean)} (mean distortion ${advDist.toFixed(3)}; ${plan.szegedyN} test images per source), `
      + `mean clean test error ${pct(cleanMean)}, mean error on Gaussian noise σ = ${noise3.stddev} ${pct(noiseMean)} (distortion ${noise3.meanDistortion.toFixed(3)})`,
    verdict: offMean > cleanMean && offMean > noiseMean ? 'reproduced' : offMean > cleanMean ? 'partly' : 'not reproduced',
  });
}

interface LrExample {
  readonly x: Float32Array;
  readonly adv: Float32Array;
  /** Digits as written ('3' or '7'). */
  readonly label: string;
  readonly clean: string;
  readonly adversarial: string;
}

/** The first five test 3s and 7s, their FGSM versions and the model's predictions (as digits). */
async function lrExamples(m: Classifier, set: Dataset, params: ParamValues, attack: ClassifierAttackSpec): Promise<LrExample[]> {
  const pick: number[] = [];
  for (const cls of [0, 1]) {
    for (let i = 0, k = 0; i < set.n && k < 5; i++) if (set.labels[i] === cls) { pick.push(i); k++; }
  }
  const x = new Float32Array(pick.length * 784);
  pick.forEach((i, k) => x.set(set.images.subarray(i * 784, (i + 1) * 784), k * 784));
  const xT = tf.tensor4d(x, [pick.length, 28, 28, 1]);
  const yT = tf.tensor1d(Int32Array.from(pick.map((i) => set.labels[i])), 'int32');
  const { adv } = await attack.run(m, xT, { params, y: yT });
  const predT = tf.tidy(() => tf.stack([tf.argMax(m.logits(xT), 1), tf.argMax(m.logits(adv), 1)]));
  const [a, p] = await Promise.all([adv.data(), predT.data()]);
  tf.dispose([xT, yT, adv, predT]);
  const names = m.classNames;
  return pick.map((i, k) => ({
    x: x.slice(k * 784, (k + 1) * 784),
    adv: (a as Float32Array).slice(k * 784, (k + 1) * 784),
    label: names[set.labels[i]],
    clean: names[p[k]],
    adversarial: names[p[pick.length + k]],
  }));
}

const esc = (s: string): string => s.replace(/\|/g, '\\|');
/** A measured value as the report shows it: a percentage, or a plain number with three decimals. */
const value = (v: number, unit: ResultRow['unit']): string => (unit === '%' ? pct(v) : Number.isFinite(v) ? v.toFixed(3) : '—');
const diff = (d: number, unit: ResultRow['unit']): string => (unit === '%' ? pp(d) : `${d >= 0 ? '+' : '−'}${Math.abs(d).toFixed(3)}`);

function rowTable(rows: readonly ResultRow[]): string {
  const out = ['| model | quantity | measured | paper | difference | agreement / reason | paper source (papers.md) |', '|---|---|---|---|---|---|---|'];
  for (const r of rows) {
    const c = r.comparison;
    const verdict = c === undefined ? (r.note ?? '') : c.agrees ? `agrees (within ±${(100 * c.tolerance).toFixed(2)} pp)` : `differs: ${r.note ?? ''}`;
    const tol = c === undefined ? '' : r.unit === '%' ? `±${(100 * c.tolerance).toFixed(2)} pp` : `±${c.tolerance.toFixed(3)}`;
    const v = c === undefined ? verdict : c.agrees ? `agrees (within ${tol})` : verdict;
    out.push(`| \`${r.model}\` | ${r.quantity} | ${value(r.measured, r.unit)} (n = ${r.count.toLocaleString('en-US')}) | ${r.paper?.text ?? '—'} | ${c ? diff(c.difference, r.unit) : '—'} | ${esc(v)} | ${r.paper ? `§ ${esc(r.paper.section)}` : '—'} |`);
  }
  return out.join('\n');
}

/** REPRODUCTION.md from a result (pure: the same result gives the same text). */
export function renderReport(r: ReproduceResult, data: PaperData): string {
  const g = paperInfo(data, 'goodfellow2015');
  const table = (t: ResultRow['table']): string => rowTable(r.rows.filter((x) => x.table === t));
  const L: string[] = [];
  L.push('# Reproducing the seed papers on our models', '');
  L.push(`Generated by \`${r.command}\` (${r.mode} run) at ${r.generatedAt}. Every measured number below was computed by that command; `
    + `every published number comes from \`src/core/metrics/paper-numbers.json\`, which names its source section in ${data.sourceFile} and quotes it.`, '');
  L.push(`- **Runtime**: ${r.runtimeSeconds.toFixed(1)} s (${Object.entries(r.sectionSeconds).map(([k, v]) => `${k} ${v.toFixed(1)} s`).join('; ')})`);
  L.push(`- **Machine**: ${r.machine.os}; ${r.machine.cpus}; ${r.machine.memoryGiB} GiB; Node ${r.machine.node}; TensorFlow.js ${r.machine.tfjs}, backend ${r.machine.backend}`);
  L.push(`- **Sizes**: the first ${r.plan.n.toLocaleString('en-US')} MNIST test images per row (${r.plan.nLr.toLocaleString('en-US')} test 3s and 7s for the logistic regression), `
    + `ε grid ${r.plan.curveEps.join(', ')}, ${r.plan.sweepPoints} sweep points, BIM check on ${r.plan.bimN.toLocaleString('en-US')} images`);
  L.push('- **Protocol** (Goodfellow et al.): every image is attacked with FGSM, η = ε·sign(∇ₓJ(θ, x, y)), with its true label y and clipped to [0, 1]; '
    + 'error = fraction of the images whose adversarial version is misclassified (images the model already gets wrong included); '
    + 'mean confidence = mean softmax probability of the predicted (wrong) class over the misclassified adversarial images.');
  L.push('- **Agreement**: |measured − paper| ≤ max(0.5 pp, 2 standard errors of the difference), the standard error binomial at the two sample sizes '
    + '(the paper\'s taken as the full test set); otherwise the row says why they differ (a hypothesis unless it cites a number measured here).');
  L.push('');
  L.push(`## ${g.authors} ${g.year}: ${g.title}`, '');
  L.push('### FGSM at ε = 0.25', '', table('fgsm'), '');
  L.push('### Adversarial training of the maxout network', '', 'Before: `mnist-maxout`; after: `mnist-maxout-adv` (objective αJ(x) + (1 − α)J(x + ε·sign(∇ₓJ)), α = 0.5, ε = 0.25).', '', table('advtrain'), '');
  L.push('### Ensembles do not wash adversarial examples out', '', 'The ensemble averages the softmax outputs of its members; FGSM uses the gradient of the ensemble\'s own loss, or of member 0 alone (transfer), and the ensemble is scored.', '', table('ensemble'), '');
  L.push('### Beyond the paper: checks of the reasons above', '', 'FGSM at ε = 0.25 on the softmax models trained with weight decay (does regularisation explain the confidence gap?), and the Basic Iterative Method '
    + '(iterated FGSM, Kurakin et al.; registry defaults) on both maxout nets (does adversarial training hold beyond the attack it was trained on?).', '', table('beyond'), '');
  L.push('### Error vs ε', '', `![FGSM error vs ε](${FIGURES.errorVsEps})`, '');
  const curveIds = Object.keys(r.curves);
  L.push(`| ε | ${curveIds.map((id) => `\`${id}\``).join(' | ')} |`, `|---|${curveIds.map(() => '---|').join('')}`);
  r.plan.curveEps.forEach((e, i) => L.push(`| ${e} | ${curveIds.map((id) => pct(r.curves[id][i].adversarialError)).join(' | ')} |`));
  L.push('', 'Diamonds: the paper\'s numbers at ε = 0.25.', '');
  L.push('### Qualitative claims', '', '| claim | source (papers.md) | measured here | verdict |', '|---|---|---|---|');
  for (const c of r.claims.filter((x) => x.id.startsWith('goodfellow.'))) L.push(`| ${esc(c.claim)} | § ${esc(c.section)}${c.figure ? `, ${c.figure}` : ''} | ${esc(c.measured)} | ${c.verdict} |`);
  L.push('');
  L.push('### Fig. 4: logits along the FGSM direction', '', `![Fig. 4 sweep](${FIGURES.fig4})`, '',
    `\`${r.sweep.model}\`, MNIST test image ${r.sweep.testIndex} (the first correctly classified 4), moved to x + ε·sign(∇ₓJ(θ, x, 4)) for ${r.sweep.eps.length} values of ε in [${r.sweep.eps[0]}, ${r.sweep.eps[r.sweep.eps.length - 1]}] without clipping; shaded: where the prediction is the correct class.`, '');
  L.push('### Logistic regression weights and the optimal perturbation', '', `![Logistic regression weights](${FIGURES.lrWeights})`, '',
    `\`mnist-lr-3v7\`: b = ${r.lr.b.toFixed(3)}, ε‖w‖₁ = ${r.lr.epsL1.toFixed(2)} at ε = 0.25, median margin |w·x + b| = ${r.lr.medianMargin.toFixed(2)} over the test images used.`, '');
  L.push(...szegedySection(r, data, table));
  L.push(...papernotSection(r, data, table));
  L.push(...kosSection(r, data, table));
  L.push(...bradshawSection(r.bradshaw, data, table, r.claims));
  for (const p of data.papers) {
    if (p.id === g.id || p.id === 'szegedy2014' || p.id === 'papernot2016' || p.id === 'kos2017' || p.id === 'bradshaw2017') continue;
    L.push(`## ${p.authors} ${p.year}: ${p.title}`, '', `Not yet reproduced (source: § ${p.source.section} of ${data.sourceFile}).`, '');
  }
  L.push('## Files', '', ...r.files.map((f) => `- \`${f}\``), '');
  return L.join('\n');
}

/** The report's section on Szegedy et al. tables 1 and 2. */
function szegedySection(r: ReproduceResult, data: PaperData, table: (t: ResultRow['table']) => string): string[] {
  const p = paperInfo(data, 'szegedy2014');
  const z = r.szegedy;
  const L: string[] = [];
  L.push(`## ${p.authors} ${p.year}: ${p.title}`, '');
  L.push(`- **Protocol**: training error on the first ${r.plan.trainN.toLocaleString('en-US')} MNIST training images, test error on the first ${r.plan.n.toLocaleString('en-US')} test images. `
    + `The registry's \`lbfgs\` attack (box-constrained L-BFGS, registry defaults) moves each of the first ${r.plan.szegedyN} test images to a random target ≠ its label (seed ${z.seed}); `
    + 'the distortion of an adversarial example x′ of x is √(Σᵢ(x′ᵢ − xᵢ)²/n), n = 784 pixels in [0, 1] (Szegedy et al.\'s measure: the RMS change per pixel; papers.md gives no formula, '
    + 'but its Gaussian-noise rows list the noise stddev as their "Av. distortion", which is this measure), averaged over the examples that reached their target.');
  L.push('- **Transfer** (table 2): row = the model the examples were crafted on, column = the model they are fed to (as in the paper, whose last column is the row model\'s distortion); '
    + 'error = fraction of those examples the column model misclassifies (the diagonal is 100% by construction). '
    + `Noise rows: Gaussian noise of stddev σ added to the ${r.plan.n.toLocaleString('en-US')} test images (seeded), clipped to [0, 1]; their error includes the clean error.`);
  L.push('- **Agreement**: rates as above; a mean distortion agrees when within max(10% of the paper\'s value, 2 standard errors of our mean).', '');
  L.push('### Table 1: errors and mean minimum distortion', '', table('szegedy-t1'), '');
  const names = z.models.map((m) => m.paperName);
  const cell = (v: number, id: string): string => `${pct(v)} (${formatPaperNumber(paperNumber(data, id))})`;
  const keys = SZEGEDY_MODELS.map((m) => m.key);
  L.push('### Table 2: cross-model generalisation', '', 'Measured (paper). Rows: crafted on / noise; columns: model fed.', '');
  L.push(`| | ${names.join(' | ')} | distortion |`, `|---|${names.map(() => '---|').join('')}---|`);
  z.transfer.forEach((row, s) => L.push(`| ${names[s]} | ${row.map((v, t) => cell(v, `szegedy.t2.${keys[s]}.${keys[t]}`)).join(' | ')} | ${z.models[s].meanDistortion.toFixed(3)} |`));
  z.noise.forEach((nz, k) => L.push(`| Gaussian noise, σ = ${nz.stddev} | ${nz.error.map((v, t) => cell(v, `szegedy.t2.${k === 0 ? 'noise01' : 'noise03'}.${keys[t]}`)).join(' | ')} | ${nz.meanDistortion.toFixed(3)} (clipped) |`));
  L.push('', 'Every cell beside the paper\'s, with the difference and the reason where they differ:', '', table('szegedy-t2'), '');
  L.push('### Qualitative claims', '', '| claim | source (papers.md) | measured here | verdict |', '|---|---|---|---|');
  for (const c of r.claims.filter((x) => x.id.startsWith('szegedy.'))) L.push(`| ${esc(c.claim)} | § ${esc(c.section)}${c.figure ? `, ${c.figure}` : ''} | ${esc(c.measured)} | ${c.verdict} |`);
  L.push('');
  return L;
}

/** The CLI entry: parse flags, run, print a summary (one JSON line with --json). */
export async function reproduceCommand(flags: ReadonlyMap<string, string | true>): Promise<ReproduceResult> {
  const opts = reproduceOptions(flags);
  const json = flags.has('json');
  const r = await runReproduce(opts, (line) => console.error(`[reproduce] ${line}`));
  const differs = r.rows.filter((x) => x.comparison && !x.comparison.agrees).length;
  const compared = r.rows.filter((x) => x.comparison).length;
  if (json) console.log(JSON.stringify({ out: opts.out, files: r.files, runtimeSeconds: r.runtimeSeconds, mode: r.mode, compared, differs }));
  else console.log(`wrote ${join(opts.out, REPORT_FILE)} and ${r.files.length - 1} more files in ${r.runtimeSeconds.toFixed(1)} s: ${compared} numbers beside the paper's, ${differs} differ (reasons in the report)`);
  return r;
}

/** The model of Papernot et al.'s experiments here (LeNet-style CNN; the paper attacks LeNet). */
export const PAPERNOT_MODEL = 'mnist-lenet';

const SALIENCY_NAME: Readonly<Record<JsmaSaliency, string>> = {
  logits: 'JSMA, logits (the paper\'s)',
  probabilities: 'JSMA-F, probabilities',
};

/**
 * Papernot et al.'s table on mnist-lenet: for each saliency map and source set, the first
 * plan.papernotN images of the set; those the model classifies correctly are moved by JSMA
 * (registry defaults: θ = +1, Υ = 14.5%) towards each of their 9 other classes. Each run is taken
 * through the Υ grid of the hardness estimate on the way ({@link jsmaSweep}: the run at 14.5% is its
 * last stage), the adversarial distance A(X, t) is measured on the same sources, and JSMA crafts a
 * sample of every class from the all-zero image.
 */
async function papernotTables(plan: Plan, train: Dataset, test: Dataset, log: (line: string) => void): Promise<PapernotResult> {
  const spec = classifierAttack('jsma');
  const defaults = resolveParams(spec, {});
  const theta: 1 | -1 = defaults.theta === '-1' ? -1 : 1;
  const maxDistortion = Number(defaults.maxDistortion);
  const upsilons = [...HARDNESS_UPSILONS.filter((u) => pairBudget(u, 784) < pairBudget(maxDistortion, 784)), maxDistortion];
  const budgets = upsilons.map((u) => pairBudget(u, 784));
  return withModel(PAPERNOT_MODEL, async (m) => {
    const C = m.classNames.length;
    // The sources of each set and the ones the model classifies correctly (the same for both maps).
    const sources: { set: PapernotSet; split: 'train' | 'test'; start: number; n: number; d: Dataset; imgs: Float32Array; correct: number[] }[] = [];
    for (const set of plan.papernotSets) {
      const { split, start } = setSource(set);
      const d = split === 'train' ? train : test;
      const n = Math.min(plan.papernotN, d.n - start);
      const imgs = d.images.subarray(start * 784, (start + n) * 784);
      const pred = await predictAll(m, imgs, n);
      const correct: number[] = [];
      for (let i = 0; i < n; i++) if (pred[i] === d.labels[start + i]) correct.push(i);
      sources.push({ set, split, start, n, d, imgs, correct });
    }
    const variants: PapernotResult['variants'][number][] = [];
    for (const saliency of JSMA_SALIENCIES) {
      const sets: PapernotResult['variants'][number]['sets'][number][] = [];
      const stageRuns: PapernotRun[][] = upsilons.map(() => []);
      const distanceRuns: DistanceRun[] = [];
      /** Whether JSMA at the largest Υ reached the target of each distance run. */
      const distanceReached: boolean[] = [];
      for (const { set, split, start, n, d, imgs, correct } of sources) {
        const s0 = performance.now();
        const pairs = allTargetPairs(correct.map((i) => d.labels[start + i]), C);
        const runs: PapernotRun[] = [];
        const reached = new Map<string, boolean>();
        const chunk = 50 * (C - 1);
        for (let c0 = 0; c0 < pairs.length; c0 += chunk) {
          const part = pairs.slice(c0, c0 + chunk);
          const x = new Float32Array(part.length * 784);
          part.forEach((p, k) => x.set(imgs.subarray(correct[p.row] * 784, (correct[p.row] + 1) * 784), k * 784));
          const xT = tf.tensor4d(x, [part.length, 28, 28, 1]);
          const tT = tf.tensor1d(Int32Array.from(part.map((p) => p.target)), 'int32');
          let sweep: Awaited<ReturnType<typeof jsmaSweep>>;
          try {
            sweep = await jsmaSweep(m, xT, tT, { upsilons, theta, saliency });
          } finally {
            tf.dispose([xT, tT]);
          }
          upsilons.forEach((_, k) => part.forEach((p, j) => stageRuns[k].push({
            index: start + correct[p.row], source: d.labels[start + correct[p.row]], target: p.target,
            success: sweep.success[k][j] === 1, distortion: sweep.distortion[k][j],
          })));
          const last = upsilons.length - 1;
          part.forEach((p, j) => {
            const index = start + correct[p.row];
            runs.push({ index, source: d.labels[index], target: p.target, success: sweep.success[last][j] === 1, distortion: sweep.distortion[last][j] });
            reached.set(`${index}:${p.target}`, sweep.success[last][j] === 1);
          });
        }
        // A(X, t) of the correct sources towards their other classes, from the map at X.
        const xs = new Float32Array(correct.length * 784);
        correct.forEach((i, k) => xs.set(imgs.subarray(i * 784, (i + 1) * 784), k * 784));
        const xsT = tf.tensor4d(xs, [correct.length, 28, 28, 1]);
        let A: Float64Array;
        try {
          A = await adversarialDistances(m, xsT, saliency);
        } finally {
          xsT.dispose();
        }
        correct.forEach((i, k) => {
          const index = start + i;
          for (let t = 0; t < C; t++) {
            if (t === d.labels[index]) continue;
            distanceRuns.push({ index, source: d.labels[index], target: t, distance: A[k * C + t] });
            distanceReached.push(reached.get(`${index}:${t}`) === true);
          }
        });
        const summary = summarise(runs);
        const seconds = (performance.now() - s0) / 1000;
        sets.push({ set, split, start, sources: n, correct: correct.length, summary, seconds });
        log(`  ${saliency}, ${set} sources: ${summary.successes}/${summary.runs} targets reached, distortion ${pct(summary.distortionAll)} (all), ${pct(summary.distortionSuccessful)} (successful) (${seconds.toFixed(1)} s)`);
      }
      const allRuns = stageRuns[upsilons.length - 1];
      const pairs = pairMatrices(allRuns, C);
      const hm = hardnessMatrix(stageRuns, C);
      const dm = distanceMatrix(distanceRuns, C);
      const r = robustness(distanceRuns);
      const byOutcome = (ok: boolean): number => mean(distanceRuns.filter((_, k) => distanceReached[k] === ok).map((q) => q.distance));
      variants.push({
        saliency, sets, total: summarise(allRuns), pairs,
        stages: upsilons.map((upsilon, k) => ({ upsilon, budget: budgets[k], summary: summarise(stageRuns[k]) })),
        stageSuccessRate: hm.successRate, stageDistortion: hm.distortion, hardness: hm.hardness,
        distance: {
          runs: distanceRuns.length, mean: dm.mean, count: dm.count, robustness: r.value, robustnessAt: r.at,
          meanSuccessful: byOutcome(true), meanFailed: byOutcome(false),
          corrHardness: pearson(offDiagonal(dm.mean), offDiagonal(hm.hardness)),
          corrSuccess: pearson(offDiagonal(dm.mean), offDiagonal(pairs.successRate)),
        },
      });
      log(`  ${saliency}: hardness over Υ = ${upsilons.map((u) => pct(u)).join(', ')}; R(F) = ${pct(r.value)} over ${distanceRuns.length} (X, t)`);
    }
    // Samples crafted from the empty (all-zero) input towards every class.
    const blank = new Float32Array(C * 784);
    const blankClass = (await predictFlat(m, blank, 1))[0];
    const empty: PapernotResult['emptyInput']['variants'][number][] = [];
    for (const saliency of JSMA_SALIENCIES) {
      const xT = tf.tensor4d(blank, [C, 28, 28, 1]);
      const tT = tf.tensor1d(Int32Array.from({ length: C }, (_, t) => t), 'int32');
      let adv: Float32Array;
      let distortion: Float64Array;
      try {
        const s = await jsmaSweep(m, xT, tT, { upsilons: [maxDistortion], theta, saliency });
        adv = s.adv;
        distortion = s.distortion[0];
      } finally {
        tf.dispose([xT, tT]);
      }
      const pred = await predictFlat(m, adv, C);
      empty.push({
        saliency,
        samples: Array.from({ length: C }, (_, t) => {
          const pixels: number[] = [];
          for (let i = 0; i < 784; i++) if (adv[t * 784 + i] !== 0) pixels.push(i);
          return { target: t, predicted: pred[t], distortion: distortion[t], pixels };
        }),
      });
    }
    const distanceSources = sources.reduce((a, s) => a + s.correct.length, 0);
    return { model: PAPERNOT_MODEL, theta, maxDistortion, upsilons, budgets, distanceSources, emptyInput: { blankClass, variants: empty }, variants };
  });
}

/** The rows (measured beside Papernot et al.'s table) and the per-pair claim. */
function papernotRows(data: PaperData, r: PapernotResult, rows: ResultRow[], claims: ClaimRow[]): void {
  const card = readCard(r.model);
  const recipe = `our LeNet differs from the paper's (${shown(card.optimizer)}, ${shown(card.epochs)} epochs, dropout ${shown(field(card, 'dropout', 'rate'))}; models/${r.model}/card.json)`;
  const variant = (s: JsmaSaliency) => r.variants.find((v) => v.saliency === s)!;
  const testOf = (s: JsmaSaliency) => variant(s).sets.find((x) => x.set === 'test')!;
  const zT = testOf('logits');
  const fT = testOf('probabilities');
  const pairsText = `${zT.correct} test images × 9 targets`;
  const harder = `our LeNet is harder to move under the logits saliency map (the paper's definition): ${pct(zT.summary.successRate)} success on ${pairsText} here, `
    + `while JSMA-F (probabilities) reaches ${pct(fT.summary.successRate)} on the same pairs; ${recipe}`;
  const PAPER_RUNS = 10000 * 9;
  for (const v of r.variants) {
    const name = SALIENCY_NAME[v.saliency];
    const isF = v.saliency === 'probabilities';
    for (const s of v.sets) {
      const sum = s.summary;
      const where = `${s.set} sources`;
      const vNote = s.set === 'validation' ? `; our "validation" images (training images ${VALIDATION_START.toLocaleString('en-US')}+) were part of our model's training set (60,000 images), not held out` : '';
      rows.push(compared(data, 'papernot', `papernot.table.${s.set}.success`, r.model, `${name}: success rate, ${where}`, sum.successRate, sum.runs, PAPER_RUNS, isF
        ? { higher: `JSMA-F is Carlini & Wagner's variant, not the paper's algorithm: its pair choice (two largest ∂F_t/∂x) reaches targets the logits map misses on our LeNet${vNote}`, lower: `${recipe}${vNote}` }
        : { lower: `${harder}${vNote}`, higher: `${recipe}${vNote}` }));
      const dist = (id: string, quantity: string, measured: number, sd: number, count: number, reasons: Reasons): void => {
        const p = paperNumber(data, id);
        const comparison = compareMeans(measured, asFraction(p), sd, count);
        rows.push({
          table: 'papernot', model: r.model, quantity, measured, unit: '%', count, comparison,
          note: comparison.agrees ? undefined : ((comparison.difference > 0 ? reasons.higher : reasons.lower) ?? 'not investigated yet'),
          paper: { id: p.id, value: asFraction(p), text: formatPaperNumber(p), section: p.source.section },
        });
      };
      const failShare = `${pct(1 - sum.successRate)} of our runs fail, and a failed run changes up to Υ = ${pct(r.maxDistortion)} of the pixels`;
      dist(`papernot.table.${s.set}.distortionAll`, `${name}: average distortion (all samples), ${where}`, sum.distortionAll, sum.sdDistortionAll, sum.runs, {
        higher: `${failShare}${isF ? '' : `; ${harder}`}${vNote}`,
        lower: `${isF ? 'JSMA-F picks the pixels by ∂F_t/∂x and needs fewer of them on our LeNet' : recipe}${vNote}`,
      });
      dist(`papernot.table.${s.set}.distortionSuccessful`, `${name}: average distortion (successful samples), ${where}`, sum.distortionSuccessful, sum.sdDistortionSuccessful, sum.successes, {
        higher: `${isF ? recipe : `our LeNet needs more pixels under the logits map (JSMA-F's successes need ${pct(variant('probabilities').sets.find((x) => x.set === s.set)!.summary.distortionSuccessful)} here); ${recipe}`}${vNote}`,
        lower: `${isF ? 'JSMA-F picks the pixels by ∂F_t/∂x and needs fewer of them on our LeNet; ' : ''}${recipe}${vNote}`,
      });
    }
  }
  const z = variant('logits');
  const [sLo, sHi] = finiteRange(z.pairs.successRate);
  const [dLo, dHi] = finiteRange(z.pairs.distortionSuccessful);
  const counts = z.pairs.count.flatMap((row, s) => row.filter((_, t) => t !== s));
  const withRuns = counts.filter((k) => k > 0);
  const perPair = withRuns.length > 0 ? Math.min(...withRuns) : 0;
  const c = paperClaim(data, 'papernot.pairs.uneven');
  claims.push({
    id: c.id, claim: c.claim, section: c.source.section, figure: c.source.figure,
    measured: `logits map (the paper's): success per pair from ${pct(sLo)} to ${pct(sHi)}, distortion of successes per pair from ${pct(dLo)} to ${pct(dHi)} (${withRuns.length} of ${counts.length} pairs have runs, the fewest ${perPair}; heatmaps below)`,
    // With fewer than 5 runs per pair the spread is mostly sampling noise: at most 'partly'.
    verdict: dHi >= 1.5 * dLo && sHi - sLo >= 0.1 ? (perPair >= 5 && withRuns.length === counts.length ? 'reproduced' : 'partly') : 'not reproduced',
  });
}

/** The heatmaps of each saliency map's per-pair matrices, the curves against Υ and the samples from an empty input. */
function papernotFigures(r: PapernotResult, put: (name: string, body: string) => void): void {
  const labels = Array.from({ length: 10 }, (_, i) => String(i));
  for (const v of r.variants) {
    const name = SALIENCY_NAME[v.saliency];
    const common = { rowLabels: labels, colLabels: labels, rowTitle: 'source class', colTitle: 'target class' };
    put(PAPERNOT_FIGURES[v.saliency].success, heatmap({
      ...common, title: `${name} on ${r.model}: success rate per source-target pair (${v.total.runs.toLocaleString('en-US')} runs)`,
      values: v.pairs.successRate, domain: [0, 1], format: (x) => `${Math.round(100 * x)}%`,
    }));
    put(PAPERNOT_FIGURES[v.saliency].distortion, heatmap({
      ...common, title: `${name} on ${r.model}: average distortion of successful samples per pair (Υ = ${pct(r.maxDistortion)})`,
      values: v.pairs.distortionSuccessful, domain: [0, r.maxDistortion], format: (x) => `${(100 * x).toFixed(1)}%`, color: '#a8322d',
    }));
    const [, hHi] = finiteRange(v.hardness);
    put(PAPERNOT_FIGURES[v.saliency].hardness, heatmap({
      ...common, title: `${name} on ${r.model}: hardness H(s, t) = ∫ε dτ over Υ = ${pct(r.upsilons[0])} … ${pct(r.maxDistortion)} (×100: ε in % of the pixels)`,
      values: v.hardness, domain: [0, Number.isFinite(hHi) && hHi > 0 ? hHi : 1], format: (x) => (100 * x).toFixed(2), color: '#6a3d9a',
    }));
    const [aLo] = finiteRange(v.distance.mean);
    put(PAPERNOT_FIGURES[v.saliency].distance, heatmap({
      ...common, title: `${name} on ${r.model}: adversarial distance A(X, t) averaged per pair (${v.distance.runs.toLocaleString('en-US')} (X, t))`,
      values: v.distance.mean, domain: [Number.isFinite(aLo) ? aLo : 0, 1], format: (x) => `${(100 * x).toFixed(1)}%`, color: '#2d7a4f',
    }));
  }
  const colors: Readonly<Record<JsmaSaliency, string>> = { logits: '#4e79a7', probabilities: '#f28e2b' };
  put(PAPERNOT_EXTRA_FIGURES.curves, lineChart({
    title: `JSMA on ${r.model}: success rate (solid), distortion of successes (dashed) vs Υ`,
    xLabel: 'Υ, maximum distortion (% of the pixels)', yLabel: '%',
    series: r.variants.flatMap((v): Series[] => [
      { name: `${SALIENCY_NAME[v.saliency]}: success rate`, color: colors[v.saliency], points: v.stages.map((s) => [100 * s.upsilon, 100 * s.summary.successRate] as const) },
      { name: `${SALIENCY_NAME[v.saliency]}: distortion (successful)`, color: colors[v.saliency], dashed: true, points: v.stages.map((s) => [100 * s.upsilon, 100 * s.summary.distortionSuccessful] as const) },
    ]),
    xDomain: [0, 100 * r.maxDistortion], yDomain: [0, 100],
  }));
  const picture = (pixels: readonly number[]): string => {
    const img = new Float32Array(784);
    for (const i of pixels) img[i] = 1;
    return greyDataUri(img, 0, 1);
  };
  put(PAPERNOT_EXTRA_FIGURES.emptyInput, imageGrid({
    title: `JSMA from an empty (all-zero) input on ${r.model}, θ = +1, Υ = ${pct(r.maxDistortion)} (the blank image is classified ${r.emptyInput.blankClass})`,
    cell: 84,
    rows: r.emptyInput.variants.map((v) => ({
      title: `${SALIENCY_NAME[v.saliency]}: target → prediction, pixels turned on (red frame: target not reached)`,
      images: v.samples.map((s) => ({ href: picture(s.pixels), caption: `${s.target} → ${s.predicted}, ${s.pixels.length} px`, frame: s.predicted !== s.target ? '#e15759' : undefined })),
    })),
  }));
}

/** Mean A(X, t) per target class over every source (the per-pair means weighted by their counts). */
function distanceByTarget(d: PapernotResult['variants'][number]['distance']): number[] {
  return d.mean.map((_, t) => {
    let sum = 0;
    let k = 0;
    d.mean.forEach((row, s) => {
      if (d.count[s][t] > 0) {
        sum += row[t] * d.count[s][t];
        k += d.count[s][t];
      }
    });
    return k > 0 ? sum / k : Number.NaN;
  });
}

/** The popup's per-pair matrices (popup-matrices.json) of Papernot et al.'s experiments, validated. */
export function papernotPopupMatrices(r: PapernotResult, command: string, generatedAt: string): PopupMatrices {
  const saliency: Record<string, unknown> = {};
  for (const v of r.variants) {
    saliency[v.saliency] = {
      count: v.pairs.count, successRate: toPopupMatrix(v.pairs.successRate), distortionSuccessful: toPopupMatrix(v.pairs.distortionSuccessful),
      hardness: toPopupMatrix(v.hardness), adversarialDistance: toPopupMatrix(v.distance.mean), robustness: v.distance.robustness,
    };
  }
  const entry = catalogEntry(r.model);
  return parsePopupMatrices({
    version: POPUP_MATRICES_VERSION, model: r.model, classNames: classNamesFor(entry?.dataset ?? 'mnist'), command, generatedAt,
    theta: r.theta, maxDistortion: r.maxDistortion, upsilons: r.upsilons, sources: r.distanceSources,
    runs: r.variants[0]?.total.runs ?? 0, distanceRuns: r.variants[0]?.distance.runs ?? 0, saliency,
  });
}

/** The report's section on Papernot et al. */
function papernotSection(r: ReproduceResult, data: PaperData, table: (t: ResultRow['table']) => string): string[] {
  const p = paperInfo(data, 'papernot2016');
  const z = r.papernot;
  const L: string[] = [];
  const where = (s: PapernotResult['variants'][number]['sets'][number]): string =>
    `${s.split} images ${s.start.toLocaleString('en-US')}–${(s.start + s.sources - 1).toLocaleString('en-US')}`;
  const first = z.variants[0];
  L.push(`## ${p.authors} ${p.year}: ${p.title}`, '');
  L.push(`- **Protocol**: the registry's \`jsma\` attack (θ = ${z.theta > 0 ? '+1' : '−1'}, Υ = ${pct(z.maxDistortion)}: at most ⌊784·Υ/2⌋ = ${Math.floor((784 * z.maxDistortion) / 2)} pixel pairs) on \`${z.model}\`. `
    + `Sources: ${first.sets.map((s) => `${s.set}: ${where(s)}`).join('; ')}; the sources the model classifies correctly are each moved towards their 9 other classes. `
    + `The paper's sources are 10,000 images per set${z.variants[0].sets.some((s) => s.set === 'validation') ? `; our "validation" set is the last 10,000 of the 60,000 training images (from ${VALIDATION_START.toLocaleString('en-US')}), on which our model was also trained (models/${z.model}/card.json)` : ''}.`);
  L.push('- **Measures** (as the paper defines them): success rate = fraction of the runs whose adversarial sample the model classifies as the target; '
    + 'distortion = fraction of the 784 pixels modified, averaged over all runs and over the successful ones.');
  L.push('- **Saliency maps**: `logits` is the paper\'s definition (Jacobian of the logits, pre-softmax), the one compared with the paper; `probabilities` is Carlini & Wagner\'s JSMA-F (Jacobian of the softmax output), run on the same pairs for contrast.');
  L.push('- **Agreement**: success rates as above (the paper\'s over 90,000 runs); a mean distortion agrees when within max(10% of the paper\'s value, 2 standard errors of our mean).', '');
  L.push('### Success rate and average distortion', '', 'Measured (paper).', '');
  L.push('| source set | runs | success: logits | success: JSMA-F | distortion, all: logits | distortion, all: JSMA-F | distortion, successful: logits | distortion, successful: JSMA-F |', '|---|---|---|---|---|---|---|---|');
  const [zl, zf] = [z.variants.find((v) => v.saliency === 'logits')!, z.variants.find((v) => v.saliency === 'probabilities')!];
  zl.sets.forEach((s, k) => {
    const f = zf.sets[k];
    const paper = (what: string): string => formatPaperNumber(paperNumber(data, `papernot.table.${s.set}.${what}`));
    L.push(`| ${s.set} (${where(s)}; ${s.correct} correctly classified) | ${s.summary.runs} | ${pct(s.summary.successRate)} (${paper('success')}) | ${pct(f.summary.successRate)} | `
      + `${pct(s.summary.distortionAll)} (${paper('distortionAll')}) | ${pct(f.summary.distortionAll)} | ${pct(s.summary.distortionSuccessful)} (${paper('distortionSuccessful')}) | ${pct(f.summary.distortionSuccessful)} |`);
  });
  L.push('', `Runtime: ${z.variants.map((v) => `${SALIENCY_NAME[v.saliency]} ${v.sets.map((s) => `${s.set} ${s.seconds.toFixed(1)} s`).join(', ')}`).join('; ')}.`, '');
  L.push('Every number beside the paper\'s, with the difference and the reason where they differ:', '', table('papernot'), '');
  L.push('### Per source-target pair', '', `All sets together; rows: source class, columns: target class (the diagonal has no runs).`, '');
  for (const v of z.variants) {
    L.push(`![${SALIENCY_NAME[v.saliency]}: success rate per pair](${PAPERNOT_FIGURES[v.saliency].success})`, '',
      `![${SALIENCY_NAME[v.saliency]}: distortion of successful samples per pair](${PAPERNOT_FIGURES[v.saliency].distortion})`, '');
  }
  L.push('### Qualitative claims', '', '| claim | source (papers.md) | measured here | verdict |', '|---|---|---|---|');
  for (const c of r.claims.filter((x) => x.id.startsWith('papernot.'))) L.push(`| ${esc(c.claim)} | § ${esc(c.section)}${c.figure ? `, ${c.figure}` : ''} | ${esc(c.measured)} | ${c.verdict} |`);
  L.push('');
  const counts = zl.pairs.count.flatMap((row, s) => row.filter((_, t) => t !== s));
  const pixels = (b: number): number => 2 * b;
  L.push('### Hardness matrix (§ Hardness Matrix)', '');
  L.push(`- **Υ grid**: ${z.upsilons.map((u, k) => `${pct(u)} (${pixels(z.budgets[k])} px)`).join(', ')}: the paper's pixel budgets (2 to 100 of the 784 pixels) below the table's Υ, then Υ = ${pct(z.maxDistortion)} itself; at Υ JSMA may change 2·⌊784·Υ/2⌋ pixels. `
    + 'JSMA is greedy and its state (the image, and the search domain Γ) does not depend on Υ, so the run at a smaller Υ is the start of the run at a larger one: each (X, t) is run once, '
    + `stopping at every Υ_k to record whether it has reached its target and how many pixels it has changed (the last stage is the table above). Samples: the same ${zl.total.runs.toLocaleString('en-US')} runs per saliency map `
    + `(${counts.length > 0 ? `${Math.min(...counts)}–${Math.max(...counts)}` : '0'} per pair; the paper averages over 9,000 per Υ, about 100 per pair).`);
  L.push('- **H(s, t)** ≈ Σₖ (τₖ₊₁ − τₖ)·(εₖ₊₁ + εₖ)/2, with τₖ the pair\'s success rate and εₖ its average distortion at Υₖ. Reading: εₖ is the distortion of the *successful* samples '
    + '(the paper\'s ε(s, t, τ) is "the average distortion required to convert s to t", the quantity of its per-pair ε heatmap); an Υₖ where the pair has no success has no ε and is left out, '
    + 'so the integral covers τ from the first Υ with a success to the last. H is a fraction × a fraction; the heatmap shows 100·H (ε in % of the pixels). '
    + 'A pair whose success rate stays low covers a short τ range and gets a small H although it is hard: the measure assumes, as in the paper, that most pairs reach τ ≈ 1.', '');
  L.push('| Υ | pixels | success: logits | distortion, successful: logits | success: JSMA-F | distortion, successful: JSMA-F |', '|---|---|---|---|---|---|');
  z.upsilons.forEach((u, k) => {
    const a = zl.stages[k].summary;
    const b = zf.stages[k].summary;
    L.push(`| ${pct(u)} | ${pixels(z.budgets[k])} | ${pct(a.successRate)} | ${pct(a.distortionSuccessful)} | ${pct(b.successRate)} | ${pct(b.distortionSuccessful)} |`);
  });
  L.push('', `![Success rate and distortion against Υ](${PAPERNOT_EXTRA_FIGURES.curves})`, '');
  for (const v of z.variants) {
    const [lo, hi] = finiteRange(v.hardness);
    L.push(`![${SALIENCY_NAME[v.saliency]}: hardness per pair](${PAPERNOT_FIGURES[v.saliency].hardness})`, '',
      `${SALIENCY_NAME[v.saliency]}: 100·H from ${Number.isFinite(lo) ? (100 * lo).toFixed(2) : '—'} to ${Number.isFinite(hi) ? (100 * hi).toFixed(2) : '—'}.`, '');
  }
  L.push('### Adversarial distance and robustness (§ Adversarial Distance)', '');
  L.push(`- **A(X, t)** = 1 − (1/N)·Σᵢ 1[S(X, t)[i] > 0], N = 784: the fraction of pixels whose adversarial saliency map value towards t is zero, from the map of the first crafting iteration (at X itself), `
    + 'S(X, t)[i] = ∂F_t/∂Xᵢ·|Σ_{c≠t} ∂F_c/∂Xᵢ| where ∂F_t/∂Xᵢ > 0 and Σ_{c≠t} ∂F_c/∂Xᵢ < 0 (θ = +1), else 0. Reading: every pixel counts, as in the formula, also those already at 1 '
    + '(which JSMA\'s search domain Γ leaves out); F = the logits for the paper\'s map, the softmax output for JSMA-F (there the condition is ∂F_t/∂Xᵢ > 0). '
    + `Measured on the ${z.distanceSources.toLocaleString('en-US')} correctly classified sources of the table towards each of their 9 other classes; the heatmap averages per pair.`);
  L.push('- **R(F)** = min over (X, t) of A(X, t), as papers.md defines it: the smallest adversarial distance over the (X, t) measured (a minimum over a sample: it can only fall as more are measured). '
    + 'For comparison, the smallest per-target mean, min_t of A(X, t) averaged over every source X, is given too (one reading of "robustness" as an average).', '');
  L.push('| saliency map | (X, t) | mean A | R(F) = min A | at | min over t of mean A | mean A: JSMA succeeds / fails | r(mean A, H) over pairs | r(mean A, success) over pairs |', '|---|---|---|---|---|---|---|---|---|');
  for (const v of z.variants) {
    const d = v.distance;
    const all = d.mean.flatMap((row, s) => row.map((x, t) => (d.count[s][t] > 0 ? x * d.count[s][t] : 0))).reduce((a, b) => a + b, 0) / Math.max(1, d.runs);
    const byT = distanceByTarget(d);
    const tMin = byT.reduce((best, x, t) => (Number.isFinite(x) && (best < 0 || x < byT[best]) ? t : best), -1);
    const at = d.robustnessAt ? `image ${d.robustnessAt.index} (a ${d.robustnessAt.source}) → ${d.robustnessAt.target}` : '—';
    const r2 = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : '—');
    L.push(`| ${SALIENCY_NAME[v.saliency]} | ${d.runs.toLocaleString('en-US')} | ${pct(all)} | ${pct(d.robustness)} | ${at} | ${tMin >= 0 ? `${pct(byT[tMin])} (t = ${tMin})` : '—'} | ${pct(d.meanSuccessful)} / ${pct(d.meanFailed)} | ${r2(d.corrHardness)} | ${r2(d.corrSuccess)} |`);
  }
  L.push('', 'The paper: the closer A is to 1, the harder the input is to misclassify, and A is a good proxy for the hardness (§ Adversarial distance). '
    + `Measured with the paper's (logits) map: the (X, t) that JSMA completes have mean A ${pct(zl.distance.meanSuccessful)}, those it does not ${pct(zl.distance.meanFailed)}; `
    + `over the 90 pairs the mean A correlates with H at r = ${Number.isFinite(zl.distance.corrHardness) ? zl.distance.corrHardness.toFixed(2) : '—'} and with the success rate at r = ${Number.isFinite(zl.distance.corrSuccess) ? zl.distance.corrSuccess.toFixed(2) : '—'} (Pearson).`, '');
  for (const v of z.variants) L.push(`![${SALIENCY_NAME[v.saliency]}: mean adversarial distance per pair](${PAPERNOT_FIGURES[v.saliency].distance})`, '');
  L.push('### Samples crafted from an empty input (§ Results for Empty Input)', '');
  L.push(`JSMA (θ = +1, Υ = ${pct(z.maxDistortion)}) from the all-zero image towards every class; the model classifies the blank image ${z.emptyInput.blankClass}, which is reached without a change.`, '',
    `![Samples from an empty input](${PAPERNOT_EXTRA_FIGURES.emptyInput})`, '');
  L.push(`| saliency map | ${z.emptyInput.variants[0]?.samples.map((s) => `→ ${s.target}`).join(' | ') ?? ''} |`, `|---|${(z.emptyInput.variants[0]?.samples ?? []).map(() => '---|').join('')}`);
  for (const v of z.emptyInput.variants) {
    L.push(`| ${SALIENCY_NAME[v.saliency]} | ${v.samples.map((s) => `${s.predicted === s.target ? '' : '✗ '}${s.predicted}, ${pct(s.distortion)}`).join(' | ')} |`);
  }
  L.push('', 'Cells: the predicted class (✗: not the target) and the fraction of pixels turned on.', '');
  L.push('### Not yet reproduced', '', '- the table at the paper\'s size (10,000 sources per set; here the numbers above).', '');
  return L;
}

/** One picture set of the Kos et al. example grid: a source, its target's example, and per attack x* and its reconstruction. */
interface KosExample {
  readonly index: number;
  readonly label: number;
  readonly target: number;
  readonly x: Float32Array;
  readonly targetExample: Float32Array;
  readonly perAttack: { readonly id: KosAttackId; readonly adv: Float32Array; readonly recon: Float32Array; readonly predicted: number }[];
}

/** Sources shown in the example grid (the first ones, each towards the next class). */
const KOS_EXAMPLE_SOURCES = 3;

function vaeAttack(id: KosAttackId): VaeAttackSpec {
  const a = getAttack(id);
  if (!a || a.model !== 'vae') throw new ProbeError('BAD_INPUT', `no VAE attack "${id}"`);
  return a;
}

/**
 * Kos et al. on mnist-vae with mnist-vae-clf (the classifier on the latent mean), as `probe attack
 * --attack vae-*` runs it: the first plan.kosK test images of each class, each towards its 9 other
 * classes (target example from models/mnist-vae/examples.json), registry defaults; success by the
 * reconstruction-feedback label ŷ = f_class(f_enc(x̂*)) (VaeAttackAccumulator).
 */
async function kosTables(plan: Plan, test: Dataset, log: (line: string) => void): Promise<{ result: KosResult; examples: KosExample[] }> {
  const vae = await loadShippedVae(VAE_ID);
  const classifier = await loadShippedClassifier(VAE_CLASSIFIER_ID);
  const models = { vae, classifier };
  try {
    const targetExamples = parseVaeExamples(JSON.parse(readFileSync(join(MODELS_DIR, VAE_ID, VAE_EXAMPLES_FILE), 'utf8')), vae.inputShape);
    const sources = kosSources(test.labels, plan.kosK);
    const allRows = kosRows(sources, test.labels);
    const shown = sources.slice(0, KOS_EXAMPLE_SOURCES);
    const isShown = (r: KosRow): boolean => shown.includes(r.index) && r.target === (r.label + 1) % 10;
    const examples: KosExample[] = shown.map((index) => ({
      index, label: test.labels[index], target: (test.labels[index] + 1) % 10,
      x: test.images.slice(index * 784, (index + 1) * 784), targetExample: targetExamples[(test.labels[index] + 1) % 10], perAttack: [],
    }));
    const attacks: KosResult['attacks'][number][] = [];
    const batch = 100;
    for (const id of KOS_ATTACKS) {
      const s0 = performance.now();
      const spec = vaeAttack(id);
      const params = resolveParams(spec, {});
      const acc = new VaeAttackAccumulator();
      await attackVaeRows(spec, models, params, test.images, allRows, targetExamples, acc, {
        batch,
        onBatch: async (chunk, adv, p) => {
          if (!chunk.some(isShown)) return;
          const recon = tf.tidy(() => vae.decode(vae.encode(adv).mean));
          const [a, rc] = await Promise.all([adv.data(), recon.data()]);
          recon.dispose();
          chunk.forEach((r, k) => {
            if (!isShown(r)) return;
            examples.find((e) => e.index === r.index)!.perAttack.push({
              id, adv: Float32Array.from(a.subarray(k * 784, (k + 1) * 784)), recon: Float32Array.from(rc.subarray(k * 784, (k + 1) * 784)), predicted: p[k],
            });
          });
        },
      });
      const m = acc.result(10);
      const seconds = (performance.now() - s0) / 1000;
      attacks.push({
        id, params, runs: allRows.length, meanAsTarget: m.meanAsTarget, meanAsIgnoreTarget: m.meanAsIgnoreTarget, meanL2: m.meanL2,
        asTarget: m.asTarget, asIgnoreTarget: m.asIgnoreTarget, counts: m.counts, seconds,
      });
      log(`  ${id}: AS_target ${pct(m.meanAsTarget)}, AS_ignore-target ${pct(m.meanAsIgnoreTarget)}, mean L2 ${m.meanL2.toFixed(2)} over ${allRows.length} runs (${seconds.toFixed(1)} s)`);
    }
    return { result: { vae: VAE_ID, classifier: VAE_CLASSIFIER_ID, k: plan.kosK, sources, attacks }, examples };
  } finally {
    vae.dispose();
    classifier.dispose();
  }
}

const KOS_NAME: Readonly<Record<KosAttackId, string>> = { 'vae-classifier': 'classifier attack', 'vae-latent': 'latent attack' };
const KOS_NO_NUMBER = 'the summary gives no number (papers.md gives a per-pair table for the classifier attack only, no mean)';

/** The report rows: the mean success rates (papers.md gives no mean to set them beside). */
function kosResultRows(r: KosResult, rows: ResultRow[]): void {
  for (const a of r.attacks) {
    const model = `${r.vae} + ${r.classifier}`;
    rows.push({ table: 'kos', model, quantity: `${KOS_NAME[a.id]} (\`${a.id}\`): AS_target, mean over pairs`, measured: a.meanAsTarget, unit: '%', count: a.runs, note: KOS_NO_NUMBER });
    rows.push({ table: 'kos', model, quantity: `${KOS_NAME[a.id]} (\`${a.id}\`): AS_ignore-target, mean over pairs`, measured: a.meanAsIgnoreTarget, unit: '%', count: a.runs, note: KOS_NO_NUMBER });
  }
}

function kosFigures(r: KosResult, examples: readonly KosExample[], put: (name: string, body: string) => void): void {
  const labels = Array.from({ length: 10 }, (_, i) => String(i));
  for (const a of r.attacks) {
    put(KOS_FIGURES.asTarget[a.id], heatmap({
      title: `Kos et al. ${KOS_NAME[a.id]} on ${r.vae}: AS_target per source-target pair (${a.runs.toLocaleString('en-US')} runs)`,
      values: blankUnattacked(a.asTarget, a.counts), rowLabels: labels, colLabels: labels, rowTitle: 'source class', colTitle: 'target class',
      domain: [0, 1], format: (x) => `${Math.round(100 * x)}%`,
    }));
  }
  put(KOS_FIGURES.examples, imageGrid({
    title: `Kos et al. on ${r.vae}: source, target example, and per attack x* and its reconstruction (caption: ŷ)`,
    cell: 84,
    rows: examples.map((e) => ({
      title: `test image ${e.index} (a ${e.label}) → target ${e.target}`,
      images: [
        { href: greyDataUri(e.x, 0, 1), caption: `original ${e.label}` },
        { href: greyDataUri(e.targetExample, 0, 1), caption: `target ${e.target}` },
        ...e.perAttack.flatMap((p) => [
          { href: greyDataUri(p.adv, 0, 1), caption: `${p.id === 'vae-latent' ? 'latent' : 'classifier'}: x*` },
          { href: greyDataUri(p.recon, 0, 1), caption: `recon. → ${p.predicted}`, frame: p.predicted === e.target ? '#59a14f' : '#e15759' },
        ]),
      ],
    })),
  }));
}

/** The report's section on Kos et al. */
function kosSection(r: ReproduceResult, data: PaperData, table: (t: ResultRow['table']) => string): string[] {
  const p = paperInfo(data, 'kos2017');
  const z = r.kos;
  const L: string[] = [];
  L.push(`## ${p.authors} ${p.year}: ${p.title}`, '');
  L.push(`- **Protocol**: the registry's \`vae-classifier\` and \`vae-latent\` attacks (L2, registry defaults: ${z.attacks.map((a) => `\`${a.id}\` ${JSON.stringify(a.params)}`).join('; ')}) `
    + `on \`${z.vae}\` with \`${z.classifier}\` (a classifier on the latent mean), as \`npm run probe -- attack --attack vae-… --targets all\` runs them. `
    + `Sources: the first ${z.k} MNIST test images of each class (${z.sources.length} images), each towards its 9 other classes (${z.sources.length * 9} runs per attack); `
    + `the target of a run is the class's example in models/${z.vae}/${VAE_EXAMPLES_FILE}.`);
  L.push('- **Measures** (as the paper defines them, § Evaluation Metrics): ŷ = f_class(f_enc(x̂*)), the class of the reconstruction of the adversarial input read back through the encoder; '
    + 'AS_target = share of the runs with ŷ = target, AS_ignore-target = share with ŷ ≠ source class, per source-target pair, averaged over the 90 pairs.');
  L.push(`- **Paper's numbers**: ${data.sourceFile} (§ Metrics Evaluation for MNIST Classifier attack) gives a per-pair table for the classifier attack (cells "a% (b%)", not labelled; a ≥ b in every cell, consistent with AS_ignore-target (AS_target)), `
    + 'no mean, and no number for the latent attack (§ MNIST: Successful Latent Attack shows pictures only); so the means below stand alone, and the per-pair table is not compared here.', '');
  L.push('### Mean success rates', '', table('kos'), '');
  L.push('| attack | runs | AS_target | AS_ignore-target | mean L2 ‖x* − x‖₂ | time |', '|---|---|---|---|---|---|');
  for (const a of z.attacks) L.push(`| \`${a.id}\` | ${a.runs} | ${pct(a.meanAsTarget)} | ${pct(a.meanAsIgnoreTarget)} | ${a.meanL2.toFixed(2)} | ${a.seconds.toFixed(1)} s |`);
  L.push('', '### AS_target per source-target pair', '', 'Rows: source class, columns: target class (the diagonal has no runs).', '');
  for (const a of z.attacks) L.push(`![${KOS_NAME[a.id]}: AS_target per pair](${KOS_FIGURES.asTarget[a.id]})`, '');
  L.push('### Examples', '', `![Kos et al. examples](${KOS_FIGURES.examples})`, '',
    'Per source: the original, the target class\'s example, then for each attack the adversarial input x* and its reconstruction with ŷ (green frame: ŷ = target).', '');
  L.push('### Not yet reproduced', '', '- the L_VAE attack (`vae-loss`), and the CelebA and SVHN experiments;', '- the paper\'s per-pair table at its size (here the sources above).', '');
  return L;
}
