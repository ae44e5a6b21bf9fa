import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { saveLayersModel } from '../../../src/cli/model-io';
import { dirModelFiles } from '../../../src/cli/models';
import { ProbeError } from '../../../src/core/errors';
import { elboTerms, normalSampler, testElbo } from '../../../src/core/metrics/elbo';
import { loadVae, vaeFromLayersModels, vaeLatentClassifier, VAE_JSON, type LayersVae, type VaeSpec } from '../../../src/core/models/vae';
import { randomImages } from '../../helpers/tiny';

const LATENT = 3;

/** A tiny seeded MLP VAE: [28,28,1] → 8 → (mean, logVar) ∈ R³; R³ → 8 → 784 logits → [28,28,1]. */
function tinyModels(seed = 1, zero = false): { encoder: tf.LayersModel; decoder: tf.LayersModel } {
  const init = (k: number) => (zero ? tf.initializers.zeros() : tf.initializers.glorotUniform({ seed: seed * 10 + k }));
  const image = tf.input({ shape: [28, 28, 1] });
  const h = tf.layers.dense({ units: 8, activation: 'relu', kernelInitializer: init(1) })
    .apply(tf.layers.flatten().apply(image)) as tf.SymbolicTensor;
  const mean = tf.layers.dense({ units: LATENT, kernelInitializer: init(2) }).apply(h) as tf.SymbolicTensor;
  const logVar = tf.layers.dense({ units: LATENT, kernelInitializer: init(3) }).apply(h) as tf.SymbolicTensor;
  const z = tf.input({ shape: [LATENT] });
  const dh = tf.layers.dense({ units: 8, activation: 'relu', kernelInitializer: init(4) }).apply(z) as tf.SymbolicTensor;
  const out = tf.layers.reshape({ targetShape: [28, 28, 1] })
    .apply(tf.layers.dense({ units: 784, kernelInitializer: init(5) }).apply(dh)) as tf.SymbolicTensor;
  return { encoder: tf.model({ inputs: image, outputs: [mean, logVar] }), decoder: tf.model({ inputs: z, outputs: out }) };
}

function tinyVae(seed = 1, zero = false): LayersVae {
  const { encoder, decoder } = tinyModels(seed, zero);
  return vaeFromLayersModels(encoder, decoder, { id: 'tiny-vae', decoderOutput: 'logits' });
}

/** max |a − b| as a number (tidied). */
function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).arraySync() as number);
}

function num(f: () => tf.Tensor): number {
  return tf.tidy(() => f().arraySync() as number);
}

function imagesArray(n: number, seed = 7): Float32Array {
  const t = randomImages(n, seed);
  const a = t.dataSync() as Float32Array;
  t.dispose();
  return a;
}

let dir: string;
beforeAll(async () => {
  await tf.setBackend('cpu');
  dir = mkdtempSync(join(tmpdir(), 'vae-test-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function saveVae(vae: LayersVae, to: string): Promise<void> {
  await saveLayersModel(vae.encoder, join(to, 'encoder'));
  await saveLayersModel(vae.decoder, join(to, 'decoder'));
  const spec: VaeSpec = {
    format: 'vae', latentDim: vae.latentDim, encoder: 'encoder/model.json', decoder: 'decoder/model.json',
    decoderOutput: 'logits', likelihood: 'bernoulli', inputRange: { min: 0, max: 1 },
  };
  writeFileSync(join(to, VAE_JSON), JSON.stringify(spec));
}

describe('VAE (Kos et al. 2017)', () => {
  it('encode/decode have the right shapes and ranges; decode = sigmoid(decodeLogits)', () => {
    const vae = tinyVae();
    const before = tf.memory().numTensors;
    const x = randomImages(5);
    const { mean, logVar } = vae.encode(x);
    expect(mean.shape).toEqual([5, LATENT]);
    expect(logVar.shape).toEqual([5, LATENT]);
    const p = vae.decode(mean);
    expect(p.shape).toEqual([5, 28, 28, 1]);
    expect(num(() => tf.min(p))).toBeGreaterThanOrEqual(0);
    expect(num(() => tf.max(p))).toBeLessThanOrEqual(1);
    const l = vae.decodeLogits(mean);
    expect(num(() => tf.max(tf.abs(tf.sub(tf.sigmoid(l), p))))).toBeLessThan(1e-6);
    tf.dispose([x, mean, logVar, p, l]);
    expect(tf.memory().numTensors).toBe(before);
    vae.dispose();
  });

  it('loadVae round-trips a saved VAE through ModelFiles', async () => {
    const vae = tinyVae(2);
    const to = join(dir, 'roundtrip');
    await saveVae(vae, to);
    const loaded = await loadVae('tiny-vae', dirModelFiles(to));
    expect(loaded.id).toBe('tiny-vae');
    expect(loaded.latentDim).toBe(LATENT);
    expect(loaded.inputShape).toEqual([28, 28, 1]);
    expect(loaded.inputRange).toEqual({ min: 0, max: 1 });
    const x = randomImages(4);
    const a = vae.encode(x);
    const b = loaded.encode(x);
    expect(maxAbsDiff(a.mean, b.mean)).toBe(0);
    expect(maxAbsDiff(a.logVar, b.logVar)).toBe(0);
    const da = vae.decode(a.mean);
    const db = loaded.decode(a.mean);
    expect(maxAbsDiff(da, db)).toBe(0);
    tf.dispose([x, a.mean, a.logVar, b.mean, b.logVar, da, db]);
    vae.dispose();
    loaded.dispose();
  });

  it('loadVae rejects a bad vae.json with MODEL_LOAD_FAILED', async () => {
    const to = join(dir, 'bad');
    const vae = tinyVae(3);
    await saveVae(vae, to);
    vae.dispose();
    writeFileSync(join(to, VAE_JSON), JSON.stringify({ format: 'vae', latentDim: LATENT + 1, encoder: 'encoder/model.json',
      decoder: 'decoder/model.json', decoderOutput: 'logits', likelihood: 'bernoulli', inputRange: { min: 0, max: 1 } }));
    await expect(loadVae('bad', dirModelFiles(to))).rejects.toMatchObject({ code: 'MODEL_LOAD_FAILED' });
    writeFileSync(join(to, VAE_JSON), JSON.stringify({ format: 'vae', latentDim: LATENT, likelihood: 'gaussian' }));
    await expect(loadVae('bad', dirModelFiles(to))).rejects.toBeInstanceOf(ProbeError);
    await expect(loadVae('missing', dirModelFiles(join(dir, 'nowhere')))).rejects.toMatchObject({ code: 'MODEL_LOAD_FAILED' });
  });

  it('accepts an encoder with one [2·latentDim] output and a probs decoder', () => {
    const image = tf.input({ shape: [28, 28, 1] });
    const both = tf.layers.dense({ units: 2 * LATENT, kernelInitializer: tf.initializers.glorotUniform({ seed: 5 }) })
      .apply(tf.layers.flatten().apply(image)) as tf.SymbolicTensor;
    const z = tf.input({ shape: [LATENT] });
    const probs = tf.layers.dense({ units: 784, activation: 'sigmoid', kernelInitializer: tf.initializers.glorotUniform({ seed: 6 }) })
      .apply(z) as tf.SymbolicTensor;
    const vae = vaeFromLayersModels(tf.model({ inputs: image, outputs: both }), tf.model({ inputs: z, outputs: probs }),
      { id: 'split', decoderOutput: 'probs' });
    expect(vae.latentDim).toBe(LATENT);
    const x = randomImages(2);
    const { mean, logVar } = vae.encode(x);
    expect(mean.shape).toEqual([2, LATENT]);
    expect(logVar.shape).toEqual([2, LATENT]);
    const p = vae.decode(mean);
    expect(p.shape).toEqual([2, 28, 28, 1]);
    const back = tf.sigmoid(vae.decodeLogits(mean));
    expect(maxAbsDiff(back, p)).toBeLessThan(1e-4);
    tf.dispose([x, mean, logVar, p, back]);
    vae.dispose();
  });
});

describe('testElbo', () => {
  it('is exactly −784·ln 2 for an all-zero VAE (KL 0, logits 0)', async () => {
    const vae = tinyVae(1, true);
    const r = await testElbo(vae, imagesArray(10), 10, { samples: 2, batch: 4 });
    expect(r.kl).toBeCloseTo(0, 6);
    expect(r.logLikelihood).toBeCloseTo(-784 * Math.LN2, 2);
    expect(r.elbo).toBeCloseTo(-784 * Math.LN2, 2);
    vae.dispose();
  });

  it('is finite, deterministic for a fixed seed, batch-independent, and leaks no tensors', async () => {
    const vae = tinyVae(4);
    const images = imagesArray(12);
    const before = tf.memory().numTensors;
    const a = await testElbo(vae, images, 12, { samples: 3, seed: 9, batch: 5 });
    const b = await testElbo(vae, images, 12, { samples: 3, seed: 9, batch: 5 });
    const c = await testElbo(vae, images, 12, { samples: 3, seed: 10, batch: 5 });
    const bin = await testElbo(vae, images, 12, { samples: 1, pixels: 'binarized' });
    expect(tf.memory().numTensors).toBe(before);
    expect(Number.isFinite(a.elbo)).toBe(true);
    expect(a).toEqual(b);
    expect(c.elbo).not.toBe(a.elbo);
    expect(c.kl).toBeCloseTo(a.kl, 4); // KL is analytic: the noise does not enter it
    expect(a.elbo).toBeCloseTo(a.logLikelihood - a.kl, 4);
    expect(a.kl).toBeGreaterThanOrEqual(0);
    expect(a.logLikelihood).toBeLessThan(0);
    expect(a).toMatchObject({ n: 12, samples: 3, seed: 9, pixels: 'continuous' });
    expect(Number.isFinite(bin.elbo)).toBe(true);
    expect(bin.pixels).toBe('binarized');
    // Batching only groups images: with one batch and the same noise stream the answer matches.
    const whole = await testElbo(vae, images, 12, { samples: 1, seed: 9, batch: 100 });
    const single = tf.tidy(() => {
      const draw = normalSampler(9);
      const eps = tf.tensor2d(draw(new Float32Array(12 * LATENT)), [12, LATENT]);
      const t = elboTerms(vae, tf.tensor4d(images, [12, 28, 28, 1]), [eps]);
      return tf.mean(tf.sub(t.logLikelihood, t.kl));
    });
    expect(whole.elbo).toBeCloseTo(single.arraySync() as number, 3);
    single.dispose();
    await expect(testElbo(vae, images, 13)).rejects.toThrow(RangeError);
    vae.dispose();
  });

  it('normalSampler is seeded standard normal', () => {
    const a = normalSampler(3)(new Float32Array(20000));
    const b = normalSampler(3)(new Float32Array(20000));
    expect(a).toEqual(b);
    const mean = a.reduce((s, v) => s + v, 0) / a.length;
    const variance = a.reduce((s, v) => s + (v - mean) ** 2, 0) / a.length;
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(variance - 1)).toBeLessThan(0.05);
  });
});

describe('vaeLatentClassifier', () => {
  it('logits = head(encode(x).mean), with a nonzero input gradient and no leaks', () => {
    const vae = tinyVae(6);
    const head = tf.sequential({
      layers: [tf.layers.dense({ inputShape: [LATENT], units: 10, kernelInitializer: tf.initializers.glorotUniform({ seed: 7 }) })],
    });
    const clf = vaeLatentClassifier(vae, head, 'tiny-vae-clf');
    expect(clf.inputShape).toEqual([28, 28, 1]);
    expect(clf.classNames).toHaveLength(10);
    const x = randomImages(3);
    const before = tf.memory().numTensors;
    const logits = clf.logits(x);
    expect(logits.shape).toEqual([3, 10]);
    const direct = tf.tidy(() => head.predict(vae.encode(x).mean) as tf.Tensor);
    expect(maxAbsDiff(logits, direct)).toBeLessThan(1e-6);
    tf.dispose([logits, direct]);
    const grad = tf.grad((xi: tf.Tensor) => tf.sum(tf.mul(clf.logits(xi as tf.Tensor4D), tf.oneHot(tf.tensor1d([1, 2, 3], 'int32'), 10))))(x);
    expect(grad.shape).toEqual(x.shape);
    expect(num(() => tf.max(tf.abs(grad)))).toBeGreaterThan(0);
    grad.dispose();
    expect(tf.memory().numTensors).toBe(before);
    clf.dispose(); // frees the head only
    const m = vae.encode(x);
    expect(m.mean.shape).toEqual([3, LATENT]);
    tf.dispose([x, m.mean, m.logVar]);
    vae.dispose();
  });
});
