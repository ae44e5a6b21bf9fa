/**
 * Node-only save/load of tfjs LayersModels as `model.json` + `weights.bin`: the format that
 * `tf.loadLayersModel(url)` reads in the browser. Pure tfjs has no file:// handler, so these
 * are custom tf.io handlers.
 */
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';

/** File name of the model topology + weights manifest. */
export const MODEL_JSON = 'model.json';
/** File name of the single weights shard. */
export const WEIGHTS_BIN = 'weights.bin';

function toArrayBuffer(buf: Buffer): ArrayBuffer {
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
}

/**
 * Writes `model` to `dir` (created if missing) as model.json + weights.bin.
 * Returns the total size of the two files in bytes.
 */
export async function saveLayersModel(model: tf.LayersModel, dir: string): Promise<{ bytes: number }> {
  mkdirSync(dir, { recursive: true });
  const jsonPath = join(dir, MODEL_JSON);
  const binPath = join(dir, WEIGHTS_BIN);
  await model.save(tf.io.withSaveHandler(async (artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> => {
    if (artifacts.modelTopology == null || artifacts.weightSpecs == null || artifacts.weightData == null) {
      throw new Error('saveLayersModel: model artifacts lack topology or weights');
    }
    const weights = tf.io.CompositeArrayBuffer.join(artifacts.weightData);
    const modelJson: tf.io.ModelJSON = {
      modelTopology: artifacts.modelTopology,
      format: artifacts.format,
      generatedBy: artifacts.generatedBy,
      convertedBy: artifacts.convertedBy ?? null,
      weightsManifest: [{ paths: [WEIGHTS_BIN], weights: artifacts.weightSpecs }],
    };
    if (artifacts.trainingConfig != null) modelJson.trainingConfig = artifacts.trainingConfig;
    if (artifacts.userDefinedMetadata != null) modelJson.userDefinedMetadata = artifacts.userDefinedMetadata;
    writeFileSync(binPath, new Uint8Array(weights));
    writeFileSync(jsonPath, JSON.stringify(modelJson));
    return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
  }));
  return { bytes: statSync(jsonPath).size + statSync(binPath).size };
}

/** Reads the model.json + weight shards written by {@link saveLayersModel} (or by tfjs tools). */
export async function loadLayersModelFromDir(dir: string): Promise<tf.LayersModel> {
  const jsonPath = join(dir, MODEL_JSON);
  let modelJson: tf.io.ModelJSON;
  try {
    modelJson = JSON.parse(readFileSync(jsonPath, 'utf8')) as tf.io.ModelJSON;
  } catch (e) {
    throw new Error(`cannot read ${jsonPath}: ${String(e)}`);
  }
  if (modelJson.modelTopology == null || modelJson.weightsManifest == null) {
    throw new Error(`${jsonPath}: not a tfjs LayersModel (modelTopology or weightsManifest missing)`);
  }
  const artifacts = await tf.io.getModelArtifactsForJSON(modelJson, async (manifest) => {
    const specs: tf.io.WeightsManifestEntry[] = [];
    const buffers: ArrayBuffer[] = [];
    for (const group of manifest) {
      specs.push(...group.weights);
      for (const p of group.paths) buffers.push(toArrayBuffer(readFileSync(join(dir, p))));
    }
    return [specs, tf.io.CompositeArrayBuffer.join(buffers)];
  });
  return tf.loadLayersModel(tf.io.fromMemory(artifacts));
}
