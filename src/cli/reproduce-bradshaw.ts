/**
 * The Bradshaw et al. 2017 section of `probe reproduce` ("Adversarial examples, uncertainty, and
 * transfer testing robustness in Gaussian process hybrid deep networks") on mnist-gpdnn and its NN
 * twin mnist-gpdnn-nn: accuracy and log-likelihood, FGSM error and log-likelihood against ε, CW-L2
 * (how many attacks fail, the extra perturbation the GPDNN needs), the NN ↔ GPDNN transfer table, and
 * transfer testing on shifted data (rotated and noisy MNIST, font-rendered digits, Fashion-MNIST).
 * Tables (`bradshawTables`), report rows and claims (`bradshawRows`), figures and the markdown section.
 */
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { getAttack, resolveParams, type ClassifierAttackSpec, type ParamValues } from '../core/attacks';
import { ProbeError } from '../core/errors';
import {
  attackOutcomes, BRADSHAW_MODELS, extraPerturbation, fgsmErrorAndLl, FONT_DIGITS_BIN, FONT_DIGITS_DIR, FONT_DIGITS_JSON, isUncertain, l2PerImage,
  meanPredictiveVariance, parseFontDigits, pickImages, rotateImages, scoreSet, summariseOutcomes,
  type AttackOutcomes, type AttackSummary, type ExtraPerturbation, type FgsmLlPoint, type FontDigits, type ImageSet, type ProbabilisticScore,
} from '../core/metrics/reproduce-bradshaw';
import {
  asFraction, compareRates, paperClaim, paperInfo, paperNumber, type Comparison, type PaperData, type PaperNumber,
} from '../core/metrics/reproduce-papers';
import { compareMeans, gaussianNoise } from '../core/metrics/reproduce-szegedy';
import type { Classifier, Uncertain } from '../core/models/types';
import { loadFashionMnist, type Dataset } from './data';
import { loadShippedClassifier, readCard, type ModelCard } from './models';
import type { ClaimRow, ResultRow } from './reproduce';
import { lineChart, type Series } from './svg';

/** The section's two figures. */
export const BRADSHAW_FIGURES = { fgsmError: 'bradshaw-fgsm-error-vs-eps.svg', fgsmLl: 'bradshaw-fgsm-ll-vs-eps.svg' } as const;

/**
 * The reduced CW-L2 search of this section (registry attack `cw-l2`, untargeted, κ = 0): 4 constants from
 * c₀ = 0.1, at most 50 Adam steps each, abort-early checks every 5 steps (registry defaults: 9 constants
 * from 1e-3, 1000 steps each), so that the section fits its 10-minute budget on 2 cores.
 */
export const BRADSHAW_CW_PARAMS: Readonly<ParamValues> = { binarySteps: 4, maxIterations: 50, initialConst: 0.1, abortChecks: 10 };
/** Shifted MNIST: rotation angle (degrees), Gaussian noise stddev and its seed. */
export const ROTATION_DEG = 45;
export const NOISE_SD = 0.3;
export const NOISE_SEED = 2017;
/** Images attacked with CW-L2 on each model in the full run: the paper's 1,000 (the reduced search below keeps it to minutes). */
export const BRADSHAW_FULL_CW_N = 1000;
/** The paper's full MNIST test set (for the comparison's standard errors). */
const PAPER_TEST_N = 10000;

type Which = 'nn' | 'gpdnn';
const WHICH: readonly Which[] = ['nn', 'gpdnn'];

/** Sizes of the section. */
export interface BradshawPlan {
  /** MNIST test images for accuracy and log-likelihood (10,000 in the full run). */
  readonly n: number;
  readonly eps: readonly number[];
  /** Images of the FGSM curves. */
  readonly fgsmN: number;
  /** Images attacked with CW-L2 on each model (BRADSHAW_FULL_CW_N in the full run; the paper: 1,000). */
  readonly cwN: number;
  /** Images per shifted MNIST / Fashion-MNIST set (the font digits are always all used). */
  readonly shiftN: number;
}

/** The section's sizes from the run's: quick runs attack 50 images with CW-L2; --n caps every size. */
export function bradshawPlan(quick: boolean, n: number | undefined, mnistN: number, eps: readonly number[]): BradshawPlan {
  const base = Math.min(n ?? (quick ? 500 : Infinity), mnistN);
  return { n: base, eps, fgsmN: Math.min(base, 1000), cwN: Math.min(base, quick ? 50 : BRADSHAW_FULL_CW_N), shiftN: base };
}

/** One shifted test set and both models' scores on it. */
export interface ShiftedRow {
  readonly id: 'mnist' | 'rotated' | 'noisy' | 'fonts' | 'fashion';
  readonly name: string;
  readonly n: number;
  /** False when the classes are not digits (Fashion-MNIST): no accuracy or log-likelihood. */
  readonly labelled: boolean;
  readonly nn: ProbabilisticScore;
  readonly gpdnn: ProbabilisticScore;
  /** The GPDNN's mean predictive variance of f over images and classes. */
  readonly gpdnnVariance: number;
}

/** The section's measurements (reproduction.json's `bradshaw`). */
export interface BradshawResult {
  readonly models: { readonly nn: string; readonly gpdnn: string };
  readonly plan: BradshawPlan;
  readonly clean: Readonly<Record<Which, ProbabilisticScore>>;
  readonly fgsm: Readonly<Record<Which, readonly FgsmLlPoint[]>>;
  readonly cw: {
    readonly params: ParamValues;
    readonly n: number;
    readonly nn: AttackSummary;
    readonly gpdnn: AttackSummary;
    /** GPDNN minus NN, over the images both attacks fooled. */
    readonly extra: ExtraPerturbation;
    readonly seconds: Readonly<Record<Which, number>>;
  };
  /** Successful CW-L2 adversarials of one model, scored by both. */
  readonly transfer: readonly { readonly craftedOn: Which; readonly count: number; readonly nn: ProbabilisticScore; readonly gpdnn: ProbabilisticScore }[];
  readonly shifted: readonly ShiftedRow[];
  readonly fonts: { readonly families: readonly string[]; readonly variants: number; readonly sizesPx: readonly number[] };
  /** The GP's prior variance of f (kernel variance, models/mnist-gpdnn/card.json): Var[f] far from every inducing point. */
  readonly gpPriorVariance: number;
}

/** The committed font-rendered digits (assets/data/font-digits.*; see training/font-digits.ts). */
export function loadFontDigits(dir = FONT_DIGITS_DIR): FontDigits {
  let meta: unknown;
  let bytes: Uint8Array;
  try {
    meta = JSON.parse(readFileSync(join(dir, FONT_DIGITS_JSON), 'utf8')) as unknown;
    bytes = new Uint8Array(gunzipSync(readFileSync(join(dir, FONT_DIGITS_BIN))));
  } catch (e) {
    throw new ProbeError('BAD_INPUT', `font digits: cannot read ${join(dir, FONT_DIGITS_JSON)} and ${FONT_DIGITS_BIN} (${e instanceof Error ? e.message : String(e)})`);
  }
  return parseFontDigits(meta, bytes);
}

async function loadPair(): Promise<{ nn: Classifier; gpdnn: Uncertain }> {
  const nn = await loadShippedClassifier(BRADSHAW_MODELS.nn);
  let gpdnn: Classifier;
  try {
    gpdnn = await loadShippedClassifier(BRADSHAW_MODELS.gpdnn);
  } catch (e) {
    nn.dispose();
    throw e;
  }
  if (!isUncertain(gpdnn)) {
    nn.dispose();
    gpdnn.dispose();
    throw new ProbeError('MODEL_LOAD_FAILED', `${BRADSHAW_MODELS.gpdnn} did not load as a model with predictive probabilities`);
  }
  return { nn, gpdnn };
}

/** Argmax of the logits (the CW attack's own success criterion) of a flat batch. */
async function logitClasses(m: Classifier, images: Float32Array, n: number, batch = 500): Promise<Int32Array> {
  const out = new Int32Array(n);
  for (let s = 0; s < n; s += batch) {
    const e = Math.min(n, s + batch);
    const p = tf.tidy(() => tf.argMax(m.logits(tf.tensor4d(images.subarray(s * 784, e * 784), [e - s, 28, 28, 1])), 1));
    out.set((await p.data()) as Int32Array, s);
    p.dispose();
  }
  return out;
}

/** Untargeted CW-L2 on the first n images (batches of `batch`): per-image outcomes and the adversarials. */
async function cwOn(m: Classifier, spec: ClassifierAttackSpec, params: ParamValues, test: Dataset, n: number, batch = 250): Promise<{ outcomes: AttackOutcomes; adv: Float32Array }> {
  const x = test.images.subarray(0, n * 784);
  const labels = test.labels.subarray(0, n);
  const adv = new Float32Array(n * 784);
  for (let s = 0; s < n; s += batch) {
    const e = Math.min(n, s + batch);
    const xT = tf.tensor4d(x.subarray(s * 784, e * 784), [e - s, 28, 28, 1]);
    const yT = tf.tensor1d(Int32Array.from(labels.subarray(s, e)), 'int32');
    try {
      const r = await spec.run(m, xT, { params, y: yT, targeted: false });
      adv.set((await r.adv.data()) as Float32Array, s * 784);
      r.adv.dispose();
    } finally {
      tf.dispose([xT, yT]);
    }
  }
  const clean = await logitClasses(m, x, n);
  const after = await logitClasses(m, adv, n);
  return { outcomes: attackOutcomes(labels, clean, after, l2PerImage(x, adv, 784)), adv };
}

/** Runs the section's measurements on the first images of the MNIST test set. */
export async function bradshawTables(plan: BradshawPlan, test: Dataset, log: (line: string) => void): Promise<BradshawResult> {
  const fgsm = getAttack('fgsm');
  const cwSpec = getAttack('cw-l2');
  if (!fgsm || fgsm.model !== 'classifier' || !cwSpec || cwSpec.model !== 'classifier') throw new ProbeError('INTERNAL', 'the registry lacks fgsm or cw-l2');
  const models = await loadPair();
  try {
    const both = async (f: (m: Classifier, w: Which) => Promise<ProbabilisticScore>): Promise<Record<Which, ProbabilisticScore>> =>
      ({ nn: await f(models.nn, 'nn'), gpdnn: await f(models.gpdnn, 'gpdnn') });
    const clean = await both((m) => scoreSet(m, test, { n: plan.n }));
    log(`  clean MNIST (${plan.n}): accuracy ${clean.nn.accuracy.toFixed(4)} / ${clean.gpdnn.accuracy.toFixed(4)}, LL ${clean.nn.logLikelihood.toFixed(4)} / ${clean.gpdnn.logLikelihood.toFixed(4)} (NN / GPDNN)`);

    const fgsmParams = resolveParams(fgsm, {});
    const curves: Record<Which, FgsmLlPoint[]> = { nn: [], gpdnn: [] };
    for (const w of WHICH) curves[w] = await fgsmErrorAndLl(models[w], fgsm, fgsmParams, test, plan.eps, { n: plan.fgsmN });
    log(`  FGSM curves on ${plan.fgsmN} images, ${plan.eps.length} values of ε`);

    const cwParams = resolveParams(cwSpec, BRADSHAW_CW_PARAMS);
    const cwRuns = {} as Record<Which, { outcomes: AttackOutcomes; adv: Float32Array }>;
    const seconds = {} as Record<Which, number>;
    for (const w of WHICH) {
      const s0 = performance.now();
      cwRuns[w] = await cwOn(models[w], cwSpec, cwParams, test, plan.cwN);
      seconds[w] = (performance.now() - s0) / 1000;
      const sm = summariseOutcomes(cwRuns[w].outcomes);
      log(`  CW-L2 on ${models[w].id}: ${sm.failed} of ${sm.attacked} attacks failed, mean L2 ${sm.meanL2.toFixed(3)} (${seconds[w].toFixed(1)} s)`);
    }
    const extra = extraPerturbation(cwRuns.nn.outcomes, cwRuns.gpdnn.outcomes);

    const transfer: BradshawResult['transfer'][number][] = [];
    for (const w of WHICH) {
      const idx = cwRuns[w].outcomes.success.flatMap((ok, i) => (ok ? [i] : []));
      if (idx.length === 0) continue;
      const adv = pickImages(cwRuns[w].adv, test.labels.subarray(0, plan.cwN), idx);
      const s = await both((m) => scoreSet(m, adv));
      transfer.push({ craftedOn: w, count: idx.length, ...s });
    }

    const k = plan.shiftN;
    const head = test.images.subarray(0, k * 784);
    const labels = test.labels.subarray(0, k);
    const fonts = loadFontDigits();
    const fashion = loadFashionMnist('test');
    const sets: { id: ShiftedRow['id']; name: string; set: ImageSet }[] = [
      { id: 'rotated', name: `MNIST rotated by ${ROTATION_DEG}°`, set: { images: rotateImages(head, 28, ROTATION_DEG), labels, n: k } },
      { id: 'noisy', name: `MNIST + Gaussian noise σ = ${NOISE_SD} (clipped to [0, 1])`, set: { images: gaussianNoise(head, NOISE_SD, NOISE_SEED), labels, n: k } },
      { id: 'fonts', name: `digits rendered from ${fonts.families.length} fonts`, set: fonts },
      { id: 'fashion', name: 'Fashion-MNIST (not digits: no labels)', set: { images: fashion.images.subarray(0, Math.min(k, fashion.n) * 784), n: Math.min(k, fashion.n) } },
    ];
    const shifted: ShiftedRow[] = [{ id: 'mnist', name: 'MNIST (no shift)', n: plan.n, labelled: true, ...clean, gpdnnVariance: await meanPredictiveVariance(models.gpdnn, test.images, plan.n) }];
    for (const s of sets) {
      const sc = await both((m) => scoreSet(m, s.set));
      const gpdnnVariance = await meanPredictiveVariance(models.gpdnn, s.set.images, s.set.n);
      shifted.push({ id: s.id, name: s.name, n: s.set.n, labelled: s.set.labels !== undefined, ...sc, gpdnnVariance });
      log(`  ${s.name} (${s.set.n}): LL ${sc.nn.logLikelihood.toFixed(3)} / ${sc.gpdnn.logLikelihood.toFixed(3)}, confidence ${sc.nn.meanConfidence.toFixed(3)} / ${sc.gpdnn.meanConfidence.toFixed(3)} (NN / GPDNN)`);
    }
    return {
      models: { nn: models.nn.id, gpdnn: models.gpdnn.id }, plan, clean, fgsm: curves,
      cw: { params: cwParams, n: plan.cwN, nn: summariseOutcomes(cwRuns.nn.outcomes), gpdnn: summariseOutcomes(cwRuns.gpdnn.outcomes), extra, seconds },
      transfer, shifted, fonts: { families: fonts.families, variants: fonts.variants.length, sizesPx: [...new Set(fonts.variants.map((v) => v.sizePx))].sort((a, b) => a - b) },
      gpPriorVariance: Number((readCard(BRADSHAW_MODELS.gpdnn).kernel as { variance?: unknown } | undefined)?.variance ?? Number.NaN),
    };
  } finally {
    models.nn.dispose();
    models.gpdnn.dispose();
  }
}

const f3 = (v: number): string => (Number.isFinite(v) ? v.toFixed(3) : '—');
const pct = (v: number): string => (Number.isFinite(v) ? `${(100 * v).toFixed(1)}%` : '—');

/** A measured number beside the paper's (unit '': fractions and log-likelihoods are shown as the paper writes them, three decimals). */
function beside(
  data: PaperData, table: ResultRow['table'], id: string, model: string, quantity: string, measured: number, count: number,
  comparison: (p: number) => Comparison, reason: (c: Comparison) => string,
): ResultRow {
  const p: PaperNumber = paperNumber(data, id);
  const value = asFraction(p);
  const c = comparison(value);
  return {
    table, model, quantity, measured, unit: '', count, comparison: c, note: c.agrees ? undefined : reason(c),
    paper: { id, value, text: p.value.toFixed(3), section: p.source.section },
  };
}

/** What the model cards say about the two models' training (facts for the reason lines). */
function recipes(cards: Readonly<Record<Which, ModelCard>>): Record<Which, string> {
  const c = (w: Which): string => `${String(cards[w].optimizer ?? '?')}, ${String(cards[w].epochs ?? '?')} epochs`;
  const init = cards.gpdnn.initialisedFrom as { id?: unknown } | undefined;
  return {
    nn: `our NN twin: ${c('nn')} (models/${BRADSHAW_MODELS.nn}/card.json); papers.md does not describe the paper's arch. A or its training`,
    gpdnn: `our GPDNN: ${String(cards.gpdnn.inducingPoints ?? '?')} inducing points, ${init?.id ? `CNN initialised from ${String(init.id)}, then ` : ''}${c('gpdnn')} end to end (models/${BRADSHAW_MODELS.gpdnn}/card.json); papers.md does not describe the paper's arch. C or its training`,
  };
}

/** Adds the section's rows (published numbers beside ours) and its claims. */
export function bradshawRows(data: PaperData, r: BradshawResult, rows: ResultRow[], claims: ClaimRow[], cards?: Readonly<Record<Which, ModelCard>>): void {
  const facts = recipes(cards ?? { nn: readCard(BRADSHAW_MODELS.nn), gpdnn: readCard(BRADSHAW_MODELS.gpdnn) });
  const id = (w: Which): string => r.models[w];
  const dir = (c: Comparison, higher: string, lower: string): string => (c.difference > 0 ? higher : lower);
  // Classification: accuracy and log-likelihood on clean MNIST (the paper's transfer-testing MNIST row).
  for (const w of WHICH) {
    const s = r.clean[w];
    rows.push(
      beside(data, 'bradshaw-clean', `bradshaw.shift.mnist.${w}.accuracy`, id(w), 'accuracy, MNIST test', s.accuracy, s.n, (p) => compareRates(s.accuracy, p, s.n, PAPER_TEST_N), () => facts[w]),
      beside(data, 'bradshaw-clean', `bradshaw.shift.mnist.${w}.ll`, id(w), 'log-likelihood (nats per image), MNIST test', s.logLikelihood, s.n,
        (p) => compareMeans(s.logLikelihood, p, s.logLikelihoodSd, s.n), (c) => `${dir(c, 'ours is closer to 0 (better)', 'ours is lower (worse)')}; ${facts[w]}`),
    );
  }
  // CW-L2: failures on the GPDNN and the extra perturbation it needs.
  const g = r.cw.gpdnn;
  const nn = r.cw.nn;
  const e = r.cw.extra;
  const cwWhy = `hypothesis: our GPDNN shares its CNN features with the NN twin it was initialised from, and CW-L2 here attacks the GPDNN's predictive mean of f as logits `
    + `(smooth, no saturation), with a reduced search (${JSON.stringify(BRADSHAW_CW_PARAMS)}); the NN needs a mean L2 of ${f3(nn.meanL2)}, the GPDNN ${f3(g.meanL2)}`;
  const failed = paperNumber(data, 'bradshaw.cw.mnist.failed');
  const images = paperNumber(data, 'bradshaw.cw.mnist.images');
  const failRate = g.attacked > 0 ? g.failed / g.attacked : Number.NaN;
  const fc = compareRates(failRate, failed.value / images.value, g.attacked, images.value);
  rows.push({
    table: 'bradshaw-cw', model: id('gpdnn'), quantity: `CW-L2: share of attacks that failed (${g.failed} of ${g.attacked})`, measured: failRate, unit: '', count: g.attacked,
    comparison: fc, note: fc.agrees ? undefined : cwWhy,
    paper: { id: failed.id, value: failed.value / images.value, text: `${failed.value} of ${images.value}`, section: failed.source.section },
  });
  rows.push(beside(data, 'bradshaw-cw', 'bradshaw.cw.mnist.extraL2', `${id('gpdnn')} − ${id('nn')}`, `CW-L2: extra L2 perturbation of the successful attacks on the GPDNN (${e.count} images both attacks fooled)`,
    e.meanExtra, e.count, (p) => compareMeans(e.meanExtra, p, e.sdExtra, e.count), () => cwWhy));
  rows.push({
    table: 'bradshaw-cw', model: id('nn'), quantity: `CW-L2: share of attacks that failed (${nn.failed} of ${nn.attacked})`,
    measured: nn.attacked > 0 ? nn.failed / nn.attacked : Number.NaN, unit: '', count: nn.attacked, note: 'the paper gives no number for the NN',
  });
  // Transfer of the successful CW-L2 adversarials between the two models.
  for (const t of r.transfer) {
    for (const w of WHICH) {
      const s = t[w];
      const key = `bradshaw.transfer.${t.craftedOn}.${w}`;
      const self = t.craftedOn === w;
      const what = `crafted on ${id(t.craftedOn)} (${t.count} successful CW-L2 adversarials)`;
      rows.push(
        beside(data, 'bradshaw-transfer', `${key}.error`, id(w), `error, ${what}`, 1 - s.accuracy, s.n, (p) => compareRates(1 - s.accuracy, p, s.n, paperNumber(data, 'bradshaw.cw.mnist.images').value),
          (c) => (self
            ? 'only successful adversarials are kept, so the crafting model errs on (almost) all of them; the GPDNN is scored by its predictive probabilities, the attack by its predictive mean'
            : `${dir(c, 'our adversarials transfer more: our GPDNN\'s CNN was initialised from the NN twin, so the two share most of their features (the paper\'s NN and GPDNN have different architectures, A and C)', 'our adversarials transfer less')}; ${t.craftedOn === 'gpdnn' ? facts.gpdnn : facts.nn}`)),
        beside(data, 'bradshaw-transfer', `${key}.ll`, id(w), `log-likelihood, ${what}`, s.logLikelihood, s.n, (p) => compareMeans(s.logLikelihood, p, s.logLikelihoodSd, s.n),
          (c) => (self
            ? `${dir(c, 'our minimal adversarials sit closer to the decision boundary than the paper\'s', 'hypothesis: our reduced CW-L2 search stops further past the decision boundary than a full search would')}`
            : `${dir(c, 'the other model is more confident in the true class on our adversarials', 'the other model is less sure of the true class on our adversarials, which fool it more often than the paper\'s (error row above)')}; ${facts[w]}`)),
      );
    }
  }

  const claim = (cid: string, measured: string, verdict: ClaimRow['verdict']): ClaimRow => {
    const c = paperClaim(data, cid);
    return { id: cid, claim: c.claim, section: c.source.section, figure: c.source.figure, measured, verdict };
  };
  // More robust: more failures than on the NN, and a positive extra perturbation beyond 2 standard errors.
  const nnFail = nn.attacked > 0 ? nn.failed / nn.attacked : Number.NaN;
  const moreFailures = compareRates(failRate, nnFail, g.attacked, nn.attacked);
  const failsMore = failRate > nnFail && !moreFailures.agrees;
  const se = e.count > 1 ? e.sdExtra / Math.sqrt(e.count) : Infinity;
  const needsMore = e.meanExtra > 2 * se;
  claims.push(claim('bradshaw.cw.moreRobust',
    `GPDNN: ${g.failed} of ${g.attacked} CW-L2 attacks failed (${pct(failRate)}), NN: ${nn.failed} of ${nn.attacked} (${pct(nnFail)}); over the ${e.count} images both attacks fooled, `
    + `the GPDNN needed ${e.meanExtra >= 0 ? '' : '−'}${f3(Math.abs(e.meanExtra))} ${e.meanExtra >= 0 ? 'more' : 'less'} L2 (mean ${f3(e.meanB)} vs ${f3(e.meanA)}; 2 standard errors: ${f3(2 * se)})`,
    failsMore && needsMore ? 'reproduced' : failsMore || needsMore ? 'partly' : 'not reproduced'));
  // Calibration under shift: the GPDNN's log-likelihood is higher on every labelled shifted set.
  const shiftedLabelled = r.shifted.filter((s) => s.id !== 'mnist' && s.labelled);
  const higher = shiftedLabelled.filter((s) => s.gpdnn.logLikelihood > s.nn.logLikelihood);
  const fashion = r.shifted.find((s) => s.id === 'fashion');
  const cleanVar = r.shifted.find((s) => s.id === 'mnist')?.gpdnnVariance ?? Number.NaN;
  const varRises = r.shifted.filter((s) => s.id !== 'mnist' && s.gpdnnVariance > cleanVar);
  claims.push(claim('bradshaw.shift.calibrated',
    `GPDNN log-likelihood higher than the NN's on ${higher.length} of ${shiftedLabelled.length} shifted digit sets (`
    + `${shiftedLabelled.map((s) => `${s.id}: ${f3(s.gpdnn.logLikelihood)} vs ${f3(s.nn.logLikelihood)}`).join('; ')})`
    + (fashion ? `; on Fashion-MNIST (no digit labels) mean confidence ${pct(fashion.gpdnn.meanConfidence)} vs ${pct(fashion.nn.meanConfidence)}, entropy ${f3(fashion.gpdnn.meanEntropy)} vs ${f3(fashion.nn.meanEntropy)} nats (GPDNN vs NN)` : '')
    + (higher.length === shiftedLabelled.length && higher.length > 0 ? '' : `. Where it does not hold, a reason (a hypothesis from these numbers): the GPDNN's mean predictive variance of f `
      + `${varRises.length === 0 ? 'does not rise on any shifted set' : `rises on ${varRises.map((s) => s.id).join(', ')} only`} `
      + `(${r.shifted.map((s) => `${s.id} ${f3(s.gpdnnVariance)}`).join(', ')}; the prior's, far from every inducing point: ${f3(r.gpPriorVariance)}), `
      + 'so in the feature space of its CNN (initialised from the NN twin) the shifted images do not look far from the training data, and its robust-max probabilities are as confident as a softmax'),
    higher.length === shiftedLabelled.length && higher.length > 0 ? 'reproduced' : higher.length > 0 ? 'partly' : 'not reproduced'));
}

/** The FGSM error and log-likelihood charts. */
export function bradshawFigures(r: BradshawResult, put: (name: string, body: string) => void): void {
  const colors: Record<Which, string> = { nn: '#4e79a7', gpdnn: '#e15759' };
  const series = (f: (p: FgsmLlPoint) => number): Series[] => WHICH.map((w) => ({ name: r.models[w], color: colors[w], points: r.fgsm[w].map((p) => [p.eps, f(p)] as const) }));
  const n = r.plan.fgsmN.toLocaleString('en-US');
  const xDomain = [r.plan.eps[0], r.plan.eps[r.plan.eps.length - 1]] as const;
  put(BRADSHAW_FIGURES.fgsmError, lineChart({
    title: `FGSM error vs ε, GPDNN and its NN twin (${n} MNIST test images)`, xLabel: 'ε (L∞, pixels in [0, 1])', yLabel: 'error on adversarial examples (%)',
    series: series((p) => 100 * p.error), xDomain, yDomain: [0, 100],
  }));
  put(BRADSHAW_FIGURES.fgsmLl, lineChart({
    title: `FGSM log-likelihood vs ε (${n} MNIST test images)`, xLabel: 'ε (L∞, pixels in [0, 1])', yLabel: 'mean log p(true label | x′) (nats)',
    series: series((p) => p.logLikelihood), xDomain,
  }));
}

/** ε where a rising error curve first reaches `level` (linear interpolation), or undefined. */
function epsAt(curve: readonly FgsmLlPoint[], level: number): number | undefined {
  for (let i = 1; i < curve.length; i++) {
    const a = curve[i - 1];
    const b = curve[i];
    if (a.error < level && b.error >= level) return a.eps + ((level - a.error) / (b.error - a.error)) * (b.eps - a.eps);
  }
  return curve.length > 0 && curve[0].error >= level ? curve[0].eps : undefined;
}

/** The registry's default values of the CW-L2 parameters this section reduces. */
function cwDefaults(): string {
  const spec = getAttack('cw-l2');
  if (!spec || spec.model !== 'classifier') return 'not registered';
  const d = resolveParams(spec, {});
  return Object.keys(BRADSHAW_CW_PARAMS).map((k) => `${k} ${String(d[k])}`).join(', ');
}

/** The report's section on Bradshaw et al. */
export function bradshawSection(r: BradshawResult, data: PaperData, table: (t: ResultRow['table']) => string, claims: readonly ClaimRow[]): string[] {
  const p = paperInfo(data, 'bradshaw2017');
  const esc = (s: string): string => s.replace(/\|/g, '\\|');
  const L: string[] = [];
  L.push(`## ${p.authors} ${p.year}: ${p.title}`, '');
  L.push(`- **Models**: \`${r.models.gpdnn}\` (GPDNN: CNN features → sparse variational GP, robust-max likelihood) and its twin \`${r.models.nn}\` (the same CNN with a softmax head). `
    + 'Probabilities: the GPDNN\'s predictive (robust-max) probabilities under q(f), the NN\'s softmax; LL = mean over images of log p(true label | x) in nats; accuracy = the most probable class.');
  L.push(`- **Sizes**: accuracy and LL on the first ${r.plan.n.toLocaleString('en-US')} MNIST test images; FGSM on the first ${r.plan.fgsmN.toLocaleString('en-US')} (ε ∈ {${r.plan.eps.join(', ')}}); `
    + `CW-L2 on the first ${r.cw.n.toLocaleString('en-US')} (the paper: ${paperNumber(data, 'bradshaw.cw.mnist.images').value}${r.cw.n < paperNumber(data, 'bradshaw.cw.mnist.images').value ? '; fewer here to fit the section\'s time budget' : ''}); shifted sets of ${r.plan.shiftN.toLocaleString('en-US')} images (font digits: all ${r.shifted.find((s) => s.id === 'fonts')?.n ?? 0}).`);
  L.push(`- **CW-L2**: the registry's \`cw-l2\`, untargeted (κ = 0), only on images the model classifies correctly, with a reduced search to fit the time budget: ${JSON.stringify(r.cw.params)} `
    + `(${r.cw.seconds.nn.toFixed(1)} s on the NN, ${r.cw.seconds.gpdnn.toFixed(1)} s on the GPDNN). An attack fails when the model (argmax of its logits; for the GPDNN the predictive mean of f) still gives the true label; `
    + 'the extra perturbation is the mean of ‖x′_GPDNN − x‖₂ − ‖x′_NN − x‖₂ over the images both attacks fooled.');
  L.push('- **Agreement**: a rate as in the sections above; a log-likelihood or a mean perturbation within max(10% of the paper\'s value, 2 standard errors of our mean). '
    + 'Fractions and log-likelihoods are shown as the paper writes them, with three decimals.', '');
  L.push('### Classification on MNIST', '', table('bradshaw-clean'), '');

  L.push('### FGSM: error and log-likelihood vs ε', '', `![FGSM error vs ε](${BRADSHAW_FIGURES.fgsmError})`, '', `![FGSM log-likelihood vs ε](${BRADSHAW_FIGURES.fgsmLl})`, '');
  L.push(`| ε | \`${r.models.nn}\` error | \`${r.models.gpdnn}\` error | \`${r.models.nn}\` LL | \`${r.models.gpdnn}\` LL |`, '|---|---|---|---|---|');
  r.plan.eps.forEach((eps, i) => L.push(`| ${eps} | ${pct(r.fgsm.nn[i].error)} | ${pct(r.fgsm.gpdnn[i].error)} | ${f3(r.fgsm.nn[i].logLikelihood)} | ${f3(r.fgsm.gpdnn[i].logLikelihood)} |`));
  const half = WHICH.map((w) => `\`${r.models[w]}\` at ε ≈ ${epsAt(r.fgsm[w], 0.5)?.toFixed(3) ?? '— (not in the grid)'}`).join(', ');
  L.push('', `The error reaches 50% for ${half}. papers.md shows the paper's FGSM curves as figures without numbers, so these stand alone.`, '');

  L.push('### CW-L2: failed attacks and extra perturbation', '', table('bradshaw-cw'), '');
  L.push('### Transfer of the CW-L2 adversarials between NN and GPDNN', '', 'Rows: crafted on (its successful adversarials only); the paper\'s table also has a CIFAR-10 part and a second NN (DC), not reproduced here.', '');
  L.push(`| crafted on | n | \`${r.models.nn}\` error | \`${r.models.nn}\` LL | \`${r.models.gpdnn}\` error | \`${r.models.gpdnn}\` LL |`, '|---|---|---|---|---|---|');
  const paperCell = (k: string): string => `(${paperNumber(data, k).value.toFixed(3)})`;
  for (const t of r.transfer) {
    L.push(`| \`${r.models[t.craftedOn]}\` | ${t.count} | ${f3(1 - t.nn.accuracy)} ${paperCell(`bradshaw.transfer.${t.craftedOn}.nn.error`)} | ${f3(t.nn.logLikelihood)} ${paperCell(`bradshaw.transfer.${t.craftedOn}.nn.ll`)} | `
      + `${f3(1 - t.gpdnn.accuracy)} ${paperCell(`bradshaw.transfer.${t.craftedOn}.gpdnn.error`)} | ${f3(t.gpdnn.logLikelihood)} ${paperCell(`bradshaw.transfer.${t.craftedOn}.gpdnn.ll`)} |`);
  }
  L.push('', 'Measured (paper). Every cell beside the paper\'s, with the difference and the reason where they differ:', '', table('bradshaw-transfer'), '');

  L.push('### Transfer testing: trained on MNIST, tested on shifted data', '');
  L.push(`Our shifted sets (the paper's ANOMNIST, Semeion and SVHN are not available here): MNIST rotated by ${ROTATION_DEG}° (bilinear), MNIST plus Gaussian noise σ = ${NOISE_SD} (seed ${NOISE_SEED}, clipped), `
    + `the digits 0–9 in ${r.fonts.variants} font variants (${r.fonts.families.length} font families installed on the generating machine: ${r.fonts.families.join(', ')}; normal/bold, upright/italic, ${r.fonts.sizesPx.join('/')} px; assets/data/font-digits.*, training/font-digits.ts), `
    + 'preprocessed as the extension does, and Fashion-MNIST (clothes: no digit is right, so no accuracy or LL; a well-calibrated model should be unsure: low confidence, high entropy).', '');
  L.push(`| test set | n | \`${r.models.nn}\` acc. | \`${r.models.nn}\` LL | \`${r.models.gpdnn}\` acc. | \`${r.models.gpdnn}\` LL | confidence NN / GPDNN | entropy NN / GPDNN (nats) | GPDNN Var[f] |`, '|---|---|---|---|---|---|---|---|---|');
  for (const s of r.shifted) {
    L.push(`| ${esc(s.name)} | ${s.n.toLocaleString('en-US')} | ${f3(s.nn.accuracy)} | ${f3(s.nn.logLikelihood)} | ${f3(s.gpdnn.accuracy)} | ${f3(s.gpdnn.logLikelihood)} | `
      + `${pct(s.nn.meanConfidence)} / ${pct(s.gpdnn.meanConfidence)} | ${f3(s.nn.meanEntropy)} / ${f3(s.gpdnn.meanEntropy)} | ${f3(s.gpdnnVariance)} |`);
  }
  L.push('', `GPDNN Var[f]: mean predictive variance of the latent functions over images and classes (the GP prior's, far from every inducing point: ${f3(r.gpPriorVariance)}).`);
  const paperSets = [['anomnist', 'ANOMNIST'], ['semeion', 'Semeion'], ['svhn', 'SVHN']] as const;
  const v = (k: string): number => paperNumber(data, k).value;
  const paperHigher = paperSets.filter(([k]) => v(`bradshaw.shift.${k}.gpdnn.ll`) > v(`bradshaw.shift.${k}.nn.ll`)).length;
  L.push('', `The paper's shifted sets (§ ${paperNumber(data, 'bradshaw.shift.svhn.nn.ll').source.section}; different data, so not compared cell by cell): the GPDNN's LL is higher than the NN's on ${paperHigher} of ${paperSets.length}.`, '');
  L.push('| paper\'s test set | NN acc. | NN LL | GPDNN acc. | GPDNN LL |', '|---|---|---|---|---|');
  for (const [k, name] of paperSets) L.push(`| ${name} | ${v(`bradshaw.shift.${k}.nn.accuracy`).toFixed(3)} | ${v(`bradshaw.shift.${k}.nn.ll`).toFixed(3)} | ${v(`bradshaw.shift.${k}.gpdnn.accuracy`).toFixed(3)} | ${v(`bradshaw.shift.${k}.gpdnn.ll`).toFixed(3)} |`);
  L.push('', '### Qualitative claims', '', '| claim | source (papers.md) | measured here | verdict |', '|---|---|---|---|');
  for (const c of claims.filter((x) => x.id.startsWith('bradshaw.'))) L.push(`| ${esc(c.claim)} | § ${esc(c.section)}${c.figure ? `, ${c.figure}` : ''} | ${esc(c.measured)} | ${c.verdict} |`);
  L.push('', '### Not yet reproduced', '', '- the CIFAR-10 experiments and the second NN (DC) of the transfer table;', '- the paper\'s ANOMNIST, Semeion and SVHN sets (replaced by the shifted sets above);',
    `- CW-L2 with the registry's default search (${cwDefaults()}): here ${JSON.stringify(BRADSHAW_CW_PARAMS)}.`, '');
  return L;
}
