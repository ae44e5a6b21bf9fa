/**
 * Training of the GPDNN of Bradshaw et al. 2017 ("Adversarial examples, uncertainty, and transfer
 * testing robustness in Gaussian process hybrid deep networks") and its NN twin.
 *
 *   npm run train -- mnist-gpdnn-nn [--epochs N] [--seed S]      the CNN with a softmax head (LeNet of training/lenet.ts)
 *   npm run train -- mnist-gpdnn [--epochs N] [--seed S] [--inducing M]
 *       starts from models/mnist-gpdnn-nn: its layers up to fc1 (200 ReLU features) become the feature
 *       extractor, Z starts at k-means centres of training features, then the CNN, Z, kernel and q(v) are
 *       trained end to end on the minibatch ELBO (N/B scaling).
 */
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { useNodeBackend } from '../src/cli/backend';
import type { Dataset } from '../src/cli/data';
import { loadLayersModelFromDir, saveLayersModel } from '../src/cli/model-io';
import { dirModelFiles } from '../src/cli/models';
import { decodeGp, encodeGp, GP_BIN, parseGpJson, type GpHead } from '../src/core/gp/io';
import { choleskyJs, choleskyWithJitterJs, solveLowerJs, solveUpperTransposedJs } from '../src/core/gp/linalg';
import { DEFAULT_BETA, DEFAULT_QUADRATURE_POINTS, robustMaxExpectedLogLik } from '../src/core/gp/likelihood';
import { DEFAULT_JITTER, inducingInverseFactor, svgpElbo, svgpPredictMean, whitenedKl, type SvgpParams } from '../src/core/gp/svgp';
import { GPDNN_GP_JSON, loadGpdnn } from '../src/core/models/gpdnn';
import { describeArchitecture, fmtSeconds, loadDataset, log, mulberry32, shuffleInPlace, valueRange } from './common';
import { TRAIN_SPECS, trainSupervised, type TrainSpec } from './supervised';
import { buildLenet, LENET_HIDDEN_LAYER } from './lenet';

/** The NN twin: LeNet (training/lenet.ts) with its own seed, trained like mnist-lenet. */
export const GPDNN_NN_SPEC: TrainSpec = {
  dataset: 'mnist',
  build: buildLenet,
  defaultEpochs: 6,
  defaultSeed: 2,
  batchSize: 128,
  lr: { max: 1e-3, min: 1e-5 },
  dropout: { afterLayer: LENET_HIDDEN_LAYER, rate: 0.5 },
};

/** Trains mnist-gpdnn-nn through the generic supervised trainer (spec registered here, not in supervised.ts). */
export async function trainGpdnnNn(argv: string[]): Promise<void> {
  if (!('mnist-gpdnn-nn' in TRAIN_SPECS)) TRAIN_SPECS['mnist-gpdnn-nn'] = GPDNN_NN_SPEC;
  await trainSupervised(argv);
}

interface GpArgs {
  epochs: number;
  warmupEpochs: number;
  seed: number;
  inducing: number;
  out: string;
  from: string;
  trainLimit?: number;
  logEvery: number;
}

const GP_DEFAULTS = { epochs: 2, warmupEpochs: 5, seed: 1, inducing: 100, logEvery: 50 };
const FEATURE_LAYER = LENET_HIDDEN_LAYER;
const BETA = DEFAULT_BETA;
const QUAD = DEFAULT_QUADRATURE_POINTS;
const JITTER = DEFAULT_JITTER;
const CLASSES = 10;
/** Initial kernel variance. */
const VAR0 = 10;
/** Initial value of f at an inducing point of its own class (others 0), for the q(v) mean init. */
const TARGET0 = 3;

function parseGpArgs(argv: string[]): GpArgs {
  const usage = 'usage: npm run train -- mnist-gpdnn [--epochs N] [--warmup-epochs N] [--seed S] [--inducing M] ' +
    '[--from DIR] [--out DIR] [--train-limit N] [--log-every N]';
  if (argv[0] !== 'mnist-gpdnn') throw new Error(usage);
  const a: GpArgs = { ...GP_DEFAULTS, out: join('models', 'mnist-gpdnn'), from: join('models', 'mnist-gpdnn-nn') };
  for (let i = 1; i < argv.length; i++) {
    const [k, inline] = argv[i].replace(/^--/, '').split('=', 2);
    const v = inline ?? argv[++i];
    if (!argv[i - (inline == null ? 1 : 0)].startsWith('--') || v == null) throw new Error(usage);
    if (k === 'out') { a.out = v; continue; }
    if (k === 'from') { a.from = v; continue; }
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`bad option --${k} ${v}\n${usage}`);
    if (k === 'epochs') a.epochs = n;
    else if (k === 'warmup-epochs') a.warmupEpochs = n;
    else if (k === 'seed') a.seed = n;
    else if (k === 'inducing') a.inducing = n;
    else if (k === 'train-limit') a.trainLimit = n;
    else if (k === 'log-every') a.logEvery = n;
    else throw new Error(`unknown option --${k}\n${usage}`);
  }
  return a;
}

/** Features of every image of `ds` through `features`, [n, D] row-major. */
function computeFeatures(features: tf.LayersModel, ds: Dataset, batch = 500): Float32Array {
  const d = (features.outputs[0].shape as number[])[1];
  const out = new Float32Array(ds.n * d);
  for (let start = 0; start < ds.n; start += batch) {
    const size = Math.min(batch, ds.n - start);
    const f = tf.tidy(() => features.predict(
      tf.tensor4d(ds.images.subarray(start * 784, (start + size) * 784), [size, 28, 28, 1])) as tf.Tensor);
    out.set(f.dataSync(), start * d);
    f.dispose();
  }
  return out;
}

/** Seeded k-means (k-means++ start, Lloyd iterations) on rows of `x` [n, d]; returns k centres (float64). */
function kMeans(x: Float32Array, n: number, d: number, k: number, rand: () => number, iters = 20): Float64Array {
  const c = new Float64Array(k * d);
  const dist2 = (i: number, j: number): number => {
    let s = 0;
    for (let q = 0; q < d; q++) { const t = x[i * d + q] - c[j * d + q]; s += t * t; }
    return s;
  };
  const first = Math.floor(rand() * n);
  for (let q = 0; q < d; q++) c[q] = x[first * d + q];
  const best = new Float64Array(n).fill(Infinity);
  for (let j = 1; j < k; j++) {
    let total = 0;
    for (let i = 0; i < n; i++) { best[i] = Math.min(best[i], dist2(i, j - 1)); total += best[i]; }
    let r = rand() * total;
    let pick = n - 1;
    for (let i = 0; i < n; i++) { r -= best[i]; if (r <= 0) { pick = i; break; } }
    for (let q = 0; q < d; q++) c[j * d + q] = x[pick * d + q];
  }
  const assign = new Int32Array(n);
  for (let it = 0; it < iters; it++) {
    for (let i = 0; i < n; i++) {
      let bj = 0; let bd = Infinity;
      for (let j = 0; j < k; j++) { const v = dist2(i, j); if (v < bd) { bd = v; bj = j; } }
      assign[i] = bj;
    }
    const sum = new Float64Array(k * d);
    const cnt = new Float64Array(k);
    for (let i = 0; i < n; i++) {
      cnt[assign[i]]++;
      for (let q = 0; q < d; q++) sum[assign[i] * d + q] += x[i * d + q];
    }
    for (let j = 0; j < k; j++) if (cnt[j] > 0) for (let q = 0; q < d; q++) c[j * d + q] = sum[j * d + q] / cnt[j];
  }
  return c;
}

/** Z init: k-means per class (M/C centres of up to 3000 training features of each class), seeded. */
function initInducing(feat: Float32Array, labels: Uint8Array, n: number, d: number, m: number, rand: () => number): Float32Array {
  const z = new Float32Array(m * d);
  let row = 0;
  for (let cls = 0; cls < CLASSES; cls++) {
    const k = Math.floor(m / CLASSES) + (cls < m % CLASSES ? 1 : 0);
    const idx: number[] = [];
    for (let i = 0; i < n; i++) if (labels[i] === cls) idx.push(i);
    const order = Uint32Array.from(idx);
    shuffleInPlace(order, rand);
    const take = Math.min(order.length, 3000);
    const sub = new Float32Array(take * d);
    for (let i = 0; i < take; i++) sub.set(feat.subarray(order[i] * d, (order[i] + 1) * d), i * d);
    const centres = kMeans(sub, take, d, k, rand);
    z.set(Float32Array.from(centres), row * d);
    row += k;
  }
  return z;
}

/** Median pairwise Euclidean distance between rows of z [m, d]. */
function medianDistance(z: Float32Array, m: number, d: number): number {
  const ds: number[] = [];
  for (let i = 0; i < m; i++) for (let j = 0; j < i; j++) {
    let s = 0;
    for (let q = 0; q < d; q++) { const t = z[i * d + q] - z[j * d + q]; s += t * t; }
    ds.push(Math.sqrt(s));
  }
  ds.sort((a, b) => a - b);
  return ds[Math.floor(ds.length / 2)];
}

/**
 * q(v) mean init: the mean of f at Z is L m (Kzz = L Lᵀ); fit L m ≈ T (TARGET0 at each centre's own class,
 * 0 elsewhere; centres come in class order from {@link initInducing}) by ridge regression
 * (LᵀL + λI) m = Lᵀ T, λ = 0.01, in float64.
 */
function initQMu(z: Float32Array, m: number, d: number, lengthscale: number, variance: number): Float32Array {
  const kzz = new Float64Array(m * m);
  for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) {
    let s = 0;
    for (let q = 0; q < d; q++) { const t = z[i * d + q] - z[j * d + q]; s += t * t; }
    kzz[i * m + j] = variance * Math.exp(-0.5 * s / (lengthscale * lengthscale)) + (i === j ? variance * JITTER : 0);
  }
  const { l } = choleskyWithJitterJs(kzz, m);
  const a = new Float64Array(m * m);
  for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) {
    let s = i === j ? 0.01 : 0;
    for (let k = 0; k < m; k++) s += l[k * m + i] * l[k * m + j];
    a[i * m + j] = s;
  }
  const t = new Float64Array(m * CLASSES);
  let row = 0;
  for (let cls = 0; cls < CLASSES; cls++) {
    const k = Math.floor(m / CLASSES) + (cls < m % CLASSES ? 1 : 0);
    for (let r = 0; r < k; r++) t[(row + r) * CLASSES + cls] = TARGET0;
    row += k;
  }
  const lt = new Float64Array(m * CLASSES);
  for (let i = 0; i < m; i++) for (let c = 0; c < CLASSES; c++) {
    let s = 0;
    for (let k = 0; k < m; k++) s += l[k * m + i] * t[k * CLASSES + c];
    lt[i * CLASSES + c] = s;
  }
  const la = choleskyJs(a, m);
  return Float32Array.from(solveUpperTransposedJs(la, solveLowerJs(la, lt, m, CLASSES), m, CLASSES));
}

/** The trainable GP: raw variables (log lengthscale, log variance) and a view as SvgpParams. */
interface GpVars {
  readonly z: tf.Variable<tf.Rank.R2>;
  readonly logLengthscale: tf.Variable<tf.Rank.R0>;
  readonly logVariance: tf.Variable<tf.Rank.R0>;
  readonly qMu: tf.Variable<tf.Rank.R2>;
  readonly qSqrt: tf.Variable<tf.Rank.R3>;
}

function gpParams(v: GpVars): SvgpParams {
  return {
    z: v.z,
    kernel: { lengthscale: tf.exp(v.logLengthscale) as tf.Scalar, variance: tf.exp(v.logVariance) as tf.Scalar },
    qMu: v.qMu,
    qSqrt: v.qSqrt,
    jitter: JITTER,
  };
}

function gpVarList(v: GpVars): tf.Variable[] {
  return [v.z, v.logLengthscale, v.logVariance, v.qMu, v.qSqrt];
}

/** Test accuracy of the GP on precomputed features (argmax of the predictive mean). */
function gpAccuracy(v: GpVars, feat: Float32Array, labels: Uint8Array, n: number, d: number): number {
  let correct = 0;
  const linv = tf.tidy(() => inducingInverseFactor(gpParams(v)));
  for (let s = 0; s < n; s += 1000) {
    const size = Math.min(1000, n - s);
    const pred = tf.tidy(() => tf.argMax(svgpPredictMean(gpParams(v),
      tf.tensor2d(feat.subarray(s * d, (s + size) * d), [size, d]), linv), 1));
    const p = pred.dataSync();
    pred.dispose();
    for (let i = 0; i < size; i++) if (p[i] === labels[s + i]) correct++;
  }
  linv.dispose();
  return correct / n;
}

function oneHot(labels: Uint8Array, idx: ArrayLike<number>): Float32Array {
  const y = new Float32Array(idx.length * CLASSES);
  for (let b = 0; b < idx.length; b++) y[b * CLASSES + labels[idx[b]]] = 1;
  return y;
}

const cosine = (max: number, min: number, t: number): number => min + 0.5 * (max - min) * (1 + Math.cos(Math.PI * t));
const setLr = (o: tf.Optimizer, lr: number): void => { (o as unknown as { learningRate: number }).learningRate = lr; };

/** Trains mnist-gpdnn (see the file header). */
export async function trainGpdnn(argv: string[]): Promise<void> {
  const args = parseGpArgs(argv);
  const backend = await useNodeBackend('wasm');
  let train = loadDataset('mnist', 'train');
  const test = loadDataset('mnist', 'test');
  if (args.trainLimit != null && args.trainLimit < train.n) {
    const n = args.trainLimit;
    train = { ...train, n, images: train.images.subarray(0, n * 784), labels: train.labels.subarray(0, n) };
  }
  const N = train.n;
  const M = args.inducing;
  log(`mnist-gpdnn: train ${N}, test ${test.n}; backend ${backend}; M ${M}; warm-up ${args.warmupEpochs} epochs (frozen features), ` +
    `end-to-end ${args.epochs} epochs; seed ${args.seed}; from ${args.from}`);
  const t0 = performance.now();
  let monitorSeconds = 0;

  const nn = await loadLayersModelFromDir(args.from);
  const nnCard = JSON.parse(readFileSync(join(args.from, 'card.json'), 'utf8')) as { id: string; testAccuracy: number };
  const features = tf.model({ inputs: nn.inputs, outputs: nn.getLayer(FEATURE_LAYER).output, name: 'gpdnn_features' });
  const D = (features.outputs[0].shape as number[])[1];
  const rand = mulberry32(args.seed ^ 0x69d);

  // 1. Frozen features of the NN twin: k-means for Z, then a GP-only warm-up.
  let trainFeat = computeFeatures(features, train);
  const tm0 = performance.now();
  const testFeat0 = computeFeatures(features, test);
  monitorSeconds += (performance.now() - tm0) / 1000;
  const z0 = initInducing(trainFeat, train.labels, N, D, M, rand);
  const ls0 = medianDistance(z0, M, D);
  const v: GpVars = {
    z: tf.variable(tf.tensor2d(z0, [M, D]), true, 'gp_z'),
    logLengthscale: tf.variable(tf.scalar(Math.log(ls0)), true, 'gp_log_lengthscale'),
    logVariance: tf.variable(tf.scalar(Math.log(VAR0)), true, 'gp_log_variance'),
    qMu: tf.variable(tf.tensor2d(initQMu(z0, M, D, ls0, VAR0), [M, CLASSES]), true, 'gp_q_mu'),
    qSqrt: tf.variable(tf.tile(tf.expandDims(tf.eye(M), 0), [CLASSES, 1, 1]), true, 'gp_q_sqrt'),
  };
  log(`features D=${D}; Z from per-class k-means; lengthscale init ${ls0.toFixed(3)} (median distance), variance init ${VAR0}; q(v) mean from ridge fit to class targets, q(v) covariance I`);

  const order = Uint32Array.from({ length: N }, (_, i) => i);
  const gpOpt = tf.train.adam(1e-2);
  const warmBs = 256;
  const warmBatches = Math.ceil(N / warmBs);
  const warmSeconds: number[] = [];
  for (let epoch = 0; epoch < args.warmupEpochs; epoch++) {
    const te = performance.now();
    shuffleInPlace(order, rand);
    let lossSum = 0;
    for (let b = 0; b < warmBatches; b++) {
      const idx = order.subarray(b * warmBs, Math.min(N, (b + 1) * warmBs));
      setLr(gpOpt, cosine(1e-2, 1e-3, (epoch * warmBatches + b) / (args.warmupEpochs * warmBatches)));
      const x = new Float32Array(idx.length * D);
      for (let i = 0; i < idx.length; i++) x.set(trainFeat.subarray(idx[i] * D, (idx[i] + 1) * D), i * D);
      const loss = tf.tidy((): tf.Scalar => {
        const xt = tf.tensor2d(x, [idx.length, D]);
        const yt = tf.tensor2d(oneHot(train.labels, idx), [idx.length, CLASSES]);
        const loss = gpOpt.minimize(() => tf.div(tf.neg(svgpElbo(gpParams(v), xt, yt, { n: N, beta: BETA, quadraturePoints: QUAD }).elbo), N) as tf.Scalar,
          true, gpVarList(v));
        if (loss == null) throw new Error('optimizer returned no loss');
        return loss;
      });
      const l = loss.dataSync()[0];
      loss.dispose();
      if (!Number.isFinite(l)) throw new Error(`warm-up loss ${l} at epoch ${epoch + 1} batch ${b + 1}`);
      lossSum += l;
    }
    warmSeconds.push((performance.now() - te) / 1000);
    const tm = performance.now();
    const acc = gpAccuracy(v, testFeat0, test.labels, test.n, D);
    monitorSeconds += (performance.now() - tm) / 1000;
    log(`warm-up epoch ${epoch + 1}/${args.warmupEpochs} ${fmtSeconds(warmSeconds[epoch])}: -ELBO/N ${(lossSum / warmBatches).toFixed(4)}, ` +
      `lengthscale ${Math.exp(v.logLengthscale.dataSync()[0]).toFixed(3)}, variance ${Math.exp(v.logVariance.dataSync()[0]).toFixed(3)}, ` +
      `test accuracy ${(acc * 100).toFixed(2)}% tensors ${tf.memory().numTensors}`);
  }
  trainFeat = new Float32Array(0);

  // 2. End to end: CNN + Z + kernel + q(v) on the minibatch ELBO (N/B scaling).
  const cnnVars = features.trainableWeights.map((w) => w.read() as tf.Variable);
  const cnnOpt = tf.train.adam(1e-4);
  const gpOpt2 = tf.train.adam(3e-3);
  const bs = 128;
  const batches = Math.ceil(N / bs);
  const total = batches * args.epochs;
  const epochSeconds: number[] = [];
  let done = 0;
  for (let epoch = 0; epoch < args.epochs; epoch++) {
    const te = performance.now();
    shuffleInPlace(order, rand);
    let lossSum = 0;
    let windowStart = performance.now();
    for (let b = 0; b < batches; b++) {
      const idx = order.subarray(b * bs, Math.min(N, (b + 1) * bs));
      const t = done / total;
      setLr(cnnOpt, cosine(1e-4, 1e-6, t));
      setLr(gpOpt2, cosine(3e-3, 1e-4, t));
      const x = new Float32Array(idx.length * 784);
      for (let i = 0; i < idx.length; i++) x.set(train.images.subarray(idx[i] * 784, (idx[i] + 1) * 784), i * 784);
      const l = tf.tidy(() => {
        const xt = tf.tensor4d(x, [idx.length, 28, 28, 1]);
        const yt = tf.tensor2d(oneHot(train.labels, idx), [idx.length, CLASSES]);
        const { value, grads } = tf.variableGrads(() => tf.div(tf.neg(svgpElbo(gpParams(v),
          features.apply(xt, { training: true }) as tf.Tensor2D, yt, { n: N, beta: BETA, quadraturePoints: QUAD }).elbo), N) as tf.Scalar,
        [...cnnVars, ...gpVarList(v)]);
        const pick = (vars: tf.Variable[]): tf.NamedTensorMap & Record<string, tf.Tensor> => Object.fromEntries(vars.map((w) => [w.name, grads[w.name]]));
        cnnOpt.applyGradients(pick(cnnVars) as never);
        gpOpt2.applyGradients(pick(gpVarList(v)) as never);
        return value.dataSync()[0];
      });
      if (!Number.isFinite(l)) throw new Error(`loss ${l} at epoch ${epoch + 1} batch ${b + 1}`);
      lossSum += l;
      done++;
      if (done % args.logEvery === 0 || b === batches - 1) {
        const now = performance.now();
        const elapsed = (now - te) / 1000;
        log(`epoch ${epoch + 1}/${args.epochs} batch ${b + 1}/${batches} -ELBO/N ${(lossSum / (b + 1)).toFixed(4)} ` +
          `${(args.logEvery * bs / ((now - windowStart) / 1000)).toFixed(0)} img/s epoch elapsed ${fmtSeconds(elapsed)} ` +
          `ETA ${fmtSeconds(elapsed / (b + 1) * (batches - b - 1) + (args.epochs - epoch - 1) * elapsed / (b + 1) * batches)} ` +
          `tensors ${tf.memory().numTensors}`);
        windowStart = now;
      }
    }
    epochSeconds.push((performance.now() - te) / 1000);
    const tm = performance.now();
    const acc = gpAccuracy(v, computeFeatures(features, test), test.labels, test.n, D);
    monitorSeconds += (performance.now() - tm) / 1000;
    log(`epoch ${epoch + 1} done in ${fmtSeconds(epochSeconds[epoch])}: -ELBO/N ${(lossSum / batches).toFixed(4)}, ` +
      `lengthscale ${Math.exp(v.logLengthscale.dataSync()[0]).toFixed(3)}, variance ${Math.exp(v.logVariance.dataSync()[0]).toFixed(3)}, ` +
      `test accuracy ${(acc * 100).toFixed(2)}%`);
  }
  const trainingSeconds = (performance.now() - t0) / 1000 - monitorSeconds;

  // 3. Save, then measure everything on the reloaded files.
  mkdirSync(args.out, { recursive: true });
  const featBytes = (await saveLayersModel(features, join(args.out, 'features'))).bytes;
  const head: GpHead = {
    params: { ...gpParams(v), kernel: { lengthscale: Math.exp(v.logLengthscale.dataSync()[0]), variance: Math.exp(v.logVariance.dataSync()[0]) } },
    beta: BETA, quadraturePoints: QUAD, featureLayer: FEATURE_LAYER,
  };
  const { json, bin } = encodeGp(head);
  writeFileSync(join(args.out, GPDNN_GP_JSON), `${JSON.stringify(json, null, 2)}\n`);
  writeFileSync(join(args.out, GP_BIN), bin);
  const fileBytes = featBytes + statSync(join(args.out, GPDNN_GP_JSON)).size + statSync(join(args.out, GP_BIN)).size;
  const architecture = describeArchitecture(features);
  const featureParams = features.countParams();
  nn.dispose();
  for (const t of gpVarList(v)) t.dispose();

  const model = await loadGpdnn('mnist-gpdnn', dirModelFiles(args.out));
  const saved = decodeGp(parseGpJson(JSON.parse(readFileSync(join(args.out, GPDNN_GP_JSON), 'utf8'))),
    new Uint8Array(readFileSync(join(args.out, GP_BIN))));
  const kl = tf.tidy(() => whitenedKl(saved.params.qMu, saved.params.qSqrt).dataSync()[0]);
  let correct = 0; let correctProbs = 0; let ellSum = 0; let llSum = 0; let varSum = 0;
  for (let s = 0; s < test.n; s += 500) {
    const size = Math.min(500, test.n - s);
    const r = tf.tidy(() => {
      const x = tf.tensor4d(test.images.subarray(s * 784, (s + size) * 784), [size, 28, 28, 1]);
      const idx = Uint32Array.from({ length: size }, (_, i) => s + i);
      const y = tf.tensor2d(oneHot(test.labels, idx), [size, CLASSES]);
      const mean = model.logits(x);
      const { probs, variance } = model.predictive(x);
      return [tf.argMax(mean, 1), tf.argMax(probs, 1), robustMaxExpectedLogLik(mean, variance, y, BETA, QUAD),
        tf.log(tf.sum(tf.mul(probs, y), 1)), tf.sum(variance)];
    });
    const [pm, pp, ell, ll, vs] = r.map((t) => t.dataSync());
    r.forEach((t) => t.dispose());
    for (let i = 0; i < size; i++) {
      if (pm[i] === test.labels[s + i]) correct++;
      if (pp[i] === test.labels[s + i]) correctProbs++;
      ellSum += ell[i];
      llSum += ll[i];
    }
    varSum += vs[0];
  }
  model.dispose();
  for (const t of [saved.params.z, saved.params.qMu, saved.params.qSqrt]) t.dispose();
  const testAccuracy = correct / test.n;
  const gpParamCount = M * D + M * CLASSES + CLASSES * M * (M + 1) / 2 + 2;
  const round = (x: number, k = 6): number => Number(x.toPrecision(k));
  const card = {
    id: 'mnist-gpdnn',
    dataset: 'mnist',
    paper: 'Bradshaw, Matthews, Ghahramani 2017: Adversarial examples, uncertainty, and transfer testing robustness in Gaussian process hybrid deep networks',
    split: { train: N, test: test.n },
    architecture: [
      ...architecture,
      `gp: sparse variational GP, ${M} inducing points in ${D}-d feature space, whitened, RBF kernel, ${CLASSES} latent functions (shared Z and kernel) (${gpParamCount} params)`,
      `likelihood: robust-max, beta ${BETA}, ${QUAD}-point Gauss-Hermite`,
    ],
    params: featureParams + gpParamCount,
    featureExtractorParams: featureParams,
    gpParams: gpParamCount,
    initialisedFrom: { id: nnCard.id, testAccuracy: nnCard.testAccuracy },
    warmupEpochs: args.warmupEpochs,
    warmup: `frozen features, GP only, batch ${warmBs}, adam lr cosine 1e-2 -> 1e-3`,
    epochs: args.epochs,
    batchSize: bs,
    optimizer: 'end to end: adam, CNN lr cosine 1e-4 -> 1e-6, GP lr cosine 3e-3 -> 1e-4, per batch; loss -ELBO/N with minibatch scaling N/B',
    seed: args.seed,
    backend,
    tfjsVersion: tf.version.tfjs,
    trainingSeconds: Math.round(trainingSeconds * 10) / 10,
    warmupSecondsPerEpoch: warmSeconds.length ? Math.round(warmSeconds.reduce((a, b) => a + b, 0) / warmSeconds.length * 10) / 10 : null,
    secondsPerEpoch: epochSeconds.length ? Math.round(epochSeconds.reduce((a, b) => a + b, 0) / epochSeconds.length * 10) / 10 : null,
    fileBytes,
    testAccuracy,
    testAccuracyPredictiveProbs: correctProbs / test.n,
    testN: test.n,
    testElboPerImage: round(ellSum / test.n - kl / N),
    testExpectedLogLikPerImage: round(ellSum / test.n),
    klPerTrainImage: round(kl / N),
    kl: round(kl),
    testLogLikPerImage: round(llSum / test.n),
    meanPredictiveVariance: round(varSum / (test.n * CLASSES)),
    inducingPoints: M,
    features: D,
    featureLayer: FEATURE_LAYER,
    beta: BETA,
    quadraturePoints: QUAD,
    kernel: { type: 'rbf', lengthscale: round(json.kernel.lengthscale), variance: round(json.kernel.variance), jitter: JITTER },
    zInit: 'k-means (k-means++ start, 20 Lloyd iterations) per class on the NN twin\'s training features',
    output: 'logits',
    outputNote: 'logits = predictive mean of the latent f; predictive() gives robust-max class probabilities and Var[f]',
    inputRange: valueRange(train.images),
    inputShape: [28, 28, 1],
    trainedAt: new Date().toISOString(),
    command: `npx tsx training/train.ts ${process.argv.slice(2).join(' ')}`.trim(),
  };
  writeFileSync(join(args.out, 'card.json'), `${JSON.stringify(card, null, 2)}\n`);
  log(`saved ${args.out} (${fileBytes} bytes): test accuracy ${(testAccuracy * 100).toFixed(2)}% ` +
    `(NN twin ${(nnCard.testAccuracy * 100).toFixed(2)}%), test ELBO/image ${card.testElboPerImage}, ` +
    `mean Var[f] ${card.meanPredictiveVariance}, ${fmtSeconds(trainingSeconds)} training`);
}
