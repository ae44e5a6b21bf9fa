/**
 * Models the user brings (issue 6: "Bring your own model", and the ImageNet MobileNet v2): a tfjs
 * LayersModel or GraphModel by URL or files, described by the user — input size, channels, value range,
 * class names, what the output is — validated with clear errors, and wrapped as a Classifier so that
 * every attack works on it. The description is checked twice: as data (validateUserModelSpec), and
 * against the loaded model (a forward pass on a blank image must give one score per class).
 */
import * as tf from '@tensorflow/tfjs';
import { ProbeError } from '../errors';
import { classifierFromLayersModel } from './layers';
import type { Classifier } from './types';
import type { UserModelSpec } from './user-spec';

export { MOBILENET_V2, parseImageNetLabels, validateUserModelSpec, type UserModelSpec } from './user-spec';

/** Wraps a GraphModel as a Classifier (differentiable: graph execution records on tf's tape). */
export function classifierFromGraphModel(model: tf.GraphModel, spec: UserModelSpec): Classifier {
  const k = spec.classNames.length;
  return {
    id: spec.id,
    inputShape: spec.inputShape,
    inputRange: spec.inputRange,
    classNames: spec.classNames,
    logits(x: tf.Tensor4D): tf.Tensor2D {
      return tf.tidy(() => {
        let out = model.predict(x) as tf.Tensor | tf.Tensor[] | tf.NamedTensorMap;
        if (!(out instanceof tf.Tensor)) out = (Array.isArray(out) ? out[0] : Object.values(out)[0]) as tf.Tensor;
        const scores = tf.reshape(out, [x.shape[0], -1]);
        if ((scores.shape[1] ?? 0) < spec.classOffset + k) {
          throw new ProbeError('BAD_INPUT', `The model gives ${scores.shape[1]} scores per image, fewer than ${spec.classOffset} + ${k} classes described.`);
        }
        const sliced = spec.classOffset > 0 || scores.shape[1] !== k ? tf.slice(scores, [0, spec.classOffset], [-1, k]) : scores;
        return (spec.output === 'probs' ? tf.log(tf.add(sliced, 1e-12)) : sliced) as tf.Tensor2D;
      });
    },
    dispose(): void {
      model.dispose();
    },
  };
}

/**
 * Loads a user model (URL or io handler) and checks it against its description: it must take
 * [1, h, w, c] and give at least classOffset + classes scores. MODEL_LOAD_FAILED if it does not load,
 * BAD_INPUT (with what differs) if it does not match.
 */
export async function loadUserClassifier(spec: UserModelSpec, source: string | tf.io.IOHandler): Promise<Classifier> {
  let clf: Classifier;
  try {
    if (spec.format === 'graph') {
      clf = classifierFromGraphModel(await tf.loadGraphModel(source), spec);
    } else {
      const m = await tf.loadLayersModel(source);
      const inShape = m.inputs[0]?.shape;
      if (!inShape || inShape.length !== 4 || inShape[1] !== spec.inputShape[0] || inShape[2] !== spec.inputShape[1] || inShape[3] !== spec.inputShape[2]) {
        m.dispose();
        throw new ProbeError('BAD_INPUT', `The model takes ${JSON.stringify(inShape)}, not [batch, ${spec.inputShape.join(', ')}] as described.`);
      }
      const base = classifierFromLayersModel(m, { id: spec.id, classNames: spec.classNames, inputRange: spec.inputRange, output: spec.output });
      clf = spec.classOffset === 0 ? base : { ...base, logits: (x) => tf.tidy(() => tf.slice(base.logits(x), [0, spec.classOffset], [-1, spec.classNames.length]) as tf.Tensor2D) };
    }
  } catch (e) {
    if (e instanceof ProbeError) throw e;
    throw new ProbeError('MODEL_LOAD_FAILED', `The model "${spec.id}" did not load: ${e instanceof Error ? e.message : String(e)}`);
  }
  // One forward pass on a blank image: the description must fit the model.
  try {
    const z = tf.tidy(() => {
      const raw = clf.logits(tf.fill([1, ...spec.inputShape], spec.inputRange.min) as tf.Tensor4D);
      return raw;
    });
    const ok = z.shape.length === 2 && z.shape[1] === spec.classNames.length;
    const finite = (await z.data()).every((v) => Number.isFinite(v));
    z.dispose();
    if (!ok) throw new ProbeError('BAD_INPUT', `The model gives ${z.shape.join('×')} scores, not one per class (${spec.classNames.length}).`);
    if (!finite) throw new ProbeError('BAD_INPUT', 'The model gives non-finite scores on a blank image.');
  } catch (e) {
    clf.dispose();
    if (e instanceof ProbeError) throw e;
    throw new ProbeError('BAD_INPUT', `The model does not fit its description: ${e instanceof Error ? e.message : String(e)}`);
  }
  return clf;
}
