import * as tf from '@tensorflow/tfjs';
import { ProbeError } from '../../src/core/errors';
import type { Classifier } from '../../src/core/models/types';

/** The model's predicted class per image. */
export const argmax = (model: Classifier, x: tf.Tensor4D): number[] => tf.tidy(() => tf.argMax(model.logits(x), 1).arraySync() as number[]);

/** L2 distance of each image of `a` to the same image of `b`. */
export const rowL2 = (a: tf.Tensor4D, b: tf.Tensor4D): number[] =>
  tf.tidy(() => tf.sqrt(tf.sum(tf.square(tf.sub(a, b)).reshape([a.shape[0], -1]), 1)).arraySync() as number[]);

/** The ProbeError code a promise rejects with (undefined when it resolves). */
export const codeOf = async (p: Promise<unknown>): Promise<string | undefined> => {
  try {
    await p;
    return undefined;
  } catch (e) {
    return e instanceof ProbeError ? e.code : `not a ProbeError: ${String(e)}`;
  }
};
