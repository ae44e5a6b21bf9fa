import * as tf from '@tensorflow/tfjs';
import { loadMnist } from '../../src/cli/data';
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

/** The first n MNIST test images and their (label + 1) mod 10 targets (caller disposes x and y). */
export function firstTestImagesWithNextTargets(n: number): { x: tf.Tensor4D; y: tf.Tensor1D; targets: number[] } {
  const ds = loadMnist('test');
  const targets = Array.from(ds.labels.slice(0, n), (l) => (l + 1) % 10);
  return { x: tf.tensor4d(ds.images.slice(0, n * 784), [n, 28, 28, 1]), y: tf.tensor1d(targets, 'int32'), targets };
}
