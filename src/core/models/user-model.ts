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
import type { Classifier, InputRange, PreprocessMode } from './types';

/** The user's description of a model. */
export interface UserModelSpec {
  /** Shown in the popup; also the cache key ('user:' + a short name). */
  readonly id: string;
  readonly format: 'layers' | 'graph';
  /** [height, width, channels] of one input image; channels 1 (grey) or 3 (RGB). */
  readonly inputShape: readonly [number, number, number];
  /** The pixel values the model expects, e.g. [0, 1], [0, 255] or [−1, 1]. */
  readonly inputRange: InputRange;
  readonly classNames: readonly string[];
  /** What the model emits: unnormalised scores, or probabilities (a softmax at the end). */
  readonly output: 'logits' | 'probs';
  /** Leading outputs that are not classes (MobileNet's 1001st "background" class comes first): dropped. */
  readonly classOffset: number;
  /** How a page image becomes the input: MNIST-style centring, or a plain resize. */
  readonly preprocess: PreprocessMode;
}

const MAX_SIDE = 1024;
const MAX_CLASSES = 100_000;
const MAX_NAME = 200;

const bad = (what: string): never => {
  throw new ProbeError('BAD_INPUT', `Model description: ${what}`);
};

/** The spec from untrusted data (a form, a message, a JSON file), or BAD_INPUT saying what is wrong. */
export function validateUserModelSpec(raw: unknown): UserModelSpec {
  if (typeof raw !== 'object' || raw === null) return bad('expected an object');
  const r = raw as Record<string, unknown>;
  const id = r.id;
  if (typeof id !== 'string' || !/^[a-z0-9][a-z0-9:._-]{0,63}$/i.test(id)) bad('id must be 1–64 letters, digits, ":", ".", "_" or "-"');
  if (r.format !== 'layers' && r.format !== 'graph') bad('format must be "layers" or "graph"');
  const shape = r.inputShape;
  if (!Array.isArray(shape) || shape.length !== 3) return bad('inputShape must be [height, width, channels]');
  const [h, w, c] = shape as unknown[];
  for (const [name, v] of [['height', h], ['width', w]] as const) {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_SIDE) bad(`${name} must be an integer from 1 to ${MAX_SIDE}`);
  }
  if (c !== 1 && c !== 3) bad('channels must be 1 or 3');
  const range = r.inputRange as Record<string, unknown> | null | undefined;
  if (typeof range !== 'object' || range === null) return bad('inputRange must be { min, max }');
  const { min, max } = range;
  if (typeof min !== 'number' || typeof max !== 'number' || !Number.isFinite(min) || !Number.isFinite(max) || !(min < max)) bad('inputRange needs finite min < max');
  const names = r.classNames;
  if (!Array.isArray(names) || names.length < 2 || names.length > MAX_CLASSES) return bad(`classNames must list 2 to ${MAX_CLASSES} names`);
  for (const n of names) if (typeof n !== 'string' || n.length === 0 || n.length > MAX_NAME) bad(`each class name must be a string of 1 to ${MAX_NAME} characters`);
  if (r.output !== 'logits' && r.output !== 'probs') bad('output must be "logits" or "probs"');
  const offset = r.classOffset ?? 0;
  if (typeof offset !== 'number' || !Number.isInteger(offset) || offset < 0 || offset > 10) bad('classOffset must be an integer from 0 to 10');
  const pre = r.preprocess ?? 'resize';
  if (pre !== 'mnist' && pre !== 'resize') bad('preprocess must be "mnist" or "resize"');
  return {
    id: id as string,
    format: r.format as 'layers' | 'graph',
    inputShape: [h as number, w as number, c as 1 | 3],
    inputRange: { min: min as number, max: max as number },
    classNames: (names as string[]).slice(),
    output: r.output as 'logits' | 'probs',
    classOffset: offset as number,
    preprocess: pre as PreprocessMode,
  };
}

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

/**
 * ImageNet MobileNet v2 (1.0, 224) as a user model: loaded from its public address only after the
 * user agrees (the popup shows `MOBILENET_V2.note`), cached by the browser; 1001 outputs, the first a
 * "background" class; inputs in [−1, 1]. The class names come with it from the same source
 * (`labelsUrl`, one name per line, the first being "background").
 */
export const MOBILENET_V2 = {
  modelUrl: 'https://tfhub.dev/google/imagenet/mobilenet_v2_100_224/classification/2',
  labelsUrl: 'https://storage.googleapis.com/download.tensorflow.org/data/ImageNetLabels.txt',
  note: 'MobileNet v2 (ImageNet, 1,000 classes) is about 14 MB, downloaded once from tfhub.dev (Google) and kept in the browser cache. Images stay on this computer.',
  spec: (classNames: readonly string[]): UserModelSpec =>
    validateUserModelSpec({ id: 'imagenet-mobilenet-v2', format: 'graph', inputShape: [224, 224, 3], inputRange: { min: -1, max: 1 }, classNames, output: 'logits', classOffset: 1, preprocess: 'resize' }),
} as const;

/** Class names from a labels file with one name per line, the first being "background" (dropped). */
export function parseImageNetLabels(text: string): string[] {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
  if (lines.length < 3) throw new ProbeError('MODEL_LOAD_FAILED', `The class list has ${lines.length} lines.`);
  return lines[0].toLowerCase() === 'background' ? lines.slice(1) : lines;
}
