/**
 * The evidence lower bound of a VAE (Kingma & Welling 2014; the models attacked by Kos et al. 2017):
 *   ELBO(x) = E_{q(z|x)}[log p(x|z)] − KL(q(z|x) ‖ N(0, I)),
 * with a Bernoulli p(x|z) over pixels, the KL term in closed form and the expectation estimated
 * by k reparameterised samples z = mean + exp(logVar/2)·ε whose noise ε comes from a seeded PRNG.
 * All values are in nats per image.
 */
import * as tf from '@tensorflow/tfjs';
import { mulberry32 } from '../random';
import { hasDecodeLogits } from '../models/vae';
import type { Vae } from '../models/types';

/**
 * How pixels in [0, 1] enter the Bernoulli log-likelihood:
 * 'continuous' uses the grey values as soft targets (x·log p + (1−x)·log(1−p), the usual MNIST VAE
 * training objective; not a normalised density); 'binarized' thresholds them at 0.5 first.
 */
/** The test-ELBO estimator of the shipped cards (trainer, CLI eval and tests use the same). */
export const CARD_ELBO = { samples: 10, seed: 1 } as const;

export type ElboPixels = 'continuous' | 'binarized';

export interface ElboOptions {
  /** Monte Carlo samples of z per image (default 1). */
  readonly samples?: number;
  /** Images per batch (default 500). */
  readonly batch?: number;
  /** Seed of the reparameterisation noise (default 1). */
  readonly seed?: number;
  readonly pixels?: ElboPixels;
}

export interface ElboResult {
  /** Mean ELBO per image, nats (= logLikelihood − kl). */
  readonly elbo: number;
  /** Mean reconstruction term E_q[log p(x|z)] per image, nats (≤ 0). */
  readonly logLikelihood: number;
  /** Mean KL(q(z|x) ‖ N(0, I)) per image, nats (≥ 0). */
  readonly kl: number;
  readonly n: number;
  readonly samples: number;
  readonly seed: number;
  readonly pixels: ElboPixels;
}

/** Seeded standard-normal sampler (mulberry32 + Box–Muller): fills `out` and returns it. */
export function normalSampler(seed: number): (out: Float32Array) => Float32Array {
  const uniform = mulberry32(seed);
  let spare: number | null = null;
  return (out) => {
    for (let i = 0; i < out.length; i++) {
      if (spare != null) {
        out[i] = spare;
        spare = null;
        continue;
      }
      const u = 1 - uniform(); // (0, 1]
      const v = uniform();
      const r = Math.sqrt(-2 * Math.log(u));
      out[i] = r * Math.cos(2 * Math.PI * v);
      spare = r * Math.sin(2 * Math.PI * v);
    }
    return out;
  };
}

/**
 * Per-image ELBO terms of a batch `x` for given noise ε (one [batch, latentDim] tensor per sample):
 * logLikelihood (mean over the samples of log p(x|z)) and kl, each [batch]. Differentiable in x and
 * in the VAE's weights (training uses it as the loss). `x` is used as given: binarize it beforehand
 * for the binarized likelihood.
 */
export function elboTerms(vae: Vae, x: tf.Tensor4D, noise: readonly tf.Tensor2D[]): { logLikelihood: tf.Tensor1D; kl: tf.Tensor1D } {
  if (noise.length === 0) throw new RangeError('elboTerms: at least one noise sample is needed');
  return tf.tidy(() => {
    const { mean, logVar } = vae.encode(x);
    const std = tf.exp(tf.mul(logVar, 0.5));
    const flatX = tf.reshape(x, [x.shape[0], -1]);
    let ll: tf.Tensor1D | null = null;
    for (const eps of noise) {
      const z = tf.add(mean, tf.mul(std, eps)) as tf.Tensor2D;
      let logits: tf.Tensor;
      if (hasDecodeLogits(vae)) {
        logits = vae.decodeLogits(z);
      } else {
        const p = tf.clipByValue(vae.decode(z), 1e-6, 1 - 1e-6);
        logits = tf.sub(tf.log(p), tf.log1p(tf.neg(p)));
      }
      const flatL = tf.reshape(logits, flatX.shape);
      // log Bernoulli(x; sigmoid(l)) = x·l − softplus(l), stable for large |l|.
      const term = tf.sum(tf.sub(tf.mul(flatX, flatL), tf.softplus(flatL)), 1) as tf.Tensor1D;
      ll = ll == null ? term : tf.add(ll, term);
    }
    const logLikelihood = tf.div(ll!, noise.length) as tf.Tensor1D;
    const kl = tf.mul(tf.sum(tf.sub(tf.add(tf.square(mean), tf.exp(logVar)), tf.add(logVar, 1)), 1), 0.5) as tf.Tensor1D;
    return { logLikelihood, kl };
  });
}

/**
 * Mean test ELBO (nats per image) of `vae` on the first `n` images (n×h·w·c values in [0, 1]),
 * with its reconstruction and KL terms; batched, deterministic for a fixed seed. Kos et al. 2017.
 */
export async function testElbo(vae: Vae, images: Float32Array, n: number, opts: ElboOptions = {}): Promise<ElboResult> {
  const samples = opts.samples ?? 1;
  const batch = opts.batch ?? 500;
  const seed = opts.seed ?? 1;
  const pixels = opts.pixels ?? 'continuous';
  const [h, w, c] = vae.inputShape;
  const size = h * w * c;
  if (!Number.isInteger(samples) || samples < 1) throw new RangeError(`testElbo: samples must be a positive integer, got ${samples}`);
  if (!Number.isInteger(n) || n < 1 || n * size > images.length) throw new RangeError(`testElbo: n = ${n} does not fit ${images.length} values`);
  const draw = normalSampler(seed);
  let llSum = 0;
  let klSum = 0;
  for (let s = 0; s < n; s += batch) {
    const e = Math.min(n, s + batch);
    const b = e - s;
    const noise = Array.from({ length: samples }, () => tf.tensor2d(draw(new Float32Array(b * vae.latentDim)), [b, vae.latentDim]));
    const sums = tf.tidy(() => {
      let x = tf.tensor4d(images.subarray(s * size, e * size), [b, h, w, c]);
      if (pixels === 'binarized') x = tf.cast(tf.greater(x, 0.5), 'float32');
      const t = elboTerms(vae, x, noise);
      return tf.stack([tf.sum(t.logLikelihood), tf.sum(t.kl)]);
    });
    for (const t of noise) t.dispose();
    const v = await sums.data();
    sums.dispose();
    llSum += v[0];
    klSum += v[1];
  }
  const logLikelihood = llSum / n;
  const kl = klSum / n;
  return { elbo: logLikelihood - kl, logLikelihood, kl, n, samples, seed, pixels };
}
