/**
 * Transfer (Szegedy et al. 2014, Goodfellow et al. 2015): an adversarial crafted on one model fed to
 * other models. A model is fooled when its prediction on the adversarial differs from its own
 * prediction on the clean image. Pure tfjs.
 */
import * as tf from '@tensorflow/tfjs';
import { ProbeError } from '../errors';
import type { Classifier } from '../models/types';

/** One model's verdict on the clean and the adversarial image. */
export interface TransferRow {
  readonly modelId: string;
  readonly cleanLabel: number;
  readonly cleanClass: string;
  readonly advLabel: number;
  readonly advClass: string;
  /** Softmax probability of advLabel on the adversarial. */
  readonly advConfidence: number;
  readonly fooled: boolean;
}

function argMax(v: ArrayLike<number>): number {
  let b = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[b]) b = i;
  return b;
}

/** Classify the clean and the adversarial image (h·w·c values each) with one model; frees what it makes. */
export async function transferRow(model: Classifier, clean: Float32Array, adversarial: Float32Array): Promise<TransferRow> {
  const [h, w, c] = model.inputShape;
  const size = h * w * c;
  if (clean.length !== size || adversarial.length !== size) {
    throw new ProbeError('BAD_INPUT', `${model.id} takes ${h}×${w}×${c} images (${size} values), got ${clean.length} and ${adversarial.length}`);
  }
  const probsT = tf.tidy(() => {
    const both = new Float32Array(2 * size);
    both.set(clean, 0);
    both.set(adversarial, size);
    return tf.softmax(model.logits(tf.tensor4d(both, [2, h, w, c])));
  });
  try {
    const p = (await probsT.data()) as Float32Array;
    const k = model.classNames.length;
    const cleanLabel = argMax(p.subarray(0, k));
    const adv = p.subarray(k, 2 * k);
    const advLabel = argMax(adv);
    return {
      modelId: model.id,
      cleanLabel,
      cleanClass: model.classNames[cleanLabel] ?? String(cleanLabel),
      advLabel,
      advClass: model.classNames[advLabel] ?? String(advLabel),
      advConfidence: adv[advLabel],
      fooled: advLabel !== cleanLabel,
    };
  } finally {
    probsT.dispose();
  }
}

/**
 * transferRow for each model id in turn (models loaded by `load`, never disposed here: a cache owns
 * them); stops with CANCELLED between models when `signal` aborts; reports progress after each.
 */
export async function transferAll(
  ids: readonly string[],
  load: (id: string) => Promise<Classifier>,
  clean: Float32Array,
  adversarial: Float32Array,
  ctl: { signal?: AbortSignal; onProgress?: (done: number, total: number, id: string) => void } = {},
): Promise<TransferRow[]> {
  const rows: TransferRow[] = [];
  for (const [i, id] of ids.entries()) {
    if (ctl.signal?.aborted) throw new ProbeError('CANCELLED', 'The transfer check was cancelled.');
    rows.push({ ...(await transferRow(await load(id), clean, adversarial)), modelId: id });
    ctl.onProgress?.(i + 1, ids.length, id);
  }
  return rows;
}
