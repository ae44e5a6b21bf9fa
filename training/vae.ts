/**
 * Trains the Kos et al. 2017 model family on MNIST (tfjs wasm backend, Node):
 *
 *   npm run train -- mnist-vae     [--epochs N] [--seed S] [--hidden H] [--out DIR] [--train-limit N] [--log-every N]
 *   npm run train -- mnist-vae-clf [--epochs N] [--seed S] [--vae DIR] [--out DIR] [--train-limit N]
 *
 * mnist-vae: MLP VAE 784→H→(mean, logVar) of a 20-d Gaussian, decoder 20→H→784 Bernoulli logits,
 * trained on the continuous-pixel Bernoulli ELBO with seeded reparameterisation noise. Written as
 * models/mnist-vae/{vae.json, encoder/, decoder/, card.json}.
 * mnist-vae-clf: the mnist-vae encoder's mean path, frozen, followed by a small dense head trained on
 * encode(x).mean; saved as ONE LayersModel (image → logits) in models/mnist-vae-clf/.
 */
import { writeFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { useNodeBackend } from '../src/cli/backend';
import type { Dataset } from '../src/cli/data';
import { loadLayersModelFromDir, saveLayersModel } from '../src/cli/model-io';
import { dirModelFiles, MODELS_DIR } from '../src/cli/models';
import { CARD_ELBO, elboTerms, normalSampler, testElbo } from '../src/core/metrics/elbo';
import { loadVae, vaeFromLayersModels, vaeLatentClassifier, VAE_JSON, type LayersVae, type VaeSpec } from '../src/core/models/vae';
import { accuracy, describeArchitecture, fmtSeconds, loadDataset, log, mulberry32, shuffleInPlace, valueRange } from './common';

export const VAE_ID = 'mnist-vae';
export const VAE_CLF_ID = 'mnist-vae-clf';
const LATENT_DIM = 20;
const DEFAULT_HIDDEN = 256;
const HEAD_HIDDEN = 128;
const ELBO_SAMPLES = CARD_ELBO.samples;
const ELBO_SEED = CARD_ELBO.seed;

interface Args {
  id: string;
  epochs?: number;
  seed?: number;
  hidden?: number;
  out?: string;
  vae?: string;
  trainLimit?: number;
  logEvery: number;
}

function parseArgs(argv: string[]): Args {
  const usage = `usage: npm run train -- <${VAE_ID}|${VAE_CLF_ID}> [--epochs N] [--seed S] [--hidden H] ` +
    '[--out DIR] [--vae DIR] [--train-limit N] [--log-every N]';
  const positional: string[] = [];
  const opts = new Map<string, number | string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) { positional.push(a); continue; }
    const [k, inline] = a.slice(2).split('=', 2);
    const v = inline ?? argv[++i];
    if (v == null) throw new Error(`missing value for --${k}\n${usage}`);
    if (k === 'out' || k === 'vae') { opts.set(k, v); continue; }
    const n = Number(v);
    if (!['epochs', 'seed', 'hidden', 'train-limit', 'log-every'].includes(k) || !Number.isInteger(n) || n < 0) {
      throw new Error(`bad option --${k} ${v}\n${usage}`);
    }
    opts.set(k, n);
  }
  if (positional.length !== 1 || (positional[0] !== VAE_ID && positional[0] !== VAE_CLF_ID)) throw new Error(usage);
  return {
    id: positional[0],
    epochs: opts.get('epochs') as number | undefined,
    seed: opts.get('seed') as number | undefined,
    hidden: opts.get('hidden') as number | undefined,
    out: opts.get('out') as string | undefined,
    vae: opts.get('vae') as string | undefined,
    trainLimit: opts.get('train-limit') as number | undefined,
    logEvery: (opts.get('log-every') as number | undefined) ?? 100,
  };
}

function limit(ds: Dataset, n: number | undefined): Dataset {
  if (n == null || n >= ds.n) return ds;
  return { ...ds, n, images: ds.images.subarray(0, n * 784), labels: ds.labels.subarray(0, n) };
}

/** Encoder [28,28,1] → [mean, logVar] and decoder [latent] → [28,28,1] Bernoulli logits, seeded. */
export function buildVaeModels(hidden: number, latentDim: number, seed: number): { encoder: tf.LayersModel; decoder: tf.LayersModel } {
  const init = (k: number) => tf.initializers.glorotUniform({ seed: seed * 100 + k });
  const image = tf.input({ shape: [28, 28, 1], name: 'image' });
  const flat = tf.layers.flatten({ name: 'enc_flatten' }).apply(image) as tf.SymbolicTensor;
  const h = tf.layers.dense({ units: hidden, activation: 'relu', kernelInitializer: init(1), name: 'enc_hidden' }).apply(flat) as tf.SymbolicTensor;
  const mean = tf.layers.dense({ units: latentDim, kernelInitializer: init(2), name: 'enc_mean' }).apply(h) as tf.SymbolicTensor;
  const logVar = tf.layers.dense({ units: latentDim, kernelInitializer: init(3), name: 'enc_logvar' }).apply(h) as tf.SymbolicTensor;
  const encoder = tf.model({ inputs: image, outputs: [mean, logVar], name: 'encoder' });
  const z = tf.input({ shape: [latentDim], name: 'z' });
  const dh = tf.layers.dense({ units: hidden, activation: 'relu', kernelInitializer: init(4), name: 'dec_hidden' }).apply(z) as tf.SymbolicTensor;
  const dl = tf.layers.dense({ units: 784, kernelInitializer: init(5), name: 'dec_logits' }).apply(dh) as tf.SymbolicTensor;
  const img = tf.layers.reshape({ targetShape: [28, 28, 1], name: 'dec_image' }).apply(dl) as tf.SymbolicTensor;
  const decoder = tf.model({ inputs: z, outputs: img, name: 'decoder' });
  return { encoder, decoder };
}

function trainableVars(...models: tf.LayersModel[]): tf.Variable[] {
  return models.flatMap((m) => m.trainableWeights.map((w) => w.read() as tf.Variable));
}

function cosineLr(max: number, min: number, done: number, total: number): number {
  return min + 0.5 * (max - min) * (1 + Math.cos(Math.PI * done / total));
}

function gatherImages(ds: Dataset, order: Uint32Array, start: number, size: number): Float32Array {
  const x = new Float32Array(size * 784);
  for (let b = 0; b < size; b++) {
    const idx = order[start + b];
    x.set(ds.images.subarray(idx * 784, (idx + 1) * 784), b * 784);
  }
  return x;
}

function round(v: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

async function trainVaeModel(args: Args): Promise<void> {
  const epochs = args.epochs ?? 30;
  const seed = args.seed ?? 1;
  const hidden = args.hidden ?? DEFAULT_HIDDEN;
  const outDir = args.out ?? join(MODELS_DIR, VAE_ID);
  const bs = 128;
  const lrMax = 1e-3;
  const lrMin = 1e-4;

  const backend = await useNodeBackend('wasm');
  const train = limit(loadDataset('mnist', 'train'), args.trainLimit);
  const test = loadDataset('mnist', 'test');
  log(`${VAE_ID}: mnist train ${train.n}, test ${test.n}; backend ${backend}; epochs ${epochs}; seed ${seed}; hidden ${hidden}`);

  const { encoder, decoder } = buildVaeModels(hidden, LATENT_DIM, seed);
  const vae = vaeFromLayersModels(encoder, decoder, { id: VAE_ID, decoderOutput: 'logits' });
  const params = encoder.countParams() + decoder.countParams();
  log(['encoder:', ...describeArchitecture(encoder), 'decoder:', ...describeArchitecture(decoder)].map((l) => `  ${l}`).join('\n'));
  log(`  total ${params} params`);

  const vars = trainableVars(encoder, decoder);
  const rand = mulberry32(seed ^ 0x5eed);
  const noiseFor = normalSampler(seed ^ 0x0e25);
  const optimizer = tf.train.adam(lrMax);
  const setLr = (lr: number): void => { (optimizer as unknown as { learningRate: number }).learningRate = lr; };
  const batchesPerEpoch = Math.ceil(train.n / bs);
  const totalBatches = batchesPerEpoch * epochs;
  const order = Uint32Array.from({ length: train.n }, (_, i) => i);
  const epochSeconds: number[] = [];
  const trainLoss: number[] = [];
  const monitorElbo: number[] = [];
  const t0 = performance.now();
  let monitorSeconds = 0;
  let done = 0;

  for (let epoch = 0; epoch < epochs; epoch++) {
    const te = performance.now();
    shuffleInPlace(order, rand);
    let lossSum = 0;
    let lossN = 0;
    for (let b = 0; b < batchesPerEpoch; b++) {
      const start = b * bs;
      const size = Math.min(bs, train.n - start);
      const lr = cosineLr(lrMax, lrMin, done, totalBatches);
      setLr(lr);
      const x = gatherImages(train, order, start, size);
      const eps = noiseFor(new Float32Array(size * LATENT_DIM));
      const loss = tf.tidy(() => {
        const xt = tf.tensor4d(x, [size, 28, 28, 1]);
        const et = tf.tensor2d(eps, [size, LATENT_DIM]);
        const value = optimizer.minimize(() => {
          const t = elboTerms(vae, xt, [et]);
          return tf.mean(tf.sub(t.kl, t.logLikelihood)) as tf.Scalar;
        }, true, vars);
        if (value == null) throw new Error('optimizer returned no loss');
        return value;
      });
      const l = (await loss.data())[0];
      loss.dispose();
      if (!Number.isFinite(l)) throw new Error(`loss is ${l} at epoch ${epoch + 1} batch ${b + 1}`);
      lossSum += l;
      lossN++;
      done++;
      if (done % args.logEvery === 0) {
        const elapsed = (performance.now() - t0) / 1000 - monitorSeconds;
        log(`epoch ${epoch + 1}/${epochs} batch ${b + 1}/${batchesPerEpoch} loss ${(lossSum / lossN).toFixed(2)} ` +
          `lr ${lr.toExponential(2)} elapsed ${fmtSeconds(elapsed)} ETA ${fmtSeconds(elapsed / done * (totalBatches - done))} ` +
          `tensors ${tf.memory().numTensors}`);
      }
    }
    const secs = (performance.now() - te) / 1000;
    epochSeconds.push(secs);
    trainLoss.push(round(lossSum / lossN, 2));
    // Monitoring only (never used to pick the model); not counted as training time.
    const tm = performance.now();
    const m = await testElbo(vae, test.images, test.n, { samples: 1, seed: ELBO_SEED });
    monitorSeconds += (performance.now() - tm) / 1000;
    monitorElbo.push(round(m.elbo, 2));
    log(`epoch ${epoch + 1} done in ${fmtSeconds(secs)}: train −ELBO ${(lossSum / lossN).toFixed(2)}, ` +
      `test ELBO ${m.elbo.toFixed(2)} (log p(x|z) ${m.logLikelihood.toFixed(2)}, KL ${m.kl.toFixed(2)})`);
  }
  const trainingSeconds = (performance.now() - t0) / 1000 - monitorSeconds;

  const enc = await saveLayersModel(encoder, join(outDir, 'encoder'));
  const dec = await saveLayersModel(decoder, join(outDir, 'decoder'));
  const spec: VaeSpec = {
    format: 'vae',
    latentDim: LATENT_DIM,
    encoder: 'encoder/model.json',
    decoder: 'decoder/model.json',
    decoderOutput: 'logits',
    likelihood: 'bernoulli',
    inputRange: { min: 0, max: 1 },
  };
  writeFileSync(join(outDir, VAE_JSON), `${JSON.stringify(spec, null, 2)}\n`);
  const fileBytes = enc.bytes + dec.bytes + statSync(join(outDir, VAE_JSON)).size;
  const architecture = {
    encoder: describeArchitecture(encoder),
    decoder: describeArchitecture(decoder),
  };
  vae.dispose();

  // Measured on the reloaded files, as the extension and the CLI will load them.
  const reloaded = await loadVae(VAE_ID, dirModelFiles(outDir));
  const tr = performance.now();
  const final = await testElbo(reloaded, test.images, test.n, { samples: ELBO_SAMPLES, seed: ELBO_SEED });
  const elboSeconds = (performance.now() - tr) / 1000;
  const finalBin = await testElbo(reloaded, test.images, test.n, { samples: ELBO_SAMPLES, seed: ELBO_SEED, pixels: 'binarized' });
  reloaded.dispose();
  log(`test ELBO on ${test.n} images (${ELBO_SAMPLES} samples, reloaded): ${final.elbo.toFixed(3)} nats ` +
    `(log p(x|z) ${final.logLikelihood.toFixed(3)}, KL ${final.kl.toFixed(3)}) in ${fmtSeconds(elboSeconds)}`);

  const card = {
    id: VAE_ID,
    dataset: 'mnist',
    split: { train: train.n, test: test.n },
    architecture,
    params,
    latentDim: LATENT_DIM,
    hidden,
    likelihood: 'bernoulli',
    epochs,
    batchSize: bs,
    optimizer: `adam, lr cosine ${lrMax} -> ${lrMin} per batch`,
    loss: 'negative ELBO, continuous pixels as Bernoulli targets, 1 reparameterised sample per image, analytic KL',
    seed,
    noiseSeed: seed ^ 0x0e25,
    backend,
    tfjsVersion: tf.version.tfjs,
    trainingSeconds: round(trainingSeconds, 1),
    secondsPerEpoch: round(epochSeconds.reduce((a, b) => a + b, 0) / epochSeconds.length, 1),
    trainLossByEpoch: trainLoss,
    testElboByEpoch: monitorElbo,
    fileBytes,
    testElbo: round(final.elbo, 3),
    testLogLikelihood: round(final.logLikelihood, 3),
    testKl: round(final.kl, 3),
    testElboBinarized: round(finalBin.elbo, 3),
    elbo: {
      units: 'nats per image',
      pixels: 'continuous grey values as Bernoulli targets (testElboBinarized: pixels thresholded at 0.5)',
      samples: ELBO_SAMPLES,
      seed: ELBO_SEED,
      seconds: round(elboSeconds, 1),
      measuredOn: 'reloaded files',
    },
    testN: test.n,
    output: 'bernoulli-logits (decode applies sigmoid)',
    inputRange: valueRange(train.images),
    inputShape: [28, 28, 1],
    trainedAt: new Date().toISOString(),
    command: `npm run train -- ${process.argv.slice(2).join(' ')}`.trim(),
  };
  writeFileSync(join(outDir, 'card.json'), `${JSON.stringify(card, null, 2)}\n`);
  log(`saved ${outDir} (${fileBytes} bytes): test ELBO ${final.elbo.toFixed(2)}, ${fmtSeconds(trainingSeconds)} training`);
}

/** encode(x).mean of every image, [n·latentDim]. */
async function latentMeans(vae: LayersVae, ds: Dataset, batch = 1000): Promise<Float32Array> {
  const out = new Float32Array(ds.n * vae.latentDim);
  for (let s = 0; s < ds.n; s += batch) {
    const e = Math.min(ds.n, s + batch);
    const m = tf.tidy(() => vae.encode(tf.tensor4d(ds.images.subarray(s * 784, e * 784), [e - s, 28, 28, 1])).mean);
    out.set(await m.data(), s * vae.latentDim);
    m.dispose();
  }
  return out;
}

function featureAccuracy(head: tf.LayersModel, feats: Float32Array, labels: Uint8Array, dim: number): number {
  const n = labels.length;
  const pred = tf.tidy(() => tf.argMax(head.predict(tf.tensor2d(feats, [n, dim])) as tf.Tensor, 1));
  const p = pred.dataSync();
  pred.dispose();
  let correct = 0;
  for (let i = 0; i < n; i++) if (p[i] === labels[i]) correct++;
  return correct / n;
}

async function trainVaeClassifier(args: Args): Promise<void> {
  const epochs = args.epochs ?? 30;
  const seed = args.seed ?? 1;
  const vaeDir = args.vae ?? join(MODELS_DIR, VAE_ID);
  const outDir = args.out ?? join(MODELS_DIR, VAE_CLF_ID);
  const bs = 128;
  const lrMax = 1e-3;
  const lrMin = 1e-5;

  const backend = await useNodeBackend('wasm');
  const train = limit(loadDataset('mnist', 'train'), args.trainLimit);
  const test = loadDataset('mnist', 'test');
  const vae = await loadVae(VAE_ID, dirModelFiles(vaeDir));
  const dim = vae.latentDim;
  log(`${VAE_CLF_ID}: frozen encoder of ${vaeDir}, latent ${dim}; mnist train ${train.n}, test ${test.n}; ` +
    `backend ${backend}; epochs ${epochs}; seed ${seed}`);

  const tf0 = performance.now();
  const trainFeats = await latentMeans(vae, train);
  const testFeats = await latentMeans(vae, test);
  const featureSeconds = (performance.now() - tf0) / 1000;
  log(`latent means of ${train.n + test.n} images in ${fmtSeconds(featureSeconds)}`);

  const init = (k: number) => tf.initializers.glorotUniform({ seed: seed * 100 + k });
  const head = tf.sequential({
    name: 'head',
    layers: [
      tf.layers.dense({ inputShape: [dim], units: HEAD_HIDDEN, activation: 'relu', kernelInitializer: init(1), name: 'head_hidden' }),
      tf.layers.dense({ units: 10, kernelInitializer: init(2), name: 'logits' }),
    ],
  });
  const vars = trainableVars(head);
  const rand = mulberry32(seed ^ 0x5eed);
  const optimizer = tf.train.adam(lrMax);
  const setLr = (lr: number): void => { (optimizer as unknown as { learningRate: number }).learningRate = lr; };
  const batchesPerEpoch = Math.ceil(train.n / bs);
  const totalBatches = batchesPerEpoch * epochs;
  const order = Uint32Array.from({ length: train.n }, (_, i) => i);
  const epochSeconds: number[] = [];
  const t0 = performance.now();
  let monitorSeconds = 0;
  let done = 0;
  for (let epoch = 0; epoch < epochs; epoch++) {
    const te = performance.now();
    shuffleInPlace(order, rand);
    let lossSum = 0;
    for (let b = 0; b < batchesPerEpoch; b++) {
      const start = b * bs;
      const size = Math.min(bs, train.n - start);
      setLr(cosineLr(lrMax, lrMin, done, totalBatches));
      const x = new Float32Array(size * dim);
      const y = new Float32Array(size * 10);
      for (let i = 0; i < size; i++) {
        const idx = order[start + i];
        x.set(trainFeats.subarray(idx * dim, (idx + 1) * dim), i * dim);
        y[i * 10 + train.labels[idx]] = 1;
      }
      const loss = tf.tidy(() => {
        const xt = tf.tensor2d(x, [size, dim]);
        const yt = tf.tensor2d(y, [size, 10]);
        const value = optimizer.minimize(
          () => tf.losses.softmaxCrossEntropy(yt, head.apply(xt, { training: true }) as tf.Tensor) as tf.Scalar, true, vars);
        if (value == null) throw new Error('optimizer returned no loss');
        return value;
      });
      lossSum += (await loss.data())[0];
      loss.dispose();
      done++;
    }
    epochSeconds.push((performance.now() - te) / 1000);
    const tm = performance.now();
    const acc = featureAccuracy(head, testFeats, test.labels, dim);
    monitorSeconds += (performance.now() - tm) / 1000;
    log(`epoch ${epoch + 1}/${epochs} in ${fmtSeconds(epochSeconds[epoch])}: loss ${(lossSum / batchesPerEpoch).toFixed(4)}, ` +
      `test accuracy on latent means ${(acc * 100).toFixed(2)}%`);
  }
  const trainingSeconds = (performance.now() - t0) / 1000 - monitorSeconds;
  const headAccuracy = featureAccuracy(head, testFeats, test.labels, dim);

  // One LayersModel image → logits: copies of the encoder's mean path (frozen) + the head.
  const full = tf.sequential({
    name: 'vae_latent_classifier',
    layers: [
      tf.layers.flatten({ inputShape: [28, 28, 1], name: 'enc_flatten' }),
      tf.layers.dense({ units: (vae.encoder.getLayer('enc_hidden').getConfig() as { units: number }).units, activation: 'relu', name: 'enc_hidden' }),
      tf.layers.dense({ units: dim, name: 'enc_mean' }),
      tf.layers.dense({ units: HEAD_HIDDEN, activation: 'relu', name: 'head_hidden' }),
      tf.layers.dense({ units: 10, name: 'logits' }),
    ],
  });
  for (const [name, src] of [['enc_hidden', vae.encoder], ['enc_mean', vae.encoder], ['head_hidden', head], ['logits', head]] as const) {
    full.getLayer(name).setWeights(src.getLayer(name).getWeights());
  }
  // The saved model must compute exactly vaeLatentClassifier(vae, head).
  const composed = vaeLatentClassifier(vae, head, VAE_CLF_ID);
  const check = tf.tidy(() => {
    const x = tf.tensor4d(test.images.subarray(0, 200 * 784), [200, 28, 28, 1]);
    return tf.max(tf.abs(tf.sub(full.predict(x) as tf.Tensor, composed.logits(x))));
  });
  const maxDiff = (await check.data())[0];
  check.dispose();
  log(`saved model vs vaeLatentClassifier(vae, head): max |Δlogit| ${maxDiff.toExponential(2)} on 200 test images`);
  if (!(maxDiff < 1e-3)) throw new Error(`assembled classifier disagrees with the composed one (${maxDiff})`);
  const params = full.countParams();
  const trainableParams = head.countParams();
  const architecture = describeArchitecture(full);

  const { bytes } = await saveLayersModel(full, outDir);
  full.dispose();
  composed.dispose(); // frees the head
  vae.dispose();
  const reloaded = await loadLayersModelFromDir(outDir);
  const testAccuracy = accuracy(reloaded, test);
  reloaded.dispose();
  log(`test accuracy on ${test.n} images (reloaded): ${(testAccuracy * 100).toFixed(2)}%`);

  const card = {
    id: VAE_CLF_ID,
    dataset: 'mnist',
    split: { train: train.n, test: test.n },
    architecture,
    params,
    trainableParams,
    frozen: `enc_hidden, enc_mean copied from ${VAE_ID} (${vaeDir}); head trained on encode(x).mean`,
    vae: VAE_ID,
    latentDim: dim,
    epochs,
    batchSize: bs,
    optimizer: `adam, lr cosine ${lrMax} -> ${lrMin} per batch`,
    seed,
    backend,
    tfjsVersion: tf.version.tfjs,
    featureSeconds: round(featureSeconds, 1),
    trainingSeconds: round(trainingSeconds, 1),
    secondsPerEpoch: round(epochSeconds.reduce((a, b) => a + b, 0) / epochSeconds.length, 2),
    fileBytes: bytes,
    testAccuracy,
    testN: test.n,
    headTestAccuracyOnLatentMeans: headAccuracy,
    assembledMaxAbsLogitDiff: maxDiff,
    output: 'logits',
    inputRange: valueRange(train.images),
    inputShape: [28, 28, 1],
    trainedAt: new Date().toISOString(),
    command: `npm run train -- ${process.argv.slice(2).join(' ')}`.trim(),
  };
  writeFileSync(join(outDir, 'card.json'), `${JSON.stringify(card, null, 2)}\n`);
  log(`saved ${outDir} (${bytes} bytes): test accuracy ${(testAccuracy * 100).toFixed(2)}%, ${fmtSeconds(trainingSeconds)} training`);
}

/** Trainer for mnist-vae and mnist-vae-clf (Kos et al. 2017); argv[0] is the id. */
export async function trainVae(argv: string[]): Promise<void> {
  const args = parseArgs(argv);
  if (args.id === VAE_ID) await trainVaeModel(args);
  else await trainVaeClassifier(args);
}
