import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ProbeError } from '../core/errors';
import { catalogEntry, classNamesFor } from '../core/models/catalog';
import { classifierFromLayersModel } from '../core/models/layers';
import type { Classifier } from '../core/models/types';
import { loadLayersModelFromDir } from './model-io';

export const MODELS_DIR = 'models';

/** The generated card of a shipped model (models/<id>/card.json). */
export interface ModelCard {
  readonly id: string;
  readonly dataset: string;
  readonly testAccuracy: number;
  readonly testN: number;
  readonly [key: string]: unknown;
}

export function readCard(id: string, dir = MODELS_DIR): ModelCard {
  const p = join(dir, id, 'card.json');
  if (!existsSync(p)) throw new ProbeError('MODEL_NOT_FOUND', `No card for model "${id}" at ${p}.`);
  return JSON.parse(readFileSync(p, 'utf8')) as ModelCard;
}

/** Load a shipped classifier from models/<id>/ on disk (Node). */
export async function loadShippedClassifier(id: string, dir = MODELS_DIR): Promise<Classifier> {
  const entry = catalogEntry(id);
  if (!entry) throw new ProbeError('MODEL_NOT_FOUND', `No model called "${id}" is shipped.`);
  let model;
  try {
    model = await loadLayersModelFromDir(join(dir, id));
  } catch (e) {
    throw new ProbeError('MODEL_LOAD_FAILED', `Model "${id}" failed to load: ${e instanceof Error ? e.message : String(e)}`);
  }
  return classifierFromLayersModel(model, { id, classNames: classNamesFor(entry.dataset), output: entry.output });
}
