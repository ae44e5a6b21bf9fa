/**
 * Bring your own model: the popup's form fields (all text) to a checked model description and URL,
 * and a page image to the described model's input. Grey models go through the same preprocessing as
 * the shipped ones (MNIST-style centring or a plain resize, with light backgrounds inverted) when
 * square; RGB models get the page image resized to h×w (area resampling per channel, transparency
 * over white). Values are mapped from [0, 1] to the model's value range. Pure TypeScript.
 */
import { ProbeError } from '../errors';
import { preprocess, resampleArea, type RgbaImage } from '../image/preprocess';
import type { UserModelSpec } from '../models/user-model';
import { checkModelUrl, checkWireSpec, type UserModelWireSpec } from './user-source';

export { checkModelUrl } from './user-source';

/** The form as typed: every field a string. */
export interface UserModelForm {
  readonly url: string;
  readonly format: string;
  readonly height: string;
  readonly width: string;
  readonly channels: string;
  readonly min: string;
  readonly max: string;
  readonly classNames: string;
  readonly output: string;
  readonly classOffset: string;
  readonly preprocess: string;
}

/** Class names from text: one per line, or comma-separated on a single line; blank entries dropped. */
export function parseClassNames(text: string): string[] {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
  const names = lines.length === 1 && lines[0].includes(',') ? lines[0].split(',').map((n) => n.trim()).filter((n) => n !== '') : lines;
  return names;
}

function num(field: string, v: string): number {
  const s = v.trim();
  const n = s === '' ? Number.NaN : Number(s);
  if (!Number.isFinite(n)) throw new ProbeError('BAD_INPUT', `${field}: a number is needed, got "${s}".`);
  return n;
}

/**
 * The form to a URL and a checked description (checkWireSpec: validateUserModelSpec's rules without
 * TensorFlow.js, so the popup can say at once what is wrong; the background validates again with
 * validateUserModelSpec before loading); BAD_INPUT naming the first wrong field.
 */
export function userModelFromForm(f: UserModelForm): { url: string; spec: UserModelWireSpec } {
  const url = checkModelUrl(f.url);
  const name = new URL(url).pathname.split('/').filter((p) => p !== '' && p !== 'model.json').pop() ?? 'model';
  return { url, spec: specFromForm(f, name) };
}

/**
 * The form's description for a model picked as files (the URL field is not used): its id from the
 * model.json's file name (`name`), checked as userModelFromForm checks it.
 */
export function userModelSpecFromFiles(f: UserModelForm, name: string): UserModelWireSpec {
  const stem = name.replace(/\.json$/i, '');
  return specFromForm(f, stem === '' || stem.toLowerCase() === 'model' ? 'file-model' : stem);
}

function specFromForm(f: UserModelForm, name: string): UserModelWireSpec {
  const id = `user:${name.replace(/[^a-z0-9._-]/gi, '-').slice(0, 58) || 'model'}`;
  return checkWireSpec({
    id,
    format: f.format,
    inputShape: [num('Height', f.height), num('Width', f.width), num('Channels', f.channels)],
    inputRange: { min: num('Value range min', f.min), max: num('Value range max', f.max) },
    classNames: parseClassNames(f.classNames),
    output: f.output,
    classOffset: f.classOffset.trim() === '' ? 0 : num('Leading non-class outputs', f.classOffset),
    preprocess: f.preprocess,
  });
}

/** The page image as the described model's input (h·w·c values in its range), and how it was made. */
export function userModelInput(img: RgbaImage, spec: UserModelSpec): { pixels: Float32Array; how: string; inverted: boolean } {
  const [h, w, c] = spec.inputShape;
  const { min, max } = spec.inputRange;
  const scale = (v: number): number => min + (max - min) * v;
  if (c === 1 && h === w) {
    const p = preprocess(img, { mode: spec.preprocess, size: h });
    return { pixels: p.pixels.map(scale), how: `${p.mode === 'mnist' ? 'MNIST-style centring' : 'grey, padded and resized'} to ${h}×${w}${p.inverted ? ', light background inverted' : ''}`, inverted: p.inverted };
  }
  const { width: W, height: H, data } = img;
  if (!Number.isInteger(W) || !Number.isInteger(H) || W < 1 || H < 1 || data.length !== W * H * 4) throw new ProbeError('BAD_INPUT', 'The page image has no usable pixels.');
  const planes = Array.from({ length: 3 }, () => new Float32Array(W * H));
  for (let i = 0, p = 0; i < W * H; i++, p += 4) {
    const a = data[p + 3] / 255;
    for (let k = 0; k < 3; k++) planes[k][i] = (data[p + k] / 255) * a + (1 - a);
  }
  const resized = planes.map((pl) => resampleArea(pl, W, H, w, h));
  const out = new Float32Array(h * w * c);
  for (let i = 0; i < h * w; i++) {
    if (c === 3) for (let k = 0; k < 3; k++) out[i * 3 + k] = scale(resized[k][i]);
    else out[i] = scale(0.299 * resized[0][i] + 0.587 * resized[1][i] + 0.114 * resized[2][i]);
  }
  return { pixels: out, how: `${c === 3 ? 'RGB' : 'grey'}, resized to ${h}×${w}`, inverted: false };
}

/** Model input values back to display levels 0–255 (for a PNG of what the model sees). */
export function displayLevels(pixels: ArrayLike<number>, spec: Pick<UserModelSpec, 'inputRange'>): Uint8Array {
  const { min, max } = spec.inputRange;
  return Uint8Array.from({ length: pixels.length }, (_, i) => Math.round(Math.min(1, Math.max(0, (pixels[i] - min) / (max - min))) * 255));
}
