/**
 * Calibrates the thresholds of the defenses on real MNIST validation images and measures them on the
 * test set; writes the generated files models/mnist-vae/magnet.json and models/mnist-gpdnn/uncertainty.json.
 *
 *   npm run calibrate [-- --fpr 0.01 --n-val 10000 --n-test 10000 --backend wasm]   (the defaults)
 *
 * Validation = the last 10,000 of the 60,000 MNIST training images (from VALIDATION_START, the slice
 * training/maxout.ts holds out); the first --n-val of them are used. The test set is never used for a
 * threshold, only for the rates written beside it: clean images, and FGSM (ε = 0.1, 0.25, untargeted,
 * true labels) crafted on MagNet's classifier (mnist-lenet) and, for the GPDNN, on the GPDNN itself.
 * Measure on the whole test set (the default): its two halves differ (the second 5,000 are easier for
 * our models, and their clean flag rates are about half those of the first 5,000).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { NODE_BACKENDS, useNodeBackend, type NodeBackend } from '../src/cli/backend';
import { loadMnist, type Dataset } from '../src/cli/data';
import { loadShippedClassifier, loadShippedVae, MODELS_DIR } from '../src/cli/models';
import { CLASSIFIER_ATTACKS, resolveParams } from '../src/core/attacks';
import {
  MAGNET_FILE, parseMagnetCalibrationFile, parseUncertaintyCalibrationFile, UNCERTAINTY_FILE,
  type CalibrationSplit, type CleanTestCheck, type MeasuredRates,
} from '../src/core/defenses/calibration';
import { evaluateDefenses, type ConditionReport, type DefenseSuite } from '../src/core/defenses/evaluate';
import { magnet, type ReconstructionMetric } from '../src/core/defenses/magnet';
import { binomialConsistent, binomialTails, calibrateThreshold } from '../src/core/defenses/threshold';
import { gpUncertainty, isUncertain } from '../src/core/defenses/uncertainty';
import { ProbeError } from '../src/core/errors';
import { VALIDATION_START } from '../src/core/metrics/reproduce-papernot';
import type { Classifier } from '../src/core/models/types';
import { fmtSeconds, log } from './common';

const VAE_ID = 'mnist-vae';
const REFORMER_ID = 'mnist-lenet';
const GPDNN_ID = 'mnist-gpdnn';
const METRIC: ReconstructionMetric = 'l1';
const FGSM_EPS = [0.1, 0.25] as const;
const BATCH = 100;

interface Options {
  readonly fpr: number;
  readonly nVal: number;
  readonly nTest: number;
  readonly backend: NodeBackend;
}

function parseOptions(argv: readonly string[]): Options {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i];
    const v = argv[i + 1];
    if (!k.startsWith('--') || v === undefined) throw new ProbeError('BAD_INPUT', `expected --flag value pairs, got "${argv.slice(i).join(' ')}"`);
    flags.set(k.slice(2), v);
  }
  const known = new Set(['fpr', 'n-val', 'n-test', 'backend']);
  for (const k of flags.keys()) if (!known.has(k)) throw new ProbeError('BAD_INPUT', `unknown flag --${k}; known: ${[...known].map((x) => `--${x}`).join(' ')}`);
  const num = (k: string, def: number, ok: (v: number) => boolean, what: string): number => {
    const v = flags.has(k) ? Number(flags.get(k)) : def;
    if (!Number.isFinite(v) || !ok(v)) throw new ProbeError('BAD_INPUT', `--${k} must be ${what}`);
    return v;
  };
  const backend = flags.get('backend') ?? 'wasm';
  if (!(NODE_BACKENDS as readonly string[]).includes(backend)) throw new ProbeError('BAD_INPUT', `--backend must be one of ${NODE_BACKENDS.join(', ')}`);
  const maxVal = 60000 - VALIDATION_START;
  return {
    fpr: num('fpr', 0.01, (v) => v > 0 && v < 1, 'in (0, 1)'),
    nVal: num('n-val', 10000, (v) => Number.isInteger(v) && v > 0 && v <= maxVal, `an integer in [1, ${maxVal}]`),
    nTest: num('n-test', 10000, (v) => Number.isInteger(v) && v > 0 && v <= 10000, 'an integer in [1, 10000]'),
    backend: backend as NodeBackend,
  };
}

/** Scores of `score` over images [start, start + n) of `ds`, batched. */
async function scoresOver(ds: Dataset, start: number, n: number, score: (x: tf.Tensor4D) => Promise<ArrayLike<number>>): Promise<Float32Array> {
  const out = new Float32Array(n);
  for (let s = 0; s < n; s += BATCH) {
    const e = Math.min(n, s + BATCH);
    const x = tf.tensor4d(ds.images.subarray((start + s) * 784, (start + e) * 784), [e - s, 28, 28, 1]);
    try {
      out.set(Array.from(await score(x)), s);
    } finally {
      x.dispose();
    }
  }
  return out;
}

function rates(r: ConditionReport, which: 'magnet' | 'gpdnn'): MeasuredRates {
  if (which === 'magnet') {
    const m = r.magnet!;
    return { flaggedRate: m.detectionRate, flaggedRateOnFooled: m.detectionRateOnFooled, accuracy: r.accuracy, reformedAccuracy: m.reformedAccuracy };
  }
  const g = r.gpdnn!;
  return { flaggedRate: g.unsureRate, flaggedRateOnFooled: g.unsureRateOnFooled, accuracy: g.accuracy };
}

async function measure(suite: DefenseSuite, test: Dataset, nTest: number, which: 'magnet' | 'gpdnn') {
  const fgsm = CLASSIFIER_ATTACKS.find((a) => a.id === 'fgsm')!;
  let clean: MeasuredRates | undefined;
  const adv: (MeasuredRates & { eps: number })[] = [];
  for (const eps of FGSM_EPS) {
    const t0 = performance.now();
    const r = await evaluateDefenses(suite, test, { n: nTest, batch: BATCH, attack: { spec: fgsm, params: resolveParams(fgsm, { eps }) } });
    clean ??= rates(r.clean, which);
    adv.push({ eps, ...rates(r.adversarial!, which) });
    log(`${which}: FGSM eps ${eps} on ${nTest} test images: ${JSON.stringify(adv[adv.length - 1])} (${fmtSeconds((performance.now() - t0) / 1000)})`);
  }
  return { attackedModel: suite.classifier.id, start: 0, n: nTest, clean: clean!, fgsm: adv };
}

/** Level of the binomial check of the clean test rate against the stated fpr. */
const CHECK_ALPHA = 0.001;

function cleanTestCheck(fpr: number, test: { n: number; clean: MeasuredRates }): CleanTestCheck {
  const flagged = Math.round(test.clean.flaggedRate * test.n);
  const t = binomialTails(flagged, test.n, fpr);
  return { n: test.n, flagged, alpha: CHECK_ALPHA, lowerTail: t.lower, upperTail: t.upper, consistent: binomialConsistent(flagged, test.n, fpr, CHECK_ALPHA) };
}

function logCheck(which: string, c: CleanTestCheck, fpr: number): void {
  log(`${which}: ${c.flagged} of ${c.n} clean test images flagged (${(100 * c.flagged / c.n).toFixed(2)}%, stated fpr ${100 * fpr}%): `
    + `${c.consistent ? 'consistent' : 'NOT consistent'} with Binomial(n, fpr) at alpha ${c.alpha} (P(X ≥ k) = ${c.upperTail.toPrecision(3)})`);
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  const t0 = performance.now();
  const backend = await useNodeBackend(opts.backend);
  const train = loadMnist('train');
  const test = loadMnist('test');
  const split: CalibrationSplit = {
    dataset: 'mnist', source: 'train', start: VALIDATION_START, end: VALIDATION_START + opts.nVal,
    note: `MNIST training images ${VALIDATION_START}..${VALIDATION_START + opts.nVal - 1} (the validation slice training/maxout.ts holds out). `
      + `${VAE_ID} and ${GPDNN_ID} were trained on all 60,000 training images, these included, so their scores here may be slightly `
      + 'lower than on unseen images: the clean test rate below is the check.',
  };
  const generatedBy = `npm run calibrate -- --fpr ${opts.fpr} --n-val ${opts.nVal} --n-test ${opts.nTest} --backend ${opts.backend}`;
  log(`calibrating on ${opts.nVal} validation images (fpr ${opts.fpr}), measuring on ${opts.nTest} test images; backend ${backend}`);

  // MagNet: reconstruction error of mnist-vae, reformer mnist-lenet.
  const vae = await loadShippedVae(VAE_ID);
  const lenet = await loadShippedClassifier(REFORMER_ID);
  try {
    const probe = magnet(vae, lenet, { metric: METRIC, threshold: 0 });
    const scores = await scoresOver(train, VALIDATION_START, opts.nVal, async (x) => (await probe.run(x)).scores);
    const th = calibrateThreshold(scores, opts.fpr);
    log(`magnet: threshold ${th.threshold} (${th.flagged} of ${th.n} validation images above it)`);
    const test1 = await measure({ classifier: lenet, magnet: magnet(vae, lenet, { metric: METRIC, threshold: th.threshold }) }, test, opts.nTest, 'magnet');
    const file = {
      format: 'magnet-calibration', model: VAE_ID, metric: METRIC,
      metricDescription: 'mean absolute pixel difference |x − r(x)| per image, r(x) = decode(encode(x).mean); flagged when > threshold',
      reformerClassifier: REFORMER_ID, fpr: opts.fpr, threshold: th.threshold, n: th.n, calibrationFlagged: th.flagged, split, test: test1,
      cleanTestCheck: cleanTestCheck(opts.fpr, test1),
      backend, tfjsVersion: tf.version.tfjs, seconds: Math.round((performance.now() - t0) / 100) / 10, generatedBy,
    };
    logCheck('magnet', file.cleanTestCheck, opts.fpr);
    parseMagnetCalibrationFile(file);
    writeFileSync(join(MODELS_DIR, VAE_ID, MAGNET_FILE), `${JSON.stringify(file, null, 2)}\n`);
    log(`wrote ${join(MODELS_DIR, VAE_ID, MAGNET_FILE)}`);
  } finally {
    vae.dispose();
    lenet.dispose();
  }

  // GPDNN: predictive entropy, FGSM crafted on the GPDNN itself.
  const t1 = performance.now();
  const gp: Classifier = await loadShippedClassifier(GPDNN_ID);
  try {
    if (!isUncertain(gp)) throw new ProbeError('MODEL_LOAD_FAILED', `${GPDNN_ID} reports no predictive uncertainty`);
    const entropies = await scoresOver(train, VALIDATION_START, opts.nVal, async (x) => (await gpUncertainty(gp, x)).entropy);
    const th = calibrateThreshold(entropies, opts.fpr);
    log(`gpdnn: entropy threshold ${th.threshold} nats (${th.flagged} of ${th.n} validation images above it)`);
    const calibration = { score: 'entropy' as const, threshold: th.threshold };
    const test2 = await measure({ classifier: gp, gpdnn: { model: gp, calibration } }, test, opts.nTest, 'gpdnn');
    const file = {
      format: 'uncertainty-calibration', model: GPDNN_ID, score: 'entropy',
      scoreDescription: 'predictive entropy −Σ p log p (nats) of the robust-max predictive probabilities; unsure when > threshold',
      fpr: opts.fpr, threshold: th.threshold, n: th.n, calibrationFlagged: th.flagged, split, test: test2,
      cleanTestCheck: cleanTestCheck(opts.fpr, test2),
      backend, tfjsVersion: tf.version.tfjs, seconds: Math.round((performance.now() - t1) / 100) / 10, generatedBy,
    };
    logCheck('gpdnn', file.cleanTestCheck, opts.fpr);
    parseUncertaintyCalibrationFile(file);
    writeFileSync(join(MODELS_DIR, GPDNN_ID, UNCERTAINTY_FILE), `${JSON.stringify(file, null, 2)}\n`);
    log(`wrote ${join(MODELS_DIR, GPDNN_ID, UNCERTAINTY_FILE)}`);
  } finally {
    gp.dispose();
  }
  log(`done in ${fmtSeconds((performance.now() - t0) / 1000)}`);
}

main().catch((e: unknown) => {
  console.error(e instanceof ProbeError ? JSON.stringify({ error: e.toInfo() }) : e);
  process.exit(e instanceof ProbeError && e.code === 'BAD_INPUT' ? 2 : 1);
});
