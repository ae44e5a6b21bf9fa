/**
 * GPDNN of Bradshaw et al. 2017 ("Adversarial examples, uncertainty, and transfer testing robustness in
 * Gaussian process hybrid deep networks"): a CNN feature extractor feeding a sparse variational GP
 * (whitened, RBF kernel, M inducing points, one latent GP per class) with a robust-max likelihood.
 *
 * Folder layout (models/<id>/): features/model.json + weights (tfjs LayersModel: image → features),
 * gp.json + gp.bin (see src/core/gp/io.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { ProbeError } from '../errors';
import { decodeGp, parseGpJson, type GpHead } from '../gp/io';
import { robustMaxPredictive } from '../gp/likelihood';
import { inducingInverseFactor, inducingInverseFactorAsync, svgpPredict, svgpPredictMean } from '../gp/svgp';
import { classNamesFor } from './catalog';
import type { ModelFiles } from './files';
import type { InputRange, Uncertain } from './types';

/** Path of the feature extractor inside a GPDNN folder. */
export const GPDNN_FEATURES_JSON = 'features/model.json';
/** Path of the GP metadata inside a GPDNN folder. */
export const GPDNN_GP_JSON = 'gp.json';

/** Options of {@link gpdnnFromParts}. */
export interface GpdnnOptions {
  readonly id: string;
  readonly classNames: readonly string[];
  readonly inputRange?: InputRange;
  /** L⁻¹ of Kzz, already computed (taken over: dispose frees it); default: computed here, synchronously. */
  readonly linv?: tf.Tensor2D;
}

/**
 * An Uncertain (Bradshaw et al.'s GPDNN) from a feature extractor and a trained GP head. Takes ownership
 * of both (dispose frees them). `logits` = predictive mean of f (differentiable in x, so gradient attacks
 * work); `predictive` = robust-max class probabilities under q(f) (Gauss–Hermite) and Var[f].
 */
export function gpdnnFromParts(features: tf.LayersModel, gp: GpHead, opts: GpdnnOptions): Uncertain {
  const shape = features.inputs[0]?.shape;
  if (!shape || shape.length !== 4 || shape.slice(1).some((d) => typeof d !== 'number')) {
    throw new ProbeError('MODEL_LOAD_FAILED', `model ${opts.id}: feature extractor must take [batch, h, w, c] images`);
  }
  const inputShape = [shape[1], shape[2], shape[3]] as [number, number, number];
  // Z and the kernel are fixed after training: factor Kzz once.
  const linv = opts.linv ?? tf.keep(inducingInverseFactor(gp.params));
  const feats = (x: tf.Tensor4D): tf.Tensor2D => features.apply(x, { training: false }) as tf.Tensor2D;
  return {
    id: opts.id,
    inputShape,
    inputRange: opts.inputRange ?? { min: 0, max: 1 },
    classNames: opts.classNames,
    logits(x: tf.Tensor4D): tf.Tensor2D {
      return tf.tidy(() => svgpPredictMean(gp.params, feats(x), linv));
    },
    predictive(x: tf.Tensor4D): { probs: tf.Tensor2D; variance: tf.Tensor2D } {
      return tf.tidy(() => {
        const { mean, variance } = svgpPredict(gp.params, feats(x), linv);
        return { probs: robustMaxPredictive(mean, variance, gp.beta, gp.quadraturePoints), variance };
      });
    },
    dispose(): void {
      features.dispose();
      linv.dispose();
      const p = gp.params;
      for (const t of [p.z, p.qMu, p.qSqrt, p.kernel.lengthscale, p.kernel.variance]) if (typeof t !== 'number') t.dispose();
    },
  };
}

/** Loads a shipped GPDNN (Bradshaw et al. 2017) from its folder: features/model.json + gp.json + gp.bin. */
export async function loadGpdnn(id: string, files: ModelFiles): Promise<Uncertain> {
  let features: tf.LayersModel | undefined;
  let linv: tf.Tensor2D | undefined;
  try {
    features = await tf.loadLayersModel(files.layers(GPDNN_FEATURES_JSON));
    const json = parseGpJson(await files.json(GPDNN_GP_JSON));
    const head = decodeGp(json, await files.bytes(json.weights.file));
    linv = await inducingInverseFactorAsync(head.params);
    return gpdnnFromParts(features, head, { id, classNames: classNamesFor('mnist'), linv });
  } catch (e) {
    features?.dispose();
    linv?.dispose();
    if (e instanceof ProbeError) throw e;
    throw new ProbeError('MODEL_LOAD_FAILED', `Model "${id}" failed to load: ${e instanceof Error ? e.message : String(e)}`);
  }
}
