import * as tf from '@tensorflow/tfjs';
import { ProbeError } from '../errors';
import { catalogEntry, classNamesFor } from './catalog';
import { classifierFromLayersModel } from './layers';
import type { Classifier } from './types';

/**
 * Load a shipped classifier by id from a model.json URL (extension: chrome.runtime.getURL)
 * or from any tf.io.IOHandler (Node: files on disk, see src/cli/model-io.ts).
 */
export async function loadClassifier(id: string, source: string | tf.io.IOHandler): Promise<Classifier> {
  const entry = catalogEntry(id);
  if (!entry) throw new ProbeError('MODEL_NOT_FOUND', `No model called "${id}" is shipped.`);
  let model: tf.LayersModel;
  try {
    model = await tf.loadLayersModel(source);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new ProbeError('MODEL_LOAD_FAILED', `Model "${id}" failed to load: ${why}`);
  }
  return classifierFromLayersModel(model, { id, classNames: classNamesFor(entry.dataset), output: entry.output });
}
