import * as tf from '@tensorflow/tfjs';
import { ProbeError } from '../errors';
import type { OutputKind } from './catalog';
import { compileChain, vjpFor } from './chain';
import type { Classifier, InputRange } from './types';

export interface LayersClassifierOptions {
  readonly id: string;
  readonly classNames: readonly string[];
  readonly inputRange?: InputRange;
  /** What the last layer emits (see OutputKind in catalog.ts). */
  readonly output: OutputKind;
}

/** Wrap a tfjs LayersModel as a Classifier. The Classifier owns the model (dispose frees it). */
export function classifierFromLayersModel(model: tf.LayersModel, opts: LayersClassifierOptions): Classifier {
  const shape = model.inputs[0]?.shape;
  if (!shape || shape.length !== 4 || shape.slice(1).some((d) => typeof d !== 'number')) {
    throw new ProbeError('MODEL_LOAD_FAILED', `model ${opts.id} must take [batch, h, w, c] images`);
  }
  const inputShape = [shape[1], shape[2], shape[3]] as [number, number, number];
  const chain = opts.output === 'logits' ? compileChain(model) : null;
  const logits = (x: tf.Tensor4D): tf.Tensor2D =>
    tf.tidy(() => {
      const out = model.apply(x, { training: false }) as tf.Tensor2D;
      if (opts.output === 'logits') return out;
      if (opts.output === 'binary-logit') return tf.concat([tf.zerosLike(out), out], 1) as tf.Tensor2D;
      return tf.log(tf.add(out, 1e-12)) as tf.Tensor2D;
    });
  return {
    id: opts.id,
    inputShape,
    inputRange: opts.inputRange ?? { min: 0, max: 1 },
    classNames: opts.classNames,
    logits,
    ...(chain ? { logitsAndVjp: vjpFor(logits, (x, seed) => chain.vjp(x, seed), (x, seed) => chain.vjpUnlessZero(x, seed)) } : {}),
    dispose(): void {
      model.dispose();
    },
  };
}

/** Softmax probabilities and arg-max labels for a batch (helper over Classifier.logits). */
export function predict(model: Classifier, x: tf.Tensor4D): { probs: tf.Tensor2D; labels: tf.Tensor1D } {
  return tf.tidy(() => {
    const logits = model.logits(x);
    return { probs: tf.softmax(logits) as tf.Tensor2D, labels: tf.argMax(logits, 1) as tf.Tensor1D };
  });
}
