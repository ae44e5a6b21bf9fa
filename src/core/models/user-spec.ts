/**
 * The description of a model the user brings (issue 6), and MobileNet v2's, without TensorFlow.js: the
 * message validator (every context, the content script included) and the popup's form use it as they
 * are; src/core/models/user-model.ts loads models by it.
 */
import { ProbeError, type ErrorCode } from '../errors';
import type { InputRange, PreprocessMode } from './types';

/** The user's description of a model. */
export interface UserModelSpec {
  /** Shown in the popup; also the cache key ('user:' + a short name). */
  readonly id: string;
  readonly format: 'layers' | 'graph';
  /** [height, width, channels] of one input image; channels 1 (grey) or 3 (RGB). */
  readonly inputShape: readonly [number, number, 1 | 3];
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

const FIELDS = ['id', 'format', 'inputShape', 'inputRange', 'classNames', 'output', 'classOffset', 'preprocess'];

/**
 * The spec from untrusted data (a form, a message, a JSON file), rebuilt field by field (no other field
 * passes), or `code` (default BAD_INPUT; the message validator passes BAD_MESSAGE) saying what is wrong.
 */
export function validateUserModelSpec(raw: unknown, code: ErrorCode = 'BAD_INPUT'): UserModelSpec {
  const bad = (what: string): never => {
    throw new ProbeError(code, `Model description: ${what}`);
  };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return bad('expected an object');
  const r = raw as Record<string, unknown>;
  for (const k of Object.keys(r)) if (!FIELDS.includes(k)) bad(`unexpected field "${k}"`);
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
    inputShape: [(h as number) + 0, (w as number) + 0, c as 1 | 3],
    inputRange: { min: (min as number) + 0, max: (max as number) + 0 },
    classNames: (names as string[]).slice(),
    output: r.output as 'logits' | 'probs',
    classOffset: (offset as number) + 0,
    preprocess: pre as PreprocessMode,
  };
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
