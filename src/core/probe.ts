import * as tf from '@tensorflow/tfjs';
import type { AttackChoice, AttackOutcome, GrayImage, Prediction, VaeOutcome } from '../protocol/types';
import { requireAttack, resolveParams, runnerUpClasses, type AttackRun, type StepControl, type VaeAttackModels } from './attacks';
import { distancesOf } from './attacks/distances';
import { ProbeError } from './errors';
import type { Classifier } from './models/types';

function toGray(pixels: ArrayLike<number>, width: number, height: number): GrayImage {
  return { width, height, pixels: Array.from(pixels, (v) => Math.round(v * 1e5) / 1e5) };
}

function predictionOf(model: Classifier, probs: Float32Array | number[]): Prediction {
  let label = 0;
  for (let i = 1; i < probs.length; i++) if (probs[i] > probs[label]) label = i;
  return { label, className: model.classNames[label] ?? String(label), probs: Array.from(probs) };
}

/** Classify one preprocessed image (h*w*c values in the model's input range). */
export async function classifyOne(model: Classifier, pixels: Float32Array): Promise<Prediction> {
  const [h, w, c] = model.inputShape;
  if (pixels.length !== h * w * c) throw new ProbeError('BAD_INPUT', `expected ${h * w * c} values, got ${pixels.length}`);
  const probsT = tf.tidy(() => tf.softmax(model.logits(tf.tensor4d(pixels, [1, h, w, c]))));
  const probs = (await probsT.data()) as Float32Array;
  probsT.dispose();
  return predictionOf(model, probs);
}

/** Inputs of a VAE attack run for one image: the VAE, its latent classifier, and one example image per class. */
export interface VaeContext {
  readonly models: VaeAttackModels;
  /** exampleOf(c): one image of class c (h·w·c values), the source of z_t / x_t. */
  exampleOf(cls: number): Float32Array;
}

function softmaxPrediction(model: Classifier, x: tf.Tensor4D): tf.Tensor2D {
  return tf.tidy(() => tf.softmax(model.logits(x)));
}

/**
 * Run one registered attack on one preprocessed image and describe the outcome as the popup shows
 * it. Untargeted attacks move away from the model's own prediction `clean.label`; attacks that are
 * targeted only (JSMA, L-BFGS, the VAE attacks) aim at the runner-up class when no target is given.
 */
export async function attackOne(
  model: Classifier,
  pixels: Float32Array,
  clean: Prediction,
  choice: AttackChoice,
  ctl?: StepControl,
  vae?: VaeContext,
): Promise<AttackOutcome> {
  const spec = requireAttack(choice.attack);
  const params = resolveParams(spec, choice.params);
  const [h, w, c] = model.inputShape;
  if (pixels.length !== h * w * c) throw new ProbeError('BAD_INPUT', `expected ${h * w * c} values, got ${pixels.length}`);
  const C = model.classNames.length;
  if (choice.target !== null && (!Number.isInteger(choice.target) || choice.target < 0 || choice.target >= C)) {
    throw new ProbeError('BAD_INPUT', `target must be a class index below ${C}`);
  }
  if (choice.target !== null && !spec.targeted) throw new ProbeError('BAD_INPUT', `${spec.id} has no targeted variant`);
  const t0 = performance.now();
  const x = tf.tensor4d(pixels, [1, h, w, c]);
  const disposables: tf.Tensor[] = [x];
  try {
    let target = choice.target;
    if (target === null && !spec.untargeted) {
      // The runner-up class of the model that is attacked.
      const scorer = spec.model === 'vae' ? vae?.models.classifier : model;
      if (!scorer) throw new ProbeError('BAD_INPUT', `${spec.id} needs the VAE models`);
      const r = runnerUpClasses(scorer, x);
      target = (await r.data())[0];
      r.dispose();
    }
    const targeted = target !== null;
    const y = tf.tensor1d([targeted ? target! : clean.label], 'int32');
    disposables.push(y);
    let run: AttackRun;
    let vaeOut: VaeOutcome | null = null;
    let attacked: Classifier = model;
    if (spec.model === 'vae') {
      if (!vae) throw new ProbeError('BAD_INPUT', `${spec.id} needs the VAE models`);
      if (vae.models.vae.inputShape.join() !== model.inputShape.join()) throw new ProbeError('BAD_INPUT', `${spec.id} needs an MNIST-style (28×28) input: pick an MNIST model first`);
      const example = vae.exampleOf(target!);
      const xt = tf.tensor4d(example, [1, h, w, c]);
      disposables.push(xt);
      run = await spec.run(vae.models, x, { params, targets: y, targetExamples: xt }, ctl);
      attacked = vae.models.classifier;
      const [recon, advRecon] = tf.tidy(() => [
        vae.models.vae.decode(vae.models.vae.encode(x).mean),
        vae.models.vae.decode(vae.models.vae.encode(run.adv).mean),
      ]);
      disposables.push(recon, advRecon);
      const [pr, pa] = [softmaxPrediction(vae.models.classifier, recon as tf.Tensor4D), softmaxPrediction(vae.models.classifier, advRecon as tf.Tensor4D)];
      disposables.push(pr, pa);
      const [rd, ad, prd, pad] = await Promise.all([recon.data(), advRecon.data(), pr.data(), pa.data()]);
      vaeOut = {
        targetExample: toGray(example, w, h),
        reconstruction: toGray(rd, w, h),
        reconstructionPrediction: predictionOf(vae.models.classifier, prd as Float32Array),
        advReconstruction: toGray(ad, w, h),
        advReconstructionPrediction: predictionOf(vae.models.classifier, pad as Float32Array),
      };
    } else {
      run = await spec.run(model, x, { params, y, targeted }, ctl);
    }
    disposables.push(run.adv);
    const probsT = softmaxPrediction(attacked, run.adv);
    disposables.push(probsT);
    const [adv, probs] = await Promise.all([run.adv.data() as Promise<Float32Array>, probsT.data() as Promise<Float32Array>]);
    const ms = performance.now() - t0;
    const prediction = predictionOf(attacked, probs);
    const delta = new Float32Array(adv.length);
    for (let i = 0; i < adv.length; i++) delta[i] = adv[i] - pixels[i];
    const success = vaeOut
      ? vaeOut.advReconstructionPrediction.label === target
      : targeted
        ? prediction.label === target
        : prediction.label !== clean.label;
    return {
      choice: { attack: spec.id, params, target },
      perturbation: toGray(delta, w, h),
      adversarial: toGray(adv, w, h),
      prediction,
      success,
      distances: distancesOf(adv, pixels),
      ms,
      trace: (run.trace ?? []).map((t) => ({ step: t.step, info: { ...t.info } })),
      vae: vaeOut,
    };
  } finally {
    tf.dispose(disposables);
  }
}

export { toGray as grayImage };
