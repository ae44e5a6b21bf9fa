/**
 * LeNet-style CNN used for the MNIST experiments of Papernot et al.
 * (32 5x5 conv, pool, 64 5x5 conv, pool, dense 200, dense 10 logits).
 */
import * as tf from '@tensorflow/tfjs';

/** Name of the hidden dense layer; training applies dropout to its output. */
export const LENET_HIDDEN_LAYER = 'fc1';

/**
 * Builds the inference graph: input [28,28,1] in [0,1], output [batch,10] logits (no softmax).
 * 'valid' convolutions: 28→24→12→8→4, so the flatten has 4*4*64 = 1024 features (259,106 params).
 * Weights come from seeded initializers, so the same seed gives the same model.
 * Dropout is not a layer here: the training loop applies it (seeded) after {@link LENET_HIDDEN_LAYER}.
 */
export function buildLenet(seed: number): tf.LayersModel {
  let s = seed * 16;
  const kernel = (): ReturnType<typeof tf.initializers.glorotUniform> => tf.initializers.glorotUniform({ seed: s++ });
  const input = tf.input({ shape: [28, 28, 1], name: 'image' });
  let h = tf.layers.conv2d({
    name: 'conv1', filters: 32, kernelSize: 5, padding: 'valid', activation: 'relu',
    kernelInitializer: kernel(), biasInitializer: 'zeros',
  }).apply(input) as tf.SymbolicTensor;
  h = tf.layers.maxPooling2d({ name: 'pool1', poolSize: 2, strides: 2 }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.conv2d({
    name: 'conv2', filters: 64, kernelSize: 5, padding: 'valid', activation: 'relu',
    kernelInitializer: kernel(), biasInitializer: 'zeros',
  }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.maxPooling2d({ name: 'pool2', poolSize: 2, strides: 2 }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.flatten({ name: 'flatten' }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.dense({
    name: LENET_HIDDEN_LAYER, units: 200, activation: 'relu', kernelInitializer: kernel(), biasInitializer: 'zeros',
  }).apply(h) as tf.SymbolicTensor;
  const logits = tf.layers.dense({
    name: 'logits', units: 10, activation: 'linear', kernelInitializer: kernel(), biasInitializer: 'zeros',
  }).apply(h) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: logits, name: 'mnist_lenet' });
}
