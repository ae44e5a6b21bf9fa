/**
 * Adversarial training side by side (Goodfellow et al. 2015, sections 5–6): the same image and the same
 * attack, crafted white-box on a model and on its adversarially trained twin, and the weights w of the
 * 3-vs-7 logistic regression (for a binary-logit model, ∇ₓ(z₁ − z₀) = w exactly: read through the
 * Classifier interface, no access to the saved layers needed). Pure TypeScript + TensorFlow.js.
 */
import * as tf from '@tensorflow/tfjs';
import { ProbeError } from '../errors';
import type { Classifier } from '../models/types';
import { attackOne, classifyOne } from '../probe';
import type { AttackChoice, AttackOutcome, Prediction } from '../../protocol/types';

/** The shipped pairs: a model and its adversarially trained twin. */
export const ADV_TRAINING_PAIRS = {
  maxout: ['mnist-maxout', 'mnist-maxout-adv'],
  lr: ['mnist-lr-3v7', 'mnist-lr-3v7-adv'],
} as const;

/** One model's clean prediction and its outcome under the attack crafted on it. */
export interface AdvTrainingRun {
  readonly modelId: string;
  readonly clean: Prediction;
  readonly outcome: AttackOutcome;
}

/**
 * Runs `choice` on `input` against each model in turn (white-box on each), checking `signal` between
 * models and passing it to the attack; the models belong to the caller.
 */
export async function attackEach(models: readonly Classifier[], input: Float32Array, choice: AttackChoice, signal?: AbortSignal): Promise<AdvTrainingRun[]> {
  const out: AdvTrainingRun[] = [];
  for (const m of models) {
    if (signal?.aborted) throw new ProbeError('CANCELLED', 'The adversarial-training comparison was cancelled.');
    const clean = await classifyOne(m, input);
    if (choice.target !== null && choice.target >= m.classNames.length) throw new ProbeError('BAD_INPUT', `target ${choice.target} is not a class of ${m.id}`);
    out.push({ modelId: m.id, clean, outcome: await attackOne(m, input, clean, choice, { signal }) });
  }
  return out;
}

/**
 * The weight vector w of a binary logistic regression given as a Classifier with logits [0, w·x + b]
 * (catalog output 'binary-logit'): ∇ₓ(z₁ − z₀) at any input, h·w·c values. BAD_INPUT for a model
 * with other than 2 classes.
 */
export async function logisticWeights(model: Classifier): Promise<Float32Array> {
  if (model.classNames.length !== 2) throw new ProbeError('BAD_INPUT', `${model.id} is not a binary classifier`);
  const [h, w, c] = model.inputShape;
  const g = tf.tidy(() => {
    const x = tf.zeros([1, h, w, c]) as tf.Tensor4D;
    return tf.grad((v: tf.Tensor) => {
      const z = model.logits(v as tf.Tensor4D);
      return tf.sum(tf.sub(z.slice([0, 1], [1, 1]), z.slice([0, 0], [1, 1])));
    })(x);
  });
  try {
    return Float32Array.from((await g.data()) as Float32Array);
  } finally {
    g.dispose();
  }
}
