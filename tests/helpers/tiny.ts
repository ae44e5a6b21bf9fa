import * as tf from '@tensorflow/tfjs';
import { classifierFromLayersModel } from '../../src/core/models/layers';
import type { Classifier } from '../../src/core/models/types';
import { mulberry32 } from '../../src/core/random';

/** A small seeded conv net (28×28×1 → 10 logits) for fast, model-independent attack tests. */
export function tinyClassifier(seed = 1): Classifier {
  const init = (s: number) => tf.initializers.glorotUniform({ seed: seed * 100 + s });
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 4, kernelSize: 5, strides: 2, activation: 'relu', kernelInitializer: init(1) }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 10, kernelInitializer: init(2) }),
    ],
  });
  return classifierFromLayersModel(model, { id: 'tiny', classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'], output: 'logits' });
}

/** Deterministic pseudo-random images in [0,1] (mulberry32). */
export function randomImages(n: number, seed = 7): tf.Tensor4D {
  const next = mulberry32(seed);
  const data = new Float32Array(n * 784);
  for (let i = 0; i < data.length; i++) data[i] = next();
  return tf.tensor4d(data, [n, 28, 28, 1]);
}
