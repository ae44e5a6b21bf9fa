/**
 * Kos, Fischer & Song 2017, "Adversarial examples for generative models": three targeted attacks on
 * a variational autoencoder. Each looks for an input x* close to the source x whose reconstruction
 * decode(encode(x*)) looks like a chosen target, by minimising per image
 *
 *     L(x*) + λ‖x* − x‖₂        (Kos et al. use the L2 distance, not its square)
 *
 * with one of three losses L:
 *  - 'vae-classifier': L = CrossEntropy(f_class(z*), y_t), the cross-entropy of the classifier on
 *    the latent mean (the "classifier attack"; `models.classifier` is that image → logits function);
 *  - 'vae-latent': L = ‖z_t − z*‖², z* the encoder mean of x*, z_t the encoder mean of one example
 *    of the target (the "latent attack", LSM);
 *  - 'vae-loss': L = the VAE loss of reconstructing the target's pixels x_t from x*,
 *    −log p(x_t | z*) + KL(q(z|x*) ‖ N(0, I)) (the "L_VAE attack"; see {@link vaeLossAttack}).
 *
 * Two ways of minimising it:
 *  - 'l2' (default): `steps` Adam steps on the pixels of x*, each followed by a projection (clip)
 *    onto the input box; the final x* is returned (no early stop, no best-so-far tracking);
 *  - 'fgs': one fast-gradient-sign step x* = clip(x − ε·sign(∇ₓ L(x))). λ does not enter it: the
 *    gradient of λ‖x* − x‖ at x* = x is zero, so the size of the perturbation is set by ε alone
 *    (L∞ = ε on pixels that are not clipped).
 *
 * All attacks are batched (one target per image, images independent: the objective is a sum of
 * per-image terms), honour a {@link StepControl} within one step, leak no tensors, and return a
 * new tensor in the VAE's input range that the caller disposes.
 */
import * as tf from '@tensorflow/tfjs';
import { ProbeError } from '../errors';
import { deviceScalars } from '../tensors';
import type { Classifier, Vae } from '../models/types';
import { hasDecodeLogits } from '../models/vae';
import { stepper, type StepControl } from './types';

export type VaeAttackId = 'vae-classifier' | 'vae-latent' | 'vae-loss';
export type VaeAttackMethod = 'l2' | 'fgs';

export interface VaeAttackModels {
  readonly vae: Vae;
  /** image → logits through the latent mean (mnist-vae-clf): f_class(f_enc(x)). */
  readonly classifier: Classifier;
}

export interface VaeAttackOptions {
  /** Target classes [n] (integers in [0, classes)). Used by the classifier attack; checked for all. */
  readonly targets: tf.Tensor1D;
  /**
   * One example of each row's target class [n, h, w, c]: the latent attack uses its encoder mean
   * z_t, the L_VAE attack its pixels x_t; the classifier attack ignores it (shape still checked).
   */
  readonly targetExamples: tf.Tensor4D;
  /** 'l2' (default): Adam on L + λ‖x* − x‖₂; 'fgs': one signed gradient step of size eps. */
  readonly method?: VaeAttackMethod;
  /** Weight λ of the L2 distance ('l2' only). Default per attack: {@link VAE_ATTACK_DEFAULTS}. */
  readonly lambda?: number;
  /** Adam steps of the 'l2' variant. Default {@link VAE_ATTACK_DEFAULTS}. */
  readonly steps?: number;
  /** Adam step size in pixel units of the input range ('l2' only). */
  readonly learningRate?: number;
  /** Step size of the 'fgs' variant (L∞ of the perturbation before clipping). */
  readonly eps?: number;
}

export interface VaeAttackDefaults {
  readonly lambda: number;
  readonly steps: number;
  readonly learningRate: number;
  readonly eps: number;
}

/**
 * Defaults, measured on the shipped mnist-vae + mnist-vae-clf (wasm; 100 MNIST test images, 10 per
 * class, targets (y + 1) mod 10, one test image of the target class each; success = the
 * reconstruction-feedback label ŷ = f_class(f_enc(x̂*)) equals the target, AS_target).
 * The three losses have different scales (a cross-entropy of a few nats, a squared latent distance of
 * tens, a reconstruction loss of hundreds of nats), so λ is per attack: the largest of a grid whose
 * AS_target stays ≥ 0.9 after 150 steps, i.e. the smallest perturbation that still succeeds reliably
 * (AS_target / mean L2: classifier λ 0 → 1.00 / 3.69, 0.25 → 0.96 / 1.97, 0.5 → 0.85 / 1.75;
 * latent λ 0 → 0.99 / 8.23, 2 → 0.90 / 4.36, 4 → 0.44 / 2.84; L_VAE λ 0 → 0.99 / 7.18,
 * 20 → 0.96 / 3.98, 40 → 0.66 / 2.92). With Adam at lr 0.01, 150 steps is converged to within a
 * few points (300 steps: 0.95 / 0.90 / 0.96); lr 0.003 is too slow, lr 0.03 no better.
 * FGS ε: the smallest of {0.05, 0.1, 0.15, 0.2, 0.3, 0.4} within 0.05 of the best AS_target (a single
 * signed step overshoots beyond it): classifier 0.2 (0.52), latent 0.3 (0.36; 0.4: 0.39),
 * L_VAE 0.3 (0.37).
 */
export const VAE_ATTACK_DEFAULTS: Readonly<Record<VaeAttackId, VaeAttackDefaults>> = {
  'vae-classifier': { lambda: 0.25, steps: 150, learningRate: 0.01, eps: 0.2 },
  'vae-latent': { lambda: 2, steps: 150, learningRate: 0.01, eps: 0.3 },
  'vae-loss': { lambda: 20, steps: 150, learningRate: 0.01, eps: 0.3 },
};

/** Adam's moment decay rates and denominator guard (Kingma & Ba's defaults). */
const ADAM_B1 = 0.9;
const ADAM_B2 = 0.999;
const ADAM_EPS = 1e-8;
/** ‖d‖₂ is computed as √(‖d‖² + δ): differentiable (gradient 0) at d = 0, where x* starts. */
const NORM_DELTA = 1e-12;
/** Probabilities are clipped to [ε, 1−ε] before taking logits of a VAE without decodeLogits. */
const PROB_EPS = 1e-6;

const METHODS: readonly VaeAttackMethod[] = ['l2', 'fgs'];

interface Resolved {
  readonly n: number;
  readonly method: VaeAttackMethod;
  readonly lambda: number;
  readonly steps: number;
  readonly learningRate: number;
  readonly eps: number;
}

function bad(why: string): never {
  throw new ProbeError('BAD_INPUT', why);
}

const sameShape = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);

/** Checks shapes, targets and options (BAD_INPUT) and fills in the defaults of attack `id`. */
async function resolve(id: VaeAttackId, m: VaeAttackModels, x: tf.Tensor4D, o: VaeAttackOptions): Promise<Resolved> {
  const { vae, classifier } = m;
  if (!sameShape(classifier.inputShape, vae.inputShape)) {
    bad(`${id}: the classifier takes ${classifier.inputShape.join('×')} images but the VAE ${vae.inputShape.join('×')}`);
  }
  if (classifier.inputRange.min !== vae.inputRange.min || classifier.inputRange.max !== vae.inputRange.max) {
    bad(`${id}: the classifier and the VAE have different input ranges`);
  }
  if (x.rank !== 4 || !sameShape(x.shape.slice(1), vae.inputShape) || x.shape[0] < 1) {
    bad(`${id}: x must be [n, ${vae.inputShape.join(', ')}] with n ≥ 1, got [${x.shape.join(', ')}]`);
  }
  const n = x.shape[0];
  if (!o || !o.targets || o.targets.rank !== 1 || o.targets.shape[0] !== n) {
    bad(`${id}: targets must be [${n}], got ${o?.targets ? `[${o.targets.shape.join(', ')}]` : 'nothing'}`);
  }
  if (!o.targetExamples || !sameShape(o.targetExamples.shape, x.shape)) {
    bad(`${id}: targetExamples must be [${x.shape.join(', ')}] like x, got ${o.targetExamples ? `[${o.targetExamples.shape.join(', ')}]` : 'nothing'}`);
  }
  const method = o.method ?? 'l2';
  if (!METHODS.includes(method)) bad(`${id}: method must be 'l2' or 'fgs', got ${String(method)}`);
  const d = VAE_ATTACK_DEFAULTS[id];
  const lambda = o.lambda ?? d.lambda;
  const steps = o.steps ?? d.steps;
  const learningRate = o.learningRate ?? d.learningRate;
  const eps = o.eps ?? d.eps;
  if (typeof lambda !== 'number' || !Number.isFinite(lambda) || lambda < 0) bad(`${id}: lambda must be a finite number ≥ 0, got ${lambda}`);
  if (!Number.isInteger(steps) || steps < 1) bad(`${id}: steps must be an integer ≥ 1, got ${steps}`);
  if (typeof learningRate !== 'number' || !Number.isFinite(learningRate) || learningRate <= 0) {
    bad(`${id}: learningRate must be a finite number > 0, got ${learningRate}`);
  }
  if (typeof eps !== 'number' || !Number.isFinite(eps) || eps < 0) bad(`${id}: eps must be a finite number ≥ 0, got ${eps}`);
  const classes = classifier.classNames.length;
  const t = await o.targets.data();
  for (let i = 0; i < n; i++) {
    if (!Number.isInteger(t[i]) || t[i] < 0 || t[i] >= classes) bad(`${id}: target ${t[i]} of row ${i} is not a class 0..${classes - 1}`);
  }
  return { n, method, lambda, steps, learningRate, eps };
}

/** Per-image attack loss L(x*) [n] of one attack, with what it precomputed (disposed by `dispose`). */
interface AttackLoss {
  loss(xStar: tf.Tensor4D): tf.Tensor1D;
  dispose(): void;
}

/** Bernoulli logits of p(x|z): exact for a LayersVae, from clipped probabilities otherwise. */
function decoderLogits(vae: Vae, z: tf.Tensor2D): tf.Tensor4D {
  if (hasDecodeLogits(vae)) return vae.decodeLogits(z);
  return tf.tidy(() => {
    const p = tf.clipByValue(vae.decode(z), PROB_EPS, 1 - PROB_EPS);
    return tf.sub(tf.log(p), tf.log1p(tf.neg(p))) as tf.Tensor4D;
  });
}

function classifierLoss(m: VaeAttackModels, o: VaeAttackOptions): AttackLoss {
  const oneHot = tf.tidy(() => tf.oneHot(tf.cast(o.targets, 'int32') as tf.Tensor1D, m.classifier.classNames.length));
  return {
    loss: (xStar) => tf.neg(tf.sum(tf.mul(tf.logSoftmax(m.classifier.logits(xStar)), oneHot), 1)) as tf.Tensor1D,
    dispose: () => oneHot.dispose(),
  };
}

function latentLoss(m: VaeAttackModels, o: VaeAttackOptions): AttackLoss {
  const zT = tf.tidy(() => m.vae.encode(o.targetExamples).mean);
  return {
    loss: (xStar) => tf.sum(tf.square(tf.sub(m.vae.encode(xStar).mean, zT)), 1) as tf.Tensor1D,
    dispose: () => zT.dispose(),
  };
}

function vaeLoss(m: VaeAttackModels, o: VaeAttackOptions): AttackLoss {
  const n = o.targetExamples.shape[0];
  const xT = tf.tidy(() => tf.reshape(o.targetExamples, [n, -1]) as tf.Tensor2D);
  return {
    loss: (xStar) => {
      const { mean, logVar } = m.vae.encode(xStar);
      const logits = tf.reshape(decoderLogits(m.vae, mean), [n, -1]);
      // −log Bernoulli(x_t; sigmoid(l)) = softplus(l) − x_t·l, stable for large |l|.
      const nll = tf.sum(tf.sub(tf.softplus(logits), tf.mul(xT, logits)), 1);
      const kl = tf.mul(tf.sum(tf.sub(tf.add(tf.square(mean), tf.exp(logVar)), tf.add(logVar, 1)), 1), 0.5);
      return tf.add(nll, kl) as tf.Tensor1D;
    },
    dispose: () => xT.dispose(),
  };
}

const LOSSES: Readonly<Record<VaeAttackId, (m: VaeAttackModels, o: VaeAttackOptions) => AttackLoss>> = {
  'vae-classifier': classifierLoss,
  'vae-latent': latentLoss,
  'vae-loss': vaeLoss,
};

/** How often (in steps) a progress report carries the batch-mean objective (one readback). */
const INFO_EVERY = 10;

async function runVaeAttack(id: VaeAttackId, m: VaeAttackModels, x: tf.Tensor4D, o: VaeAttackOptions, ctl?: StepControl): Promise<tf.Tensor4D> {
  const r = await resolve(id, m, x, o);
  const { min, max } = m.vae.inputRange;
  const step = stepper(ctl);
  const attackLoss = LOSSES[id](m, o);
  try {
    if (r.method === 'fgs') {
      await step({ done: 0, total: 1, phase: `${id} fgs` });
      const adv = tf.tidy(() => {
        const g = tf.grad((xi: tf.Tensor) => tf.sum(attackLoss.loss(xi as tf.Tensor4D)))(x);
        return tf.clipByValue(tf.sub(x, tf.mul(tf.sign(g), r.eps)), min, max) as tf.Tensor4D;
      });
      try {
        await step({ done: 1, total: 1, phase: `${id} fgs` });
      } catch (e) {
        adv.dispose();
        throw e;
      }
      return adv;
    }
    return await adamLoop(id, attackLoss, x, r, min, max, step, ctl);
  } finally {
    attackLoss.dispose();
  }
}

async function adamLoop(
  id: VaeAttackId,
  attackLoss: AttackLoss,
  x: tf.Tensor4D,
  r: Resolved,
  min: number,
  max: number,
  step: ReturnType<typeof stepper>,
  ctl: StepControl | undefined,
): Promise<tf.Tensor4D> {
  const { n, lambda, steps, learningRate } = r;
  // Every number of the loop made once on the device (src/core/tensors.ts); Adam's bias corrections
  // 1/(1 − β^t) as per-step tables (one upload each).
  const k = {
    ...deviceScalars({ delta: NORM_DELTA, lambda, b1: ADAM_B1, b1c: 1 - ADAM_B1, b2: ADAM_B2, b2c: 1 - ADAM_B2, lr: learningRate, eps: ADAM_EPS, dy: 1 }),
    c1: tf.tensor1d(Float32Array.from({ length: steps }, (_, i) => 1 / (1 - ADAM_B1 ** (i + 1)))),
    c2: tf.tensor1d(Float32Array.from({ length: steps }, (_, i) => 1 / (1 - ADAM_B2 ** (i + 1)))),
  };
  const objective = (xi: tf.Tensor): tf.Scalar => {
    const d = tf.reshape(tf.sub(xi, x), [n, -1]);
    const dist = tf.sqrt(tf.add(tf.sum(tf.square(d), 1), k.delta));
    return tf.sum(tf.add(attackLoss.loss(xi as tf.Tensor4D), tf.mul(dist, k.lambda)));
  };
  let xs = tf.clone(x);
  let mom = tf.zerosLike(x);
  let vel = tf.zerosLike(x);
  const phase = `${id} adam`;
  let info: Record<string, number> | undefined;
  try {
    for (let i = 0; i < steps; i++) {
      await step({ done: i, total: steps, phase, ...(info ? { info } : {}) });
      const [nx, nm, nv, value] = tf.tidy(() => {
        const { value: v, grad } = tf.valueAndGrad(objective)(xs, k.dy);
        const m1 = tf.add(tf.mul(mom, k.b1), tf.mul(grad, k.b1c));
        const m2 = tf.add(tf.mul(vel, k.b2), tf.mul(tf.square(grad), k.b2c));
        const mHat = tf.mul(m1, tf.slice(k.c1, [i], [1]));
        const vHat = tf.mul(m2, tf.slice(k.c2, [i], [1]));
        const upd = tf.div(tf.mul(mHat, k.lr), tf.add(tf.sqrt(vHat), k.eps));
        const next = tf.clipByValue(tf.sub(xs, upd), min, max);
        return [next, m1, m2, v] as const;
      });
      xs.dispose();
      mom.dispose();
      vel.dispose();
      xs = nx as tf.Tensor4D;
      mom = nm as tf.Tensor4D;
      vel = nv as tf.Tensor4D;
      if (ctl?.onProgress && (i % INFO_EVERY === 0 || i === steps - 1)) {
        info = { objective: (await value.data())[0] / n };
      }
      value.dispose();
    }
    await step({ done: steps, total: steps, phase, ...(info ? { info } : {}) });
  } catch (e) {
    xs.dispose();
    throw e;
  } finally {
    mom.dispose();
    vel.dispose();
    tf.dispose(Object.values(k));
  }
  return xs;
}

/**
 * Kos et al.'s classifier attack: minimise CrossEntropy(f_class(f_enc(x*)), y_t) + λ‖x* − x‖₂,
 * where `models.classifier` is the image → logits classifier on the latent mean. Uses `targets`.
 */
export async function vaeClassifierAttack(m: VaeAttackModels, x: tf.Tensor4D, o: VaeAttackOptions, ctl?: StepControl): Promise<tf.Tensor4D> {
  return runVaeAttack('vae-classifier', m, x, o, ctl);
}

/**
 * Kos et al.'s latent attack (LSM): minimise ‖z_t − z*‖² + λ‖x* − x‖₂ with z* = encoder mean of x*
 * and z_t = encoder mean of `targetExamples` (fixed; not differentiated).
 */
export async function vaeLatentAttack(m: VaeAttackModels, x: tf.Tensor4D, o: VaeAttackOptions, ctl?: StepControl): Promise<tf.Tensor4D> {
  return runVaeAttack('vae-latent', m, x, o, ctl);
}

/**
 * Kos et al.'s L_VAE attack: minimise −log p(x_t | z*) + KL(q(z|x*) ‖ N(0, I)) + λ‖x* − x‖₂,
 * the VAE loss of reconstructing the target pixels x_t (`targetExamples`, as Bernoulli soft
 * targets) from the encoding of x*. The expectation over q(z|x*) is replaced by its value at the
 * posterior mean z* = encoder mean of x* (deterministic, no sampling noise in the gradient); the KL
 * term is the closed form. The likelihood uses the decoder's logits when the VAE exposes them
 * (softplus(l) − x_t·l, exact for saturated pixels), otherwise logits of clipped probabilities.
 */
export async function vaeLossAttack(m: VaeAttackModels, x: tf.Tensor4D, o: VaeAttackOptions, ctl?: StepControl): Promise<tf.Tensor4D> {
  return runVaeAttack('vae-loss', m, x, o, ctl);
}

/** The three attacks of Kos et al. 2017 by id. */
export const VAE_ATTACKS: Record<VaeAttackId, typeof vaeLatentAttack> = {
  'vae-classifier': vaeClassifierAttack,
  'vae-latent': vaeLatentAttack,
  'vae-loss': vaeLossAttack,
};
