import type * as tf from '@tensorflow/tfjs';

/**
 * The files of one shipped model folder (models/<id>/), wherever they live: extension URLs in
 * the browser, a directory on disk in Node. Loaders of every model family take one of these.
 */
export interface ModelFiles {
  /** What tf.loadLayersModel needs for a LayersModel whose model.json is at `path` (relative). */
  layers(path: string): string | tf.io.IOHandler;
  /** Raw bytes of a file in the folder. */
  bytes(path: string): Promise<Uint8Array>;
  /** A JSON file in the folder, parsed. */
  json(path: string): Promise<unknown>;
}

/** ModelFiles over a base URL (the extension: chrome.runtime.getURL('models/<id>/')). */
export function urlModelFiles(baseUrl: string): ModelFiles {
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  const get = async (path: string): Promise<Response> => {
    const res = await fetch(base + path);
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
    return res;
  };
  return {
    layers: (path) => base + path,
    bytes: async (path) => new Uint8Array(await (await get(path)).arrayBuffer()),
    json: async (path) => (await get(path)).json() as Promise<unknown>,
  };
}
