/**
 * The measurements behind the Bradshaw et al. 2017 section of `probe reproduce` ("Adversarial examples,
 * uncertainty, and transfer testing robustness in Gaussian process hybrid deep networks"): accuracy
 * and log-likelihood of a probabilistic classifier (the GPDNN's predictive probabilities, or a
 * softmax), FGSM error and log-likelihood against ε, per-image CW-L2 outcomes and the extra
 * perturbation one model needs over another, the shifted test sets (rotation, noise) and the parser of
 * the font-rendered digits (assets/data/font-digits.*). Pure TypeScript + tfjs, no files, no DOM.
 */
import * as tf from '@tensorflow/tfjs';
import type { ClassifierAttackSpec, ParamValues } from '../attacks';
import { ProbeError } from '../errors';
import type { Classifier, Uncertain } from '../models/types';
import { mean, sampleSd } from './reproduce-szegedy';

/** The GPDNN and its NN twin (same CNN, softmax head), as shipped. */
export const BRADSHAW_MODELS = { gpdnn: 'mnist-gpdnn', nn: 'mnist-gpdnn-nn' } as const;

/** Where the font-rendered digits live (relative to the repository root) and their two files. */
export const FONT_DIGITS_DIR = 'assets/data';
export const FONT_DIGITS_JSON = 'font-digits.json';
export const FONT_DIGITS_BIN = 'font-digits.bin.gz';

/** Smallest probability whose log is taken (float32 probabilities can underflow to 0). */
const MIN_PROB = 1e-30;

/** True when the classifier reports predictive probabilities of its own (the GPDNN). */
export function isUncertain(m: Classifier): m is Uncertain {
  return typeof (m as Partial<Uncertain>).predictive === 'function';
}

/**
 * log p(y | x) for every class, [batch, classes]: the log of the GPDNN's predictive (robust-max)
 * probabilities for an Uncertain model, log-softmax of the logits otherwise.
 */
export function logProbabilities(model: Classifier, x: tf.Tensor4D): tf.Tensor2D {
  return tf.tidy(() => {
    if (isUncertain(model)) {
      const { probs, variance } = model.predictive(x);
      variance.dispose();
      return tf.log(tf.maximum(probs, MIN_PROB)) as tf.Tensor2D;
    }
    return tf.logSoftmax(model.logits(x)) as tf.Tensor2D;
  });
}

/** Images, optionally labelled (a set whose classes are not digits has no labels). */
export interface ImageSet {
  readonly images: Float32Array;
  readonly labels?: ArrayLike<number>;
  readonly n: number;
}

/** How a probabilistic classifier does on a set. Accuracy and log-likelihood are NaN without labels. */
export interface ProbabilisticScore {
  readonly n: number;
  /** Fraction of images whose most probable class is the label. */
  readonly accuracy: number;
  /** Mean over images of log p(label | x) (nats; the paper's "LL"). */
  readonly logLikelihood: number;
  /** Sample standard deviation of the per-image log p(label | x). */
  readonly logLikelihoodSd: number;
  /** Mean probability of the most probable class. */
  readonly meanConfidence: number;
  /** Mean entropy of the predictive distribution (nats). */
  readonly meanEntropy: number;
}

/** Per-image log-probabilities (n × classes, row-major) and labels → the score (pure). */
export function scoreLogProbs(logProbs: ArrayLike<number>, classes: number, labels?: ArrayLike<number>): ProbabilisticScore {
  if (classes < 2 || logProbs.length % classes !== 0) throw new ProbeError('BAD_INPUT', `log-probabilities: ${logProbs.length} values are not rows of ${classes} classes`);
  const n = logProbs.length / classes;
  if (labels !== undefined && labels.length !== n) throw new ProbeError('BAD_INPUT', `log-probabilities of ${n} images but ${labels.length} labels`);
  const ll: number[] = [];
  let correct = 0;
  let conf = 0;
  let ent = 0;
  for (let i = 0; i < n; i++) {
    let best = 0;
    let h = 0;
    for (let c = 0; c < classes; c++) {
      const lp = logProbs[i * classes + c];
      if (lp > logProbs[i * classes + best]) best = c;
      const p = Math.exp(lp);
      if (p > 0) h -= p * lp;
    }
    conf += Math.exp(logProbs[i * classes + best]);
    ent += h;
    if (labels !== undefined) {
      const y = labels[i];
      if (!Number.isInteger(y) || y < 0 || y >= classes) throw new ProbeError('BAD_INPUT', `label ${i} is ${y}, not a class index in 0..${classes - 1}`);
      ll.push(logProbs[i * classes + y]);
      if (best === y) correct++;
    }
  }
  const labelled = labels !== undefined && n > 0;
  return {
    n,
    accuracy: labelled ? correct / n : Number.NaN,
    logLikelihood: labelled ? mean(ll) : Number.NaN,
    logLikelihoodSd: labelled ? sampleSd(ll) : Number.NaN,
    meanConfidence: n > 0 ? conf / n : Number.NaN,
    meanEntropy: n > 0 ? ent / n : Number.NaN,
  };
}

/** The model's log-probabilities of the first n images of a flat 28×28×1-style batch, read back (batched). */
export async function readLogProbs(model: Classifier, images: Float32Array, n: number, batch = 500): Promise<Float32Array> {
  const [h, w, c] = model.inputShape;
  const size = h * w * c;
  if (n < 0 || n * size > images.length) throw new ProbeError('BAD_INPUT', `asked for ${n} images but the batch holds ${Math.floor(images.length / size)}`);
  const classes = model.classNames.length;
  const out = new Float32Array(n * classes);
  for (let s = 0; s < n; s += batch) {
    const e = Math.min(n, s + batch);
    const lp = tf.tidy(() => logProbabilities(model, tf.tensor4d(images.subarray(s * size, e * size), [e - s, h, w, c])));
    out.set((await lp.data()) as Float32Array, s * classes);
    lp.dispose();
  }
  return out;
}

/** Accuracy, log-likelihood, confidence and entropy of a model on the first n images of a set (default all). */
export async function scoreSet(model: Classifier, set: ImageSet, opts: { n?: number; batch?: number } = {}): Promise<ProbabilisticScore> {
  const n = Math.min(opts.n ?? set.n, set.n);
  if (n <= 0) throw new ProbeError('BAD_INPUT', 'scoring needs at least one image');
  const lp = await readLogProbs(model, set.images, n, opts.batch);
  return scoreLogProbs(lp, model.classNames.length, set.labels === undefined ? undefined : Array.from({ length: n }, (_, i) => set.labels![i]));
}

/** Mean over the first n images and over the classes of the GPDNN's predictive variance Var[f] (grows towards the prior's far from the data). */
export async function meanPredictiveVariance(model: Uncertain, images: Float32Array, n: number, batch = 500): Promise<number> {
  const [h, w, c] = model.inputShape;
  const size = h * w * c;
  if (n <= 0 || n * size > images.length) throw new ProbeError('BAD_INPUT', `asked for the variance of ${n} images but the batch holds ${Math.floor(images.length / size)}`);
  let sum = 0;
  for (let s = 0; s < n; s += batch) {
    const e = Math.min(n, s + batch);
    const t = tf.tidy(() => {
      const { probs, variance } = model.predictive(tf.tensor4d(images.subarray(s * size, e * size), [e - s, h, w, c]));
      probs.dispose();
      return tf.sum(variance);
    });
    sum += (await t.data())[0];
    t.dispose();
  }
  return sum / (n * model.classNames.length);
}

/** One point of the FGSM curves: error and log-likelihood on the adversarial images. */
export interface FgsmLlPoint {
  readonly eps: number;
  readonly n: number;
  /** Fraction of the adversarial images misclassified (clean mistakes included). */
  readonly error: number;
  readonly logLikelihood: number;
  readonly meanConfidence: number;
}

/**
 * Bradshaw et al.'s FGSM experiment: every one of the first n labelled images is attacked with `attack`
 * (the registry's FGSM, true labels) at each ε, and the model's error and log-likelihood on the
 * adversarial images are measured with its own probabilities (predictive ones for the GPDNN).
 */
export async function fgsmErrorAndLl(
  model: Classifier, attack: ClassifierAttackSpec, params: ParamValues, set: ImageSet & { readonly labels: ArrayLike<number> },
  epsList: readonly number[], opts: { n?: number; batch?: number } = {},
): Promise<FgsmLlPoint[]> {
  const n = Math.min(opts.n ?? set.n, set.n);
  if (n <= 0) throw new ProbeError('BAD_INPUT', 'the FGSM curve needs at least one image');
  const batch = Math.max(1, opts.batch ?? 250);
  const [h, w, c] = model.inputShape;
  const size = h * w * c;
  const classes = model.classNames.length;
  const labels = Int32Array.from({ length: n }, (_, i) => set.labels[i]);
  const out: FgsmLlPoint[] = [];
  for (const eps of epsList) {
    const lp = new Float32Array(n * classes);
    for (let s = 0; s < n; s += batch) {
      const e = Math.min(n, s + batch);
      const x = tf.tensor4d(set.images.subarray(s * size, e * size), [e - s, h, w, c]);
      const y = tf.tensor1d(labels.subarray(s, e), 'int32');
      let adv: tf.Tensor4D | undefined;
      try {
        adv = (await attack.run(model, x, { params: { ...params, eps }, y, targeted: false })).adv;
        const l = logProbabilities(model, adv);
        lp.set((await l.data()) as Float32Array, s * classes);
        l.dispose();
      } finally {
        tf.dispose([x, y]);
        adv?.dispose();
      }
    }
    const sc = scoreLogProbs(lp, classes, labels);
    out.push({ eps, n, error: 1 - sc.accuracy, logLikelihood: sc.logLikelihood, meanConfidence: sc.meanConfidence });
  }
  return out;
}

/** L2 distance ‖adv − x‖₂ per image of two flat batches of images of `dim` values. */
export function l2PerImage(x: ArrayLike<number>, adv: ArrayLike<number>, dim: number): number[] {
  if (x.length !== adv.length || dim <= 0 || x.length % dim !== 0) throw new ProbeError('BAD_INPUT', 'l2PerImage: batches of different sizes');
  const out: number[] = [];
  for (let i = 0; i < x.length / dim; i++) {
    let s = 0;
    for (let j = i * dim; j < (i + 1) * dim; j++) s += (adv[j] - x[j]) ** 2;
    out.push(Math.sqrt(s));
  }
  return out;
}

/** Per-image result of an untargeted minimum-perturbation attack on one model. */
export interface AttackOutcomes {
  /** The model classified the clean image correctly (only those are attacked). */
  readonly attacked: readonly boolean[];
  /** Attacked and the adversarial is misclassified. */
  readonly success: readonly boolean[];
  /** ‖x′ − x‖₂ (0 where the attack found nothing and returned the input). */
  readonly l2: readonly number[];
}

/** Per-image outcomes from labels, clean and adversarial predictions and the L2 distances (pure). */
export function attackOutcomes(labels: ArrayLike<number>, clean: ArrayLike<number>, adversarial: ArrayLike<number>, l2: readonly number[]): AttackOutcomes {
  const n = labels.length;
  if (clean.length !== n || adversarial.length !== n || l2.length !== n) throw new ProbeError('BAD_INPUT', 'attackOutcomes: arrays of different lengths');
  const attacked = Array.from({ length: n }, (_, i) => clean[i] === labels[i]);
  const success = attacked.map((a, i) => a && adversarial[i] !== labels[i]);
  return { attacked, success, l2: [...l2] };
}

/** Counts and the mean L2 of the successes. */
export interface AttackSummary {
  readonly images: number;
  readonly attacked: number;
  readonly failed: number;
  readonly succeeded: number;
  /** Mean ‖x′ − x‖₂ over the successes (NaN when none). */
  readonly meanL2: number;
}

/** Attacked, failed and succeeded counts of per-image outcomes, with the mean L2 of the successes. */
export function summariseOutcomes(o: AttackOutcomes): AttackSummary {
  const attacked = o.attacked.filter(Boolean).length;
  const ok = o.l2.filter((_, i) => o.success[i]);
  return { images: o.attacked.length, attacked, failed: attacked - ok.length, succeeded: ok.length, meanL2: mean(ok) };
}

/** How much more perturbation model B needs than model A, over the images both were attacked on and both attacks succeeded on. */
export interface ExtraPerturbation {
  readonly count: number;
  readonly meanA: number;
  readonly meanB: number;
  /** Mean of the per-image difference ‖x′_B − x‖₂ − ‖x′_A − x‖₂. */
  readonly meanExtra: number;
  /** Sample standard deviation of that difference. */
  readonly sdExtra: number;
}

/** Per-image L2 of B minus that of A, averaged over the images both attacks fooled (Bradshaw et al.'s "greater perturbation"). */
export function extraPerturbation(a: AttackOutcomes, b: AttackOutcomes): ExtraPerturbation {
  if (a.success.length !== b.success.length) throw new ProbeError('BAD_INPUT', 'extraPerturbation: outcomes of different image sets');
  const both = a.success.map((s, i) => s && b.success[i]);
  const la = a.l2.filter((_, i) => both[i]);
  const lb = b.l2.filter((_, i) => both[i]);
  const d = lb.map((v, i) => v - la[i]);
  return { count: d.length, meanA: mean(la), meanB: mean(lb), meanExtra: mean(d), sdExtra: sampleSd(d) };
}

/** The images (and labels) at the given indices of a flat set. */
export function pickImages(images: Float32Array, labels: ArrayLike<number>, indices: readonly number[], dim = 784): { images: Float32Array; labels: Uint8Array; n: number } {
  const out = new Float32Array(indices.length * dim);
  const lab = new Uint8Array(indices.length);
  indices.forEach((k, j) => {
    if (!Number.isInteger(k) || k < 0 || (k + 1) * dim > images.length) throw new ProbeError('BAD_INPUT', `pickImages: no image ${k}`);
    out.set(images.subarray(k * dim, (k + 1) * dim), j * dim);
    lab[j] = labels[k];
  });
  return { images: out, labels: lab, n: indices.length };
}

/**
 * Every side×side image of a flat batch rotated by `degrees` (counter-clockwise as displayed, rows
 * top to bottom) about the image centre, bilinear, zero (background) outside, clipped to [0, 1].
 */
export function rotateImages(x: Float32Array, side: number, degrees: number): Float32Array {
  const dim = side * side;
  if (!Number.isInteger(side) || side < 1 || x.length % dim !== 0) throw new ProbeError('BAD_INPUT', `rotateImages: ${x.length} values are not ${side}×${side} images`);
  if (!Number.isFinite(degrees)) throw new ProbeError('BAD_INPUT', 'rotateImages: the angle must be a finite number of degrees');
  const out = new Float32Array(x.length);
  const t = (degrees * Math.PI) / 180;
  const cos = Math.cos(t);
  const sin = Math.sin(t);
  const c = (side - 1) / 2;
  const at = (base: number, r: number, q: number): number => (r < 0 || q < 0 || r >= side || q >= side ? 0 : x[base + r * side + q]);
  for (let base = 0; base < x.length; base += dim) {
    for (let r = 0; r < side; r++) {
      for (let q = 0; q < side; q++) {
        // Inverse map: the source of output (q, r), in x-right / y-up coordinates.
        const dx = q - c;
        const dy = c - r;
        const sx = cos * dx + sin * dy + c;
        const sy = c - (-sin * dx + cos * dy);
        const q0 = Math.floor(sx);
        const r0 = Math.floor(sy);
        const fx = sx - q0;
        const fy = sy - r0;
        const v = (1 - fy) * ((1 - fx) * at(base, r0, q0) + fx * at(base, r0, q0 + 1)) + fy * ((1 - fx) * at(base, r0 + 1, q0) + fx * at(base, r0 + 1, q0 + 1));
        out[base + r * side + q] = Math.min(1, Math.max(0, v));
      }
    }
  }
  return out;
}

/** One rendering of the font digits. */
export interface FontVariant {
  readonly family: string;
  readonly weight: 'normal' | 'bold';
  readonly style: 'normal' | 'italic';
  readonly sizePx: number;
}

/** assets/data/font-digits.json as written by training/font-digits.ts. */
export interface FontDigitsMeta {
  readonly about: string;
  readonly file: string;
  readonly n: number;
  readonly rows: 28;
  readonly cols: 28;
  readonly labels: readonly number[];
  readonly variantOf: readonly number[];
  readonly variants: readonly FontVariant[];
  readonly chromium: string;
}

/** The font-rendered digits, ready to score: pixels in [0, 1], digit labels. */
export interface FontDigits {
  readonly images: Float32Array;
  readonly labels: Uint8Array;
  readonly n: number;
  readonly variants: readonly FontVariant[];
  readonly variantOf: readonly number[];
  readonly families: readonly string[];
}

const badFonts = (msg: string): never => {
  throw new ProbeError('BAD_INPUT', `font digits: ${msg}`);
};

/** Validates the metadata and the (decompressed) uint8 pixels of the font digits. */
export function parseFontDigits(meta: unknown, pixels: Uint8Array): FontDigits {
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) return badFonts('the metadata must be an object');
  const m = meta as Record<string, unknown>;
  const n = m.n;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) return badFonts('"n" must be a positive integer');
  if (m.rows !== 28 || m.cols !== 28) return badFonts('images must be 28×28');
  const labels = m.labels;
  const variantOf = m.variantOf;
  const variants = m.variants;
  if (!Array.isArray(labels) || labels.length !== n || !labels.every((v) => Number.isInteger(v) && v >= 0 && v <= 9)) return badFonts(`"labels" must be ${n} digits 0..9`);
  if (!Array.isArray(variants) || variants.length === 0) return badFonts('"variants" must be a non-empty array');
  const vs = variants.map((v, i): FontVariant => {
    const o = (typeof v === 'object' && v !== null ? v : {}) as Record<string, unknown>;
    if (typeof o.family !== 'string' || (o.weight !== 'normal' && o.weight !== 'bold') || (o.style !== 'normal' && o.style !== 'italic')
      || typeof o.sizePx !== 'number' || !(o.sizePx > 0)) return badFonts(`variants[${i}] must have family, weight, style and sizePx`);
    return { family: o.family, weight: o.weight, style: o.style, sizePx: o.sizePx };
  });
  if (!Array.isArray(variantOf) || variantOf.length !== n || !variantOf.every((v) => Number.isInteger(v) && v >= 0 && v < vs.length)) return badFonts(`"variantOf" must be ${n} indices into "variants"`);
  if (pixels.length !== n * 784) return badFonts(`${pixels.length} pixel bytes, expected ${n * 784} for ${n} images`);
  const images = new Float32Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) images[i] = pixels[i] / 255;
  return {
    images, labels: Uint8Array.from(labels as number[]), n, variants: vs, variantOf: [...(variantOf as number[])],
    families: [...new Set(vs.map((v) => v.family))].sort(),
  };
}
