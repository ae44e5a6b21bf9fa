/**
 * The defenses of src/core/defenses on single images (the popup's defenses panel): MagNet detector and
 * reformer, the GPDNN's predictive mean, variance, entropy and "unsure" flag, and the ensemble vote,
 * for a batch of images (clean and adversarial), as plain numbers. Pure tfjs.
 */
import * as tf from '@tensorflow/tfjs';
import type { Ensemble } from '../defenses/ensemble';
import { ensembleVote } from '../defenses/ensemble';
import type { Magnet } from '../defenses/magnet';
import { gpUncertainty, type UncertaintyCalibration } from '../defenses/uncertainty';
import { ProbeError } from '../errors';
import type { Uncertain } from '../models/types';

/** What the defenses make of one image. */
export interface DefenseSideData {
  readonly magnet: { readonly score: number; readonly flagged: boolean; readonly reformedLabel: number; readonly reformedProbs: number[] };
  readonly gp: { readonly label: number; readonly probs: number[]; readonly variance: number[]; readonly entropy: number; readonly unsure: boolean };
  readonly ensemble: { readonly votes: number[]; readonly majority: number; readonly agreement: number; readonly members: number; readonly meanProbs: number[] };
}

/** The models and calibrations the panel uses (MagNet is bound to the tab's model as its reformer). */
export interface DefenseModels {
  readonly magnet: Magnet;
  readonly gpdnn: Uncertain;
  readonly gpCalibration: UncertaintyCalibration;
  readonly ensemble: Ensemble;
}

const row = (a: ArrayLike<number>, i: number, k: number): number[] => Array.from({ length: k }, (_, j) => a[i * k + j]);

/**
 * The defenses on each image (h·w·c values each, the MNIST input shape); stops with CANCELLED between
 * defenses when `signal` aborts. Frees every tensor it makes.
 */
export async function defendImages(models: DefenseModels, images: readonly Float32Array[], signal?: AbortSignal): Promise<DefenseSideData[]> {
  const [h, w, c] = models.gpdnn.inputShape;
  const size = h * w * c;
  if (images.length === 0) throw new ProbeError('BAD_INPUT', 'the defenses need at least one image');
  for (const im of images) if (im.length !== size) throw new ProbeError('BAD_INPUT', `the defenses take ${h}×${w}×${c} images (${size} values), got ${im.length}`);
  const stop = (): void => {
    if (signal?.aborted) throw new ProbeError('CANCELLED', 'The defenses check was cancelled.');
  };
  const flat = new Float32Array(images.length * size);
  images.forEach((im, i) => flat.set(im, i * size));
  const x = tf.tensor4d(flat, [images.length, h, w, c]);
  try {
    stop();
    const mg = await models.magnet.run(x);
    stop();
    const gp = await gpUncertainty(models.gpdnn, x, models.gpCalibration);
    stop();
    const ens = await ensembleVote(models.ensemble, x);
    return images.map((_, i) => ({
      magnet: { score: mg.scores[i], flagged: mg.flagged[i], reformedLabel: mg.reformedLabels[i], reformedProbs: row(mg.reformedProbs, i, mg.classes) },
      gp: { label: gp.labels[i], probs: row(gp.probs, i, gp.classes), variance: row(gp.variance, i, gp.classes), entropy: gp.entropy[i], unsure: gp.unsure[i] },
      ensemble: {
        votes: row(ens.votes, i, ens.classes), majority: ens.majority[i], agreement: ens.agreement[i], members: ens.members, meanProbs: row(ens.meanProbs, i, ens.classes),
      },
    }));
  } finally {
    x.dispose();
  }
}
