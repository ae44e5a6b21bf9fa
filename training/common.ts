/** Helpers shared by every training script (Node only; never run in CI). */
import * as tf from '@tensorflow/tfjs';
import { loadFashionMnist, loadMnist, type Dataset, type Split } from '../src/cli/data';

export type TrainDataset = 'mnist' | 'fashion-mnist';

export { mulberry32 } from '../src/core/random';

export function shuffleInPlace(a: Uint32Array, rand: () => number): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
}

export function loadDataset(id: TrainDataset, split: Split): Dataset {
  return id === 'mnist' ? loadMnist(split) : loadFashionMnist(split);
}

/** Fraction of `ds` classified correctly, evaluated in batches. */
export function accuracy(model: tf.LayersModel, ds: Dataset, batch = 500): number {
  return batchedAccuracy(ds, batch, (x) => model.predict(x) as tf.Tensor);
}

/**
 * Fraction of `ds` whose arg-max of `scores(x)` (run inside a tidy, one batch at a time) equals
 * the label: the one evaluation loop every training script uses.
 */
export function batchedAccuracy(ds: Dataset, batch: number, scores: (x: tf.Tensor4D, start: number, size: number) => tf.Tensor): number {
  const px = ds.rows * ds.cols;
  let correct = 0;
  for (let start = 0; start < ds.n; start += batch) {
    const size = Math.min(batch, ds.n - start);
    const pred = tf.tidy(() => {
      const x = tf.tensor4d(ds.images.subarray(start * px, (start + size) * px), [size, ds.rows, ds.cols, 1]);
      return tf.argMax(scores(x, start, size), 1);
    });
    const p = pred.dataSync();
    pred.dispose();
    for (let i = 0; i < size; i++) if (p[i] === ds.labels[start + i]) correct++;
  }
  return correct / ds.n;
}

export function fmtSeconds(s: number): string {
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

export function outputKind(model: tf.LayersModel): 'logits' | 'probs' {
  const last = model.layers[model.layers.length - 1];
  const act = (last.getConfig() as { activation?: unknown }).activation;
  if (act === 'linear') return 'logits';
  if (act === 'softmax') return 'probs';
  throw new Error(`cannot tell the output kind of layer ${last.name} (activation ${String(act)})`);
}

export function valueRange(a: Float32Array): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < a.length; i++) {
    if (a[i] < lo) lo = a[i];
    if (a[i] > hi) hi = a[i];
  }
  return [lo, hi];
}


/** Progress lines go to stderr (stdout stays free for results). */
export function log(s: string): void {
  process.stderr.write(`${s}\n`);
}
