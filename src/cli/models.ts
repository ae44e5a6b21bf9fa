import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ProbeError } from '../core/errors';
import { catalogEntry } from '../core/models/catalog';
import { loadClassifier, loadVaeModel } from '../core/models/load';
import type { ModelFiles } from '../core/models/files';
import type { Classifier, Vae } from '../core/models/types';
import { dirLayersHandler } from './model-io';

export const MODELS_DIR = 'models';

/** The generated card of a shipped model (models/<id>/card.json). */
export interface ModelCard {
  readonly id: string;
  readonly dataset: string;
  /** Classifiers: top-1 accuracy; VAEs have testElbo instead. */
  readonly testAccuracy?: number;
  readonly testElbo?: number;
  readonly testN: number;
  readonly [key: string]: unknown;
}

export function readCard(id: string, dir = MODELS_DIR): ModelCard {
  const p = join(dir, id, 'card.json');
  if (!existsSync(p)) throw new ProbeError('MODEL_NOT_FOUND', `No card for model "${id}" at ${p}.`);
  return JSON.parse(readFileSync(p, 'utf8')) as ModelCard;
}

/** ModelFiles over a directory on disk (Node). */
export function dirModelFiles(dir: string): ModelFiles {
  return {
    layers: (path) => dirLayersHandler(join(dir, dirname(path))),
    bytes: async (path) => new Uint8Array(readFileSync(join(dir, path))),
    json: async (path) => JSON.parse(readFileSync(join(dir, path), 'utf8')) as unknown,
  };
}

/** Load a shipped classifier from models/<id>/ on disk (Node), through the same loader as the extension. */
export async function loadShippedClassifier(id: string, dir = MODELS_DIR): Promise<Classifier> {
  if (!catalogEntry(id)) throw new ProbeError('MODEL_NOT_FOUND', `No model called "${id}" is shipped.`);
  return loadClassifier(id, dirModelFiles(join(dir, id)));
}

/** Load a shipped VAE from models/<id>/ on disk (Node). */
export async function loadShippedVae(id: string, dir = MODELS_DIR): Promise<Vae> {
  return loadVaeModel(id, dirModelFiles(join(dir, id)));
}
