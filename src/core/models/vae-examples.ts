import { ProbeError } from '../errors';
import type { VaeContext } from '../probe';
import type { Classifier, Vae } from './types';

/** The VAE and latent classifier that Kos et al.'s attacks use, and the file of target examples. */
export const VAE_ID = 'mnist-vae';
export const VAE_CLASSIFIER_ID = 'mnist-vae-clf';
export const VAE_EXAMPLES_FILE = 'examples.json';

/** On-disk form of models/mnist-vae/examples.json (written by training/vae-examples.ts). */
export interface VaeExamplesFile {
  readonly source: string;
  /** Index in the MNIST test set of the example of each class. */
  readonly indices: number[];
  /** One image per class, h·w·c values in [0, 1], rounded to 1/255. */
  readonly images: number[][];
}

/** Validates the examples file: one image per class, each of the VAE's input size, values in [0, 1]. */
export function parseVaeExamples(raw: unknown, shape: readonly [number, number, number], classes = 10): Float32Array[] {
  const size = shape[0] * shape[1] * shape[2];
  const images = (raw as { images?: unknown } | null)?.images;
  if (!Array.isArray(images) || images.length !== classes) throw new ProbeError('MODEL_LOAD_FAILED', `${VAE_EXAMPLES_FILE}: expected ${classes} images`);
  return images.map((img: unknown, c) => {
    if (!Array.isArray(img) || img.length !== size || !img.every((v) => typeof v === 'number' && v >= 0 && v <= 1)) {
      throw new ProbeError('MODEL_LOAD_FAILED', `${VAE_EXAMPLES_FILE}: image ${c} must be ${size} values in [0, 1]`);
    }
    return Float32Array.from(img as number[]);
  });
}

export function vaeContextOf(vae: Vae, classifier: Classifier, examples: readonly Float32Array[]): VaeContext {
  return {
    models: { vae, classifier },
    exampleOf(cls: number): Float32Array {
      const e = examples[cls];
      if (!e) throw new ProbeError('BAD_INPUT', `no target example for class ${cls}`);
      return e;
    },
  };
}
