/**
 * Trains a shipped model from real data on the tfjs wasm backend (Node) and writes
 * models/<id>/{model.json,weights.bin,card.json}.
 *
 *   npx tsx training/train.ts mnist-lenet [--epochs N] [--seed S] [--out DIR] [--train-limit N] [--log-every N]
 *   npm run train -- mnist-lenet
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { useNodeBackend } from '../src/cli/backend';
import { loadFashionMnist, loadMnist, type Dataset, type Split } from '../src/cli/data';
import { saveLayersModel } from '../src/cli/model-io';
import { buildLenet, LENET_HIDDEN_LAYER } from './lenet';

/** How to train one model id. */
export interface TrainSpec {
  readonly dataset: 'mnist' | 'fashion-mnist';
  /** Builds the inference model (logits output) with seeded initial weights. */
  readonly build: (seed: number) => tf.LayersModel;
  readonly defaultEpochs: number;
  readonly defaultSeed: number;
  readonly batchSize: number;
  /** Adam learning rate, cosine-decayed per batch from `max` to `min`. */
  readonly lr: { readonly max: number; readonly min: number };
  /** Inverted dropout on the output of layer `afterLayer` during training only. */
  readonly dropout?: { readonly afterLayer: string; readonly rate: number };
}

/** Every model id this script can train. */
export const TRAIN_SPECS: Record<string, TrainSpec> = {
  'mnist-lenet': {
    dataset: 'mnist',
    build: buildLenet,
    defaultEpochs: 8,
    defaultSeed: 1,
    batchSize: 128,
    lr: { max: 1e-3, min: 1e-5 },
    dropout: { afterLayer: LENET_HIDDEN_LAYER, rate: 0.5 },
  },
};

/** Seeded PRNG (mulberry32): uniform [0, 1). */
export function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffleInPlace(a: Uint32Array, rand: () => number): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
}

function loadDataset(id: TrainSpec['dataset'], split: Split): Dataset {
  return id === 'mnist' ? loadMnist(split) : loadFashionMnist(split);
}

interface Args {
  id: string;
  epochs?: number;
  seed?: number;
  out?: string;
  trainLimit?: number;
  logEvery: number;
}

function parseArgs(argv: string[]): Args {
  const usage = `usage: npx tsx training/train.ts <${Object.keys(TRAIN_SPECS).join('|')}> ` +
    '[--epochs N] [--seed S] [--out DIR] [--train-limit N] [--log-every N]';
  const positional: string[] = [];
  const opts = new Map<string, number | string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) { positional.push(a); continue; }
    const [k, inline] = a.slice(2).split('=', 2);
    const v = inline ?? argv[++i];
    if (v == null) throw new Error(`missing value for --${k}\n${usage}`);
    if (k === 'out') { opts.set(k, v); continue; }
    const n = Number(v);
    if (!['epochs', 'seed', 'train-limit', 'log-every'].includes(k) || !Number.isInteger(n) || n < 0) {
      throw new Error(`bad option --${k} ${v}\n${usage}`);
    }
    opts.set(k, n);
  }
  if (positional.length !== 1 || !(positional[0] in TRAIN_SPECS)) throw new Error(usage);
  return {
    id: positional[0],
    epochs: opts.get('epochs') as number | undefined,
    seed: opts.get('seed') as number | undefined,
    out: opts.get('out') as string | undefined,
    trainLimit: opts.get('train-limit') as number | undefined,
    logEvery: (opts.get('log-every') as number | undefined) ?? 50,
  };
}

/** Training-mode forward pass through a chain model, with seeded inverted dropout. */
function forwardTrain(model: tf.LayersModel, x: tf.Tensor, spec: TrainSpec, rand: () => number): tf.Tensor {
  let h = x;
  for (const layer of model.layers) {
    if (layer.getClassName() === 'InputLayer') continue;
    h = layer.apply(h, { training: true }) as tf.Tensor;
    if (spec.dropout != null && layer.name === spec.dropout.afterLayer) {
      const keep = 1 - spec.dropout.rate;
      const mask = new Float32Array(h.size);
      for (let i = 0; i < mask.length; i++) mask[i] = rand() < keep ? 1 / keep : 0;
      h = tf.mul(h, tf.tensor(mask, h.shape));
    }
  }
  return h;
}

function fillBatch(ds: Dataset, order: Uint32Array, start: number, size: number): { x: Float32Array; y: Float32Array } {
  const px = ds.rows * ds.cols;
  const x = new Float32Array(size * px);
  const y = new Float32Array(size * 10);
  for (let b = 0; b < size; b++) {
    const idx = order[start + b];
    x.set(ds.images.subarray(idx * px, (idx + 1) * px), b * px);
    y[b * 10 + ds.labels[idx]] = 1;
  }
  return { x, y };
}

/** Fraction of `ds` classified correctly, evaluated in batches. */
export function accuracy(model: tf.LayersModel, ds: Dataset, batch = 500): number {
  const px = ds.rows * ds.cols;
  let correct = 0;
  for (let start = 0; start < ds.n; start += batch) {
    const size = Math.min(batch, ds.n - start);
    const pred = tf.tidy(() => {
      const x = tf.tensor4d(ds.images.subarray(start * px, (start + size) * px), [size, ds.rows, ds.cols, 1]);
      return tf.argMax(model.predict(x) as tf.Tensor, 1);
    });
    const p = pred.dataSync();
    pred.dispose();
    for (let i = 0; i < size; i++) if (p[i] === ds.labels[start + i]) correct++;
  }
  return correct / ds.n;
}

function fmtSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${s.toFixed(1)}s`;
}

/** Readable one-line-per-layer summary, generated from the layer configs. */
export function describeArchitecture(model: tf.LayersModel): string[] {
  return model.layers.map((layer) => {
    const c = layer.getConfig() as Record<string, unknown>;
    const out = (layer.outputShape as number[]).slice(1).join('x');
    const act = typeof c.activation === 'string' ? ` ${c.activation}` : '';
    const cls = layer.getClassName();
    let what = cls;
    if (cls === 'Conv2D') {
      what = `Conv2D ${c.filters} ${(c.kernelSize as number[]).join('x')} stride ${(c.strides as number[]).join('x')} ${c.padding}${act}`;
    } else if (cls === 'MaxPooling2D') {
      what = `MaxPooling2D ${(c.poolSize as number[]).join('x')} stride ${(c.strides as number[]).join('x')}`;
    } else if (cls === 'Dense') {
      what = `Dense ${c.units}${act}`;
    }
    return `${layer.name}: ${what} -> ${out} (${layer.countParams()} params)`;
  });
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const spec = TRAIN_SPECS[args.id];
  const epochs = args.epochs ?? spec.defaultEpochs;
  const seed = args.seed ?? spec.defaultSeed;
  const outDir = args.out ?? join('models', args.id);
  const log = (s: string): void => { process.stderr.write(`${s}\n`); };

  const backend = await useNodeBackend('wasm');
  let train = loadDataset(spec.dataset, 'train');
  const test = loadDataset(spec.dataset, 'test');
  if (args.trainLimit != null && args.trainLimit < train.n) {
    const n = args.trainLimit;
    train = { ...train, n, images: train.images.subarray(0, n * 784), labels: train.labels.subarray(0, n) };
  }
  log(`${args.id}: ${spec.dataset} train ${train.n}, test ${test.n}; backend ${backend}; epochs ${epochs}; seed ${seed}`);

  const model = spec.build(seed);
  const params = model.countParams();
  log(describeArchitecture(model).map((l) => `  ${l}`).join('\n'));
  log(`  total ${params} params`);

  const rand = mulberry32(seed ^ 0x5eed);
  const optimizer = tf.train.adam(spec.lr.max);
  const setLr = (lr: number): void => { (optimizer as unknown as { learningRate: number }).learningRate = lr; };
  const bs = spec.batchSize;
  const batchesPerEpoch = Math.ceil(train.n / bs);
  const totalBatches = batchesPerEpoch * epochs;
  const order = Uint32Array.from({ length: train.n }, (_, i) => i);
  const epochSeconds: number[] = [];
  const t0 = performance.now();
  let done = 0;
  let monitorSeconds = 0;

  for (let epoch = 0; epoch < epochs; epoch++) {
    const te = performance.now();
    shuffleInPlace(order, rand);
    let lossSum = 0;
    let lossN = 0;
    let windowStart = performance.now();
    let windowImages = 0;
    for (let b = 0; b < batchesPerEpoch; b++) {
      const start = b * bs;
      const size = Math.min(bs, train.n - start);
      const lr = spec.lr.min + 0.5 * (spec.lr.max - spec.lr.min) * (1 + Math.cos(Math.PI * done / totalBatches));
      setLr(lr);
      const { x, y } = fillBatch(train, order, start, size);
      const loss = tf.tidy(() => {
        const xt = tf.tensor4d(x, [size, train.rows, train.cols, 1]);
        const yt = tf.tensor2d(y, [size, 10]);
        const value = optimizer.minimize(
          () => tf.losses.softmaxCrossEntropy(yt, forwardTrain(model, xt, spec, rand)) as tf.Scalar, true);
        if (value == null) throw new Error('optimizer returned no loss');
        return value;
      });
      const l = loss.dataSync()[0];
      loss.dispose();
      if (!Number.isFinite(l)) throw new Error(`loss is ${l} at epoch ${epoch + 1} batch ${b + 1}`);
      lossSum += l;
      lossN++;
      done++;
      windowImages += size;
      if (done % args.logEvery === 0 || b === batchesPerEpoch - 1) {
        const now = performance.now();
        const ips = windowImages / ((now - windowStart) / 1000);
        const elapsed = (now - t0) / 1000 - monitorSeconds;
        const eta = elapsed / done * (totalBatches - done);
        log(`epoch ${epoch + 1}/${epochs} batch ${b + 1}/${batchesPerEpoch} (${done}/${totalBatches}) ` +
          `loss ${(lossSum / lossN).toFixed(4)} lr ${lr.toExponential(2)} ${ips.toFixed(0)} img/s ` +
          `elapsed ${fmtSeconds(elapsed)} ETA ${fmtSeconds(eta)} tensors ${tf.memory().numTensors}`);
        windowStart = now;
        windowImages = 0;
      }
    }
    const secs = (performance.now() - te) / 1000;
    epochSeconds.push(secs);
    // Monitoring only (the model is never chosen by this number); not counted as training time.
    const tm = performance.now();
    const acc = accuracy(model, test);
    monitorSeconds += (performance.now() - tm) / 1000;
    log(`epoch ${epoch + 1} done in ${fmtSeconds(secs)}: mean loss ${(lossSum / lossN).toFixed(4)}, ` +
      `test accuracy ${(acc * 100).toFixed(2)}%`);
  }
  const trainingSeconds = (performance.now() - t0) / 1000 - monitorSeconds;

  const testAccuracy = accuracy(model, test);
  log(`final test accuracy on ${test.n} images: ${(testAccuracy * 100).toFixed(2)}%`);
  const { bytes } = await saveLayersModel(model, outDir);
  const inputShape = (model.inputs[0].shape as number[]).slice(1);
  const card = {
    id: args.id,
    dataset: spec.dataset,
    split: { train: train.n, test: test.n },
    architecture: describeArchitecture(model),
    params,
    epochs,
    batchSize: bs,
    optimizer: `adam, lr cosine ${spec.lr.max} -> ${spec.lr.min} per batch`,
    dropout: spec.dropout ?? null,
    seed,
    backend,
    tfjsVersion: tf.version.tfjs,
    trainingSeconds: Math.round(trainingSeconds * 10) / 10,
    secondsPerEpoch: Math.round(epochSeconds.reduce((a, b) => a + b, 0) / epochSeconds.length * 10) / 10,
    fileBytes: bytes,
    testAccuracy,
    testN: test.n,
    output: outputKind(model),
    inputRange: valueRange(train.images),
    inputShape,
    trainedAt: new Date().toISOString(),
    command: `npx tsx training/train.ts ${process.argv.slice(2).join(' ')}`.trim(),
  };
  writeFileSync(join(outDir, 'card.json'), `${JSON.stringify(card, null, 2)}\n`);
  log(`saved ${outDir} (${bytes} bytes): test accuracy ${(testAccuracy * 100).toFixed(2)}%, ` +
    `${fmtSeconds(trainingSeconds)} training`);
  model.dispose();
}

function outputKind(model: tf.LayersModel): 'logits' | 'probs' {
  const last = model.layers[model.layers.length - 1];
  const act = (last.getConfig() as { activation?: unknown }).activation;
  if (act === 'linear') return 'logits';
  if (act === 'softmax') return 'probs';
  throw new Error(`cannot tell the output kind of layer ${last.name} (activation ${String(act)})`);
}

function valueRange(a: Float32Array): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < a.length; i++) {
    if (a[i] < lo) lo = a[i];
    if (a[i] > hi) hi = a[i];
  }
  return [lo, hi];
}

if (process.argv[1] != null && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  });
}
