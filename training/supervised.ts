/**
 * Supervised training of a shipped classifier from real data on the tfjs wasm backend (Node); writes
 * models/<id>/{model.json,weights.bin,card.json}. The card's accuracy is measured after saving, by
 * reloading the saved files through the app's own `classifierFromLayersModel` path.
 *
 *   npx tsx training/train.ts <id> [--epochs N] [--seed S] [--out DIR] [--train-limit N] [--log-every N]
 *                                  [--pretrain-epochs N]
 *   npm run train -- mnist-lenet
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { useNodeBackend } from '../src/cli/backend';
import type { Dataset } from '../src/cli/data';
import { subsetDataset } from '../src/cli/datasets';
import { loadLayersModelFromDir, saveLayersModel } from '../src/cli/model-io';
import { classifierFromLayersModel } from '../src/core/models/layers';
import type { Classifier } from '../src/core/models/types';
import { batchedAccuracy, describeArchitecture, fmtSeconds, loadDataset, mulberry32, outputKind, shuffleInPlace, valueRange, type TrainDataset } from './common';
import { buildLenet, LENET_HIDDEN_LAYER } from './lenet';
import { ZOO_SIMPLE_SPECS } from './zoo-simple';

/** What the model's single output emits: 10-way (or k-way) logits, or one logistic-regression logit z. */
export type TrainOutput = 'logits' | 'binary-logit';

/** Everything a custom loss sees: the training-mode output, the integer labels and the model. */
export interface LossContext {
  readonly model: tf.LayersModel;
  /** Training-mode model output: [batch, k] logits, or [batch, 1] for 'binary-logit'. */
  readonly out: tf.Tensor;
  /** Class indices [batch] (int32); after a `subset`, the index into `subset.classes`. */
  readonly labels: tf.Tensor1D;
}

/** What a pretraining hook gets (it runs before the supervised loop; its time counts as training time). */
export interface PretrainContext {
  readonly seed: number;
  /** Epochs from --pretrain-epochs, or undefined for the hook's own default. */
  readonly epochs?: number;
  readonly log: (s: string) => void;
}

/** How to train one model id. */
export interface TrainSpec {
  readonly dataset: TrainDataset;
  /**
   * Keep only the images whose label is in `classes` (train and test); label `classes[i]` becomes class i.
   * `name` is the dataset id written to the card (e.g. 'mnist-3v7').
   */
  readonly subset?: { readonly classes: readonly number[]; readonly name: string };
  /** Builds the inference model (output as in `output`) with seeded initial weights. */
  readonly build: (seed: number) => tf.LayersModel;
  /** Default 'logits'. 'binary-logit': one unit z, class 1 iff z > 0 (the app turns it into logits [0, z]). */
  readonly output?: TrainOutput;
  readonly defaultEpochs: number;
  readonly defaultSeed: number;
  readonly batchSize: number;
  /** Adam learning rate, cosine-decayed per batch from `max` to `min`. */
  readonly lr: { readonly max: number; readonly min: number };
  /** Inverted dropout on the output of layer `afterLayer` during training only. */
  readonly dropout?: { readonly afterLayer: string; readonly rate: number };
  /**
   * L2 penalty λ·‖W‖² (sum of squares) on kernel weights, added to the mean loss of each batch: one λ for
   * every kernel, or λ per layer name (layers not named get none). Biases are never penalised.
   */
  readonly weightDecay?: number | Readonly<Record<string, number>>;
  /** Replaces the default loss (mean softmax cross-entropy, or mean softplus(−y·z) for 'binary-logit'). */
  readonly loss?: (ctx: LossContext) => tf.Scalar;
  /** One-line description of the loss for the card (required with `loss`). */
  readonly lossName?: string;
  /** Runs once on the freshly built model before supervised training; returns facts for the card. */
  readonly pretrain?: (model: tf.LayersModel, train: Dataset, ctx: PretrainContext) => Promise<Record<string, unknown>>;
  /** Extra measurements on the RELOADED classifier (and its LayersModel) and the test set, merged into the card. */
  readonly evaluate?: (clf: Classifier, test: Dataset, model: tf.LayersModel) => Record<string, unknown>;
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
  ...ZOO_SIMPLE_SPECS,
};

interface Args {
  id: string;
  epochs?: number;
  seed?: number;
  out?: string;
  trainLimit?: number;
  pretrainEpochs?: number;
  logEvery: number;
}

function parseArgs(argv: string[]): Args {
  const usage = `usage: npx tsx training/train.ts <${Object.keys(TRAIN_SPECS).join('|')}> ` +
    '[--epochs N] [--seed S] [--out DIR] [--train-limit N] [--log-every N] [--pretrain-epochs N]';
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
    if (!['epochs', 'seed', 'train-limit', 'log-every', 'pretrain-epochs'].includes(k) || !Number.isInteger(n) || n < 0) {
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
    pretrainEpochs: opts.get('pretrain-epochs') as number | undefined,
    logEvery: (opts.get('log-every') as number | undefined) ?? 50,
  };
}

/** Fraction of `ds` a Classifier gets right (arg-max of its logits), evaluated in batches. */
export function classifierAccuracy(clf: Classifier, ds: Dataset, batch = 500): number {
  return batchedAccuracy(ds, batch, (x) => clf.logits(x));
}

/** λ·Σ‖W‖² over the kernels of `model` (see TrainSpec.weightDecay), or null when there is none. */
export function weightDecayPenalty(model: tf.LayersModel, decay: TrainSpec['weightDecay']): tf.Scalar | null {
  if (decay == null) return null;
  let total: tf.Scalar | null = null;
  for (const layer of model.layers) {
    const lambda = typeof decay === 'number' ? decay : decay[layer.name];
    if (lambda == null || lambda === 0) continue;
    for (const w of layer.trainableWeights) {
      if (!/kernel/.test(w.originalName)) continue;
      const term = tf.mul(lambda, tf.sum(tf.square(w.read()))) as tf.Scalar;
      total = total == null ? term : tf.add(total, term);
    }
  }
  return total;
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

function defaultLoss(output: TrainOutput, { out, labels }: LossContext): tf.Scalar {
  if (output === 'binary-logit') {
    // y ∈ {−1, +1}: the ordinary logistic loss softplus(−y·z).
    const y = tf.sub(tf.mul(tf.cast(labels, 'float32'), 2), 1);
    return tf.mean(tf.softplus(tf.neg(tf.mul(y, tf.reshape(out, [-1]))))) as tf.Scalar;
  }
  return tf.losses.softmaxCrossEntropy(tf.oneHot(labels, out.shape[1] as number), out) as tf.Scalar;
}

function fillBatch(ds: Dataset, order: Uint32Array, start: number, size: number): { x: Float32Array; y: Int32Array } {
  const px = ds.rows * ds.cols;
  const x = new Float32Array(size * px);
  const y = new Int32Array(size);
  for (let b = 0; b < size; b++) {
    const idx = order[start + b];
    x.set(ds.images.subarray(idx * px, (idx + 1) * px), b * px);
    y[b] = ds.labels[idx];
  }
  return { x, y };
}

/** Class names for the accuracy wrapper: only their count matters here. */
function classNamesOf(model: tf.LayersModel, output: TrainOutput): string[] {
  const k = output === 'binary-logit' ? 2 : (model.outputs[0].shape[1] as number);
  return Array.from({ length: k }, (_, i) => String(i));
}

/** Train one supervised model id (see TRAIN_SPECS) with the command-line options in argv. */
export async function trainSupervised(argv: string[]): Promise<void> {
  const args = parseArgs(argv);
  const spec = TRAIN_SPECS[args.id];
  const output: TrainOutput = spec.output ?? 'logits';
  const epochs = args.epochs ?? spec.defaultEpochs;
  const seed = args.seed ?? spec.defaultSeed;
  const outDir = args.out ?? join('models', args.id);
  const log = (s: string): void => { process.stderr.write(`${s}\n`); };

  const backend = await useNodeBackend('wasm');
  let train = loadDataset(spec.dataset, 'train');
  let test = loadDataset(spec.dataset, 'test');
  if (spec.subset != null) {
    train = subsetDataset(train, spec.subset.classes);
    test = subsetDataset(test, spec.subset.classes);
  }
  if (args.trainLimit != null && args.trainLimit < train.n) {
    const n = args.trainLimit;
    train = { ...train, n, images: train.images.subarray(0, n * 784), labels: train.labels.subarray(0, n) };
  }
  const datasetName = spec.subset?.name ?? spec.dataset;
  log(`${args.id}: ${datasetName} train ${train.n}, test ${test.n}; backend ${backend}; epochs ${epochs}; seed ${seed}`);

  const model = spec.build(seed);
  const params = model.countParams();
  log(describeArchitecture(model).map((l) => `  ${l}`).join('\n'));
  log(`  total ${params} params`);
  const monitor = classifierFromLayersModel(model, { id: args.id, classNames: classNamesOf(model, output), output });

  const t0 = performance.now();
  let pretraining: Record<string, unknown> | null = null;
  if (spec.pretrain != null) {
    pretraining = await spec.pretrain(model, train, { seed, epochs: args.pretrainEpochs, log });
    log(`pretraining done in ${fmtSeconds((performance.now() - t0) / 1000)}; ` +
      `test accuracy before fine-tuning ${(classifierAccuracy(monitor, test) * 100).toFixed(2)}%`);
  }
  const pretrainSeconds = (performance.now() - t0) / 1000;

  const rand = mulberry32(seed ^ 0x5eed);
  const optimizer = tf.train.adam(spec.lr.max);
  const setLr = (lr: number): void => { (optimizer as unknown as { learningRate: number }).learningRate = lr; };
  const varList = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const bs = spec.batchSize;
  const batchesPerEpoch = Math.ceil(train.n / bs);
  const totalBatches = batchesPerEpoch * epochs;
  const order = Uint32Array.from({ length: train.n }, (_, i) => i);
  const epochSeconds: number[] = [];
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
        const labels = tf.tensor1d(y, 'int32');
        const value = optimizer.minimize(() => {
          const ctx: LossContext = { model, out: forwardTrain(model, xt, spec, rand), labels };
          const data = spec.loss != null ? spec.loss(ctx) : defaultLoss(output, ctx);
          const penalty = weightDecayPenalty(model, spec.weightDecay);
          return penalty == null ? data : tf.add(data, penalty) as tf.Scalar;
        }, true, varList);
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
        const elapsed = (now - t0) / 1000 - monitorSeconds - pretrainSeconds;
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
    const acc = classifierAccuracy(monitor, test);
    monitorSeconds += (performance.now() - tm) / 1000;
    log(`epoch ${epoch + 1} done in ${fmtSeconds(secs)}: mean loss ${(lossSum / lossN).toFixed(4)}, ` +
      `test accuracy ${(acc * 100).toFixed(2)}%`);
  }
  const trainingSeconds = (performance.now() - t0) / 1000 - monitorSeconds;
  const inMemoryAccuracy = classifierAccuracy(monitor, test);
  const { bytes } = await saveLayersModel(model, outDir);

  // The card's numbers come from the saved files, loaded the way the app loads them.
  const reloadedModel = await loadLayersModelFromDir(outDir);
  const reloaded = classifierFromLayersModel(reloadedModel, { id: args.id, classNames: classNamesOf(model, output), output });
  const testAccuracy = classifierAccuracy(reloaded, test);
  if (testAccuracy !== inMemoryAccuracy) {
    throw new Error(`reloaded ${outDir} scores ${testAccuracy}, the trained model ${inMemoryAccuracy}`);
  }
  const extra = spec.evaluate?.(reloaded, test, reloadedModel) ?? {};
  log(`test accuracy of the reloaded model on ${test.n} images: ${(testAccuracy * 100).toFixed(2)}%` +
    (Object.keys(extra).length > 0 ? ` ${JSON.stringify(extra)}` : ''));
  reloaded.dispose();

  const inputShape = (model.inputs[0].shape as number[]).slice(1);
  const lastOutput = outputKind(model);
  const card = {
    id: args.id,
    dataset: datasetName,
    split: { train: train.n, test: test.n },
    architecture: describeArchitecture(model),
    params,
    epochs,
    batchSize: bs,
    optimizer: `adam, lr cosine ${spec.lr.max} -> ${spec.lr.min} per batch`,
    loss: spec.lossName ?? (output === 'binary-logit' ? 'mean softplus(-y*z), y in {-1,+1}' : 'mean softmax cross-entropy'),
    dropout: spec.dropout ?? null,
    weightDecay: spec.weightDecay ?? null,
    ...(pretraining != null ? { pretraining } : {}),
    seed,
    backend,
    tfjsVersion: tf.version.tfjs,
    trainingSeconds: Math.round(trainingSeconds * 10) / 10,
    secondsPerEpoch: Math.round(epochSeconds.reduce((a, b) => a + b, 0) / Math.max(1, epochSeconds.length) * 100) / 100,
    fileBytes: bytes,
    testAccuracy,
    testN: test.n,
    ...extra,
    output: output === 'binary-logit' && lastOutput === 'logits' ? 'binary-logit' : lastOutput,
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

export { subsetDataset };
