/**
 * Vote and agreement of an ensemble (Goodfellow et al. 2015: mnist-ensemble-5 averages the
 * softmax outputs of 5 maxout nets). The shipped LayersModel keeps each member's logits as a layer
 * `m<k>_logits`; every member becomes a Classifier of its own that shares the ensemble's weights.
 * Pure tfjs: runs in Node and in the extension.
 */
import * as tf from '@tensorflow/tfjs';
import { ProbeError } from '../errors';
import { catalogEntry, classNamesFor } from '../models/catalog';
import type { ModelFiles } from '../models/files';
import { classifierFromLayersModel } from '../models/layers';
import { registerMaxout } from '../models/maxout';
import type { Classifier } from '../models/types';

/** Name of member k's logits layer in a shipped ensemble. */
const MEMBER_LOGITS = /^m(\d+)_logits$/;

/** An ensemble: the averaged-softmax classifier and each member as a classifier (shared weights). */
export interface Ensemble {
  readonly id: string;
  /** The ensemble itself (mean of the members' softmax outputs). */
  readonly mean: Classifier;
  /** Member k's logits, in layer order m0, m1, … */
  readonly members: readonly Classifier[];
  /** Frees the one model behind all of them. */
  dispose(): void;
}

/** Votes of a batch: plain arrays, n×classes row-major where two-dimensional. */
export interface EnsembleVote {
  readonly n: number;
  readonly classes: number;
  readonly members: number;
  /** Votes per class (arg-max of each member). */
  readonly votes: Int32Array;
  /** Class with the most votes; ties go to the tied class with the highest mean softmax probability. */
  readonly majority: Int32Array;
  /** votes[majority] / members. */
  readonly agreement: Float64Array;
  /** Mean of the members' softmax outputs and its arg-max (the ensemble's own prediction). */
  readonly meanProbs: Float32Array;
  readonly meanLabels: Int32Array;
}

/**
 * An {@link Ensemble} from a LayersModel whose output is the mean of its members' softmax outputs and
 * whose member logits are layers `m<k>_logits`. Takes ownership of `full` (dispose frees it).
 */
export function ensembleFromLayersModel(full: tf.LayersModel, id: string, classNames: readonly string[]): Ensemble {
  const found = full.layers
    .map((l) => ({ layer: l, m: MEMBER_LOGITS.exec(l.name) }))
    .filter((e): e is { layer: tf.layers.Layer; m: RegExpExecArray } => e.m !== null)
    .sort((a, b) => Number(a.m[1]) - Number(b.m[1]));
  if (found.length < 2) {
    throw new ProbeError('MODEL_LOAD_FAILED', `model ${id} is not an ensemble: it needs at least two layers named m<k>_logits, found ${found.length}`);
  }
  // Every classifier here shares `full`'s layers: only the ensemble's dispose frees them.
  const mean = { ...classifierFromLayersModel(full, { id, classNames, output: 'probs' }), dispose: (): void => undefined };
  const members = found.map(({ layer, m }) => {
    const sub = tf.model({ inputs: full.inputs, outputs: layer.output as tf.SymbolicTensor });
    const c = classifierFromLayersModel(sub, { id: `${id}[m${m[1]}]`, classNames, output: 'logits' });
    return { ...c, dispose: (): void => undefined };
  });
  return { id, mean, members, dispose: () => full.dispose() };
}

/** Loads a shipped ensemble (model.json of format 'layers', e.g. mnist-ensemble-5) from its folder. */
export async function loadEnsemble(id: string, files: ModelFiles): Promise<Ensemble> {
  const entry = catalogEntry(id);
  if (!entry) throw new ProbeError('MODEL_NOT_FOUND', `No model called "${id}" is shipped.`);
  if (entry.format !== 'layers' || entry.output !== 'probs') throw new ProbeError('MODEL_NOT_FOUND', `Model "${id}" is not an ensemble.`);
  registerMaxout();
  let full: tf.LayersModel | undefined;
  try {
    full = await tf.loadLayersModel(files.layers('model.json'));
    return ensembleFromLayersModel(full, id, classNamesFor(entry.dataset));
  } catch (e) {
    full?.dispose();
    if (e instanceof ProbeError) throw e;
    throw new ProbeError('MODEL_LOAD_FAILED', `Model "${id}" failed to load: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/**
 * Tallies member votes: `memberLabels[k][i]` is member k's class for image i, `meanProbs` the n×classes
 * mean softmax. Majority = most votes, ties broken by the highest mean probability (then the lower class).
 */
export function tallyVotes(memberLabels: readonly ArrayLike<number>[], meanProbs: ArrayLike<number>, classes: number): Omit<EnsembleVote, 'meanProbs' | 'meanLabels'> {
  const k = memberLabels.length;
  if (k === 0) throw new ProbeError('BAD_INPUT', 'an ensemble vote needs at least one member');
  if (!Number.isInteger(classes) || classes < 1) throw new ProbeError('BAD_INPUT', `classes must be a positive integer, got ${classes}`);
  const n = memberLabels[0].length;
  if (memberLabels.some((l) => l.length !== n)) throw new ProbeError('BAD_INPUT', 'every member needs one label per image');
  if (meanProbs.length !== n * classes) throw new ProbeError('BAD_INPUT', `meanProbs has ${meanProbs.length} values, expected ${n}×${classes}`);
  const votes = new Int32Array(n * classes);
  for (const labels of memberLabels) {
    for (let i = 0; i < n; i++) {
      const c = labels[i];
      if (!Number.isInteger(c) || c < 0 || c >= classes) throw new ProbeError('BAD_INPUT', `member label ${c} is not a class 0..${classes - 1}`);
      votes[i * classes + c]++;
    }
  }
  const majority = new Int32Array(n);
  const agreement = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++) {
      const v = votes[i * classes + c];
      const b = votes[i * classes + best];
      if (v > b || (v === b && meanProbs[i * classes + c] > meanProbs[i * classes + best])) best = c;
    }
    majority[i] = best;
    agreement[i] = votes[i * classes + best] / k;
  }
  return { n, classes, members: k, votes, majority, agreement };
}

/** Every member's vote on a batch, the majority, the agreement and the mean-softmax prediction. Frees what it makes. */
export async function ensembleVote(ensemble: Ensemble, x: tf.Tensor4D): Promise<EnsembleVote> {
  const want = ensemble.mean.inputShape;
  if (x.rank !== 4 || x.shape.slice(1).some((d, i) => d !== want[i])) {
    throw new ProbeError('BAD_INPUT', `${ensemble.id} expects a batch [n, ${want.join(', ')}], got [${x.shape.join(', ')}]`);
  }
  const [labelsT, probsT, meanLabT] = tf.tidy(() => {
    const probs = tf.softmax(ensemble.mean.logits(x));
    const labels = tf.stack(ensemble.members.map((m) => tf.argMax(m.logits(x), 1)));
    return [labels, probs, tf.argMax(probs, 1)] as const;
  });
  try {
    const flat = (await labelsT.data()) as Int32Array;
    const meanProbs = (await probsT.data()) as Float32Array;
    const meanLabels = Int32Array.from((await meanLabT.data()) as Int32Array);
    const n = x.shape[0];
    const memberLabels = ensemble.members.map((_, k) => flat.subarray(k * n, (k + 1) * n));
    return { ...tallyVotes(memberLabels, meanProbs, probsT.shape[1]), meanProbs, meanLabels };
  } finally {
    tf.dispose([labelsT, probsT, meanLabT]);
  }
}
