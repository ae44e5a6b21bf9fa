/**
 * Variational autoencoders (Kos, Fischer & Song 2017, "Adversarial examples for generative models"):
 * an encoder LayersModel x → (mean, logVar) of q(z|x) and a decoder LayersModel z → Bernoulli
 * parameters of p(x|z), plus the classifier on the latent mean that the paper's classifier attack
 * targets. Pure tfjs: used by the extension (URL files) and by Node (files on disk).
 *
 * On-disk layout of a VAE folder (format 'vae' in the catalog):
 *   vae.json                     {@link VaeSpec}
 *   encoder/model.json + weights  input [h,w,c] → [mean, logVar] (two outputs of [latentDim], or one of [2·latentDim])
 *   decoder/model.json + weights  input [latentDim] → [h,w,c] (or [h·w·c]) logits or probabilities
 */
import * as tf from '@tensorflow/tfjs';
import { ProbeError } from '../errors';
import { MNIST_CLASSES } from './catalog';
import type { ModelFiles } from './files';
import type { Classifier, InputRange, Vae } from './types';

/** File name of the VAE descriptor inside a VAE folder. */
export const VAE_JSON = 'vae.json';

/** What the decoder LayersModel emits: Bernoulli logits (sigmoid applied by {@link Vae.decode}) or means. */
export type DecoderOutput = 'logits' | 'probs';

/** Contents of `vae.json`: how to assemble a {@link Vae} from the two LayersModels in the folder. */
export interface VaeSpec {
  readonly format: 'vae';
  readonly latentDim: number;
  /** Path of the encoder's model.json, relative to the folder. */
  readonly encoder: string;
  /** Path of the decoder's model.json, relative to the folder. */
  readonly decoder: string;
  readonly decoderOutput: DecoderOutput;
  /** Observation model of p(x|z); only Bernoulli is supported. */
  readonly likelihood: 'bernoulli';
  readonly inputRange: InputRange;
}

/** A {@link Vae} backed by tfjs LayersModels; it also exposes the decoder's logits (exact Bernoulli log-likelihoods). */
export interface LayersVae extends Vae {
  /** Bernoulli logits of p(x|z), [batch, h, w, c]: decode(z) = sigmoid(decodeLogits(z)). */
  decodeLogits(z: tf.Tensor2D): tf.Tensor4D;
  readonly encoder: tf.LayersModel;
  readonly decoder: tf.LayersModel;
}

export interface LayersVaeOptions {
  readonly id: string;
  readonly decoderOutput: DecoderOutput;
  readonly inputRange?: InputRange;
  /** Checked against the models when given. */
  readonly latentDim?: number;
}

/** Probabilities are clipped to [ε, 1−ε] before taking logits of a 'probs' decoder. */
const PROB_EPS = 1e-6;

function fixedDims(shape: tf.Shape | undefined): number[] | null {
  if (!shape || shape.slice(1).some((d) => typeof d !== 'number')) return null;
  return shape.slice(1) as number[];
}

/**
 * Wraps an encoder and a decoder LayersModel as a {@link LayersVae} (Kos et al. 2017). The VAE owns
 * both models (dispose frees them). All methods are differentiable, so attacks can run through them.
 */
export function vaeFromLayersModels(encoder: tf.LayersModel, decoder: tf.LayersModel, opts: LayersVaeOptions): LayersVae {
  const fail = (why: string): never => {
    throw new ProbeError('MODEL_LOAD_FAILED', `VAE ${opts.id}: ${why}`);
  };
  const inDims = fixedDims(encoder.inputs[0]?.shape);
  if (!inDims || inDims.length !== 3) fail('the encoder must take [batch, h, w, c] images');
  const inputShape = inDims as [number, number, number];
  const pixels = inputShape[0] * inputShape[1] * inputShape[2];

  const outDims = encoder.outputs.map((o) => fixedDims(o.shape));
  let latentDim: number;
  let split: boolean;
  if (outDims.length === 2 && outDims.every((d) => d?.length === 1) && outDims[0]![0] === outDims[1]![0]) {
    latentDim = outDims[0]![0];
    split = false;
  } else if (outDims.length === 1 && outDims[0]?.length === 1 && outDims[0][0] % 2 === 0) {
    latentDim = outDims[0][0] / 2;
    split = true;
  } else {
    return fail('the encoder must output [mean, logVar] (two [latentDim] outputs or one [2·latentDim])');
  }
  if (opts.latentDim != null && opts.latentDim !== latentDim) fail(`latentDim is ${latentDim}, expected ${opts.latentDim}`);
  const decIn = fixedDims(decoder.inputs[0]?.shape);
  if (!decIn || decIn.length !== 1 || decIn[0] !== latentDim) fail(`the decoder must take [batch, ${latentDim}]`);
  const decOut = fixedDims(decoder.outputs[0]?.shape);
  if (!decOut || decOut.reduce((a, b) => a * b, 1) !== pixels) fail(`the decoder must output ${pixels} pixels per image`);

  const decodeRaw = (z: tf.Tensor2D): tf.Tensor4D =>
    tf.reshape(decoder.apply(z, { training: false }) as tf.Tensor, [z.shape[0], ...inputShape]);

  return {
    id: opts.id,
    inputShape,
    inputRange: opts.inputRange ?? { min: 0, max: 1 },
    latentDim,
    encoder,
    decoder,
    encode(x: tf.Tensor4D): { mean: tf.Tensor2D; logVar: tf.Tensor2D } {
      return tf.tidy(() => {
        const out = encoder.apply(x, { training: false }) as tf.Tensor2D | tf.Tensor2D[];
        if (split) {
          const both = out as tf.Tensor2D;
          const [mean, logVar] = tf.split(both, 2, 1) as [tf.Tensor2D, tf.Tensor2D];
          return { mean, logVar };
        }
        const [mean, logVar] = out as tf.Tensor2D[];
        return { mean, logVar };
      });
    },
    decode(z: tf.Tensor2D): tf.Tensor4D {
      return tf.tidy(() => {
        const raw = decodeRaw(z);
        return opts.decoderOutput === 'logits' ? tf.sigmoid(raw) : raw;
      });
    },
    decodeLogits(z: tf.Tensor2D): tf.Tensor4D {
      return tf.tidy(() => {
        const raw = decodeRaw(z);
        if (opts.decoderOutput === 'logits') return raw;
        const p = tf.clipByValue(raw, PROB_EPS, 1 - PROB_EPS);
        return tf.sub(tf.log(p), tf.log1p(tf.neg(p)));
      });
    },
    dispose(): void {
      encoder.dispose();
      decoder.dispose();
    },
  };
}

/** True when `vae` exposes decoder logits (a {@link LayersVae}). */
export function hasDecodeLogits(vae: Vae): vae is LayersVae {
  return typeof (vae as Partial<LayersVae>).decodeLogits === 'function';
}

function parseSpec(id: string, raw: unknown): VaeSpec {
  const bad = (why: string): never => {
    throw new ProbeError('MODEL_LOAD_FAILED', `VAE ${id}: ${VAE_JSON} ${why}`);
  };
  if (raw == null || typeof raw !== 'object') return bad('is not an object');
  const s = raw as Record<string, unknown>;
  if (s.format !== 'vae') bad(`has format ${String(s.format)}, expected "vae"`);
  if (typeof s.latentDim !== 'number' || !Number.isInteger(s.latentDim) || s.latentDim < 1) bad('lacks a positive latentDim');
  if (typeof s.encoder !== 'string' || typeof s.decoder !== 'string') bad('lacks encoder/decoder paths');
  if (s.decoderOutput !== 'logits' && s.decoderOutput !== 'probs') bad('has no decoderOutput "logits" | "probs"');
  if (s.likelihood !== 'bernoulli') bad(`has likelihood ${String(s.likelihood)}; only "bernoulli" is supported`);
  const r = s.inputRange as Partial<InputRange> | undefined;
  if (!r || typeof r.min !== 'number' || typeof r.max !== 'number') bad('lacks inputRange {min, max}');
  return s as unknown as VaeSpec;
}

/**
 * Loads a VAE folder (see the layout at the top of this file) through `files`: URLs in the
 * extension (urlModelFiles), a directory in Node (dirModelFiles). Kos et al. 2017.
 */
export async function loadVae(id: string, files: ModelFiles): Promise<LayersVae> {
  let spec: VaeSpec;
  try {
    spec = parseSpec(id, await files.json(VAE_JSON));
  } catch (e) {
    if (e instanceof ProbeError) throw e;
    throw new ProbeError('MODEL_LOAD_FAILED', `VAE ${id}: cannot read ${VAE_JSON}: ${e instanceof Error ? e.message : String(e)}`);
  }
  let encoder: tf.LayersModel | undefined;
  try {
    encoder = await tf.loadLayersModel(files.layers(spec.encoder));
    const decoder = await tf.loadLayersModel(files.layers(spec.decoder));
    try {
      return vaeFromLayersModels(encoder, decoder, {
        id, decoderOutput: spec.decoderOutput, inputRange: spec.inputRange, latentDim: spec.latentDim,
      });
    } catch (e) {
      decoder.dispose();
      throw e;
    }
  } catch (e) {
    encoder?.dispose();
    if (e instanceof ProbeError) throw e;
    throw new ProbeError('MODEL_LOAD_FAILED', `VAE ${id} failed to load: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/**
 * The classifier on the VAE's latent mean that Kos et al. 2017 attack: logits(x) = head(encode(x).mean),
 * differentiable end to end. It owns `head` (dispose frees it) but not `vae`, which may be shared.
 * (The shipped mnist-vae-clf is the same function saved as one LayersModel: a plain 'layers' classifier.)
 */
export function vaeLatentClassifier(
  vae: Vae,
  head: tf.LayersModel,
  id: string,
  classNames: readonly string[] = MNIST_CLASSES,
): Classifier {
  const headIn = fixedDims(head.inputs[0]?.shape);
  if (!headIn || headIn.length !== 1 || headIn[0] !== vae.latentDim) {
    throw new ProbeError('MODEL_LOAD_FAILED', `classifier ${id}: the head must take [batch, ${vae.latentDim}]`);
  }
  return {
    id,
    inputShape: vae.inputShape,
    inputRange: vae.inputRange,
    classNames,
    logits(x: tf.Tensor4D): tf.Tensor2D {
      return tf.tidy(() => head.apply(vae.encode(x).mean, { training: false }) as tf.Tensor2D);
    },
    dispose(): void {
      head.dispose();
    },
  };
}
