import * as tf from '@tensorflow/tfjs';
import { ProbeError } from '../errors';
import { catalogEntry, classNamesFor, type CatalogEntry } from './catalog';
import type { ModelFiles } from './files';
import { loadGpdnn } from './gpdnn';
import { classifierFromLayersModel } from './layers';
import { registerMaxout } from './maxout';
import type { Classifier, Vae } from './types';
import { loadVae } from './vae';

function failed(id: string, e: unknown): ProbeError {
  if (e instanceof ProbeError) return e;
  const why = e instanceof Error ? e.message : String(e);
  return new ProbeError('MODEL_LOAD_FAILED', `Model "${id}" failed to load: ${why}`);
}

function entryOf(id: string): CatalogEntry {
  const entry = catalogEntry(id);
  if (!entry) throw new ProbeError('MODEL_NOT_FOUND', `No model called "${id}" is shipped.`);
  return entry;
}

/**
 * Load a shipped classifier by id from its model folder (extension URLs or a directory in Node).
 * Custom layers (Maxout) are registered first, so every format loads in every context.
 */
export async function loadClassifier(id: string, files: ModelFiles): Promise<Classifier> {
  const entry = entryOf(id);
  registerMaxout();
  try {
    if (entry.format === 'layers') {
      const model = await tf.loadLayersModel(files.layers('model.json'));
      return classifierFromLayersModel(model, { id, classNames: classNamesFor(entry.dataset), output: entry.output });
    }
    if (entry.format === 'gpdnn') return await loadGpdnn(id, files);
    throw new ProbeError('MODEL_NOT_FOUND', `Model "${id}" is not a classifier.`);
  } catch (e) {
    throw failed(id, e);
  }
}

/** Load a shipped VAE (Kos et al.) by id from its model folder. */
export async function loadVaeModel(id: string, files: ModelFiles): Promise<Vae> {
  const entry = entryOf(id);
  if (entry.format !== 'vae') throw new ProbeError('MODEL_NOT_FOUND', `Model "${id}" is not a VAE.`);
  try {
    return await loadVae(id, files);
  } catch (e) {
    throw failed(id, e);
  }
}
