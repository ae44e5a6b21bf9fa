import type * as tf from '@tensorflow/tfjs';

/** Value range of a model's input pixels. */
export interface InputRange {
  readonly min: number;
  readonly max: number;
}

/** How a page image is turned into a model input (see src/core/image/preprocess.ts). */
export type PreprocessMode = 'mnist' | 'resize';

/**
 * A differentiable image classifier. Attacks are functions of a Classifier
 * (CleverHans v4 style: `attack(model, x, params)`), never of a concrete model class.
 */
export interface Classifier {
  readonly id: string;
  /** [height, width, channels] of one input image. */
  readonly inputShape: readonly [number, number, number];
  readonly inputRange: InputRange;
  readonly classNames: readonly string[];
  /** Unnormalised scores, [batch, classes], for a batch [batch, h, w, c] in inputRange. */
  logits(x: tf.Tensor4D): tf.Tensor2D;
  dispose(): void;
}
