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
 * Optional post-training weight quantization of the float32 weights, in the standard tfjs
 * weightsManifest format that `tf.loadLayersModel` dequantizes on load: 'float16' (IEEE half,
 * round to nearest even) or 'uint8' (per-tensor affine, v ≈ q·scale + min). Default: none.
 */
export type WeightQuantization = 'float16' | 'uint8';

/** Options of {@link saveLayersModel}. */
export interface SaveLayersOptions {
  readonly quantize?: WeightQuantization;
}

/** float32 → IEEE 754 half-precision bits, round to nearest even (handles subnormals, inf, NaN). */
export function float32ToFloat16Bits(v: number): number {
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  f[0] = v;
  const x = u[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && (half & 1) === 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1) === 1)) half++;
  return sign | half;
}

/** Quantizes the float32 entries of a weight buffer; returns new specs (with `quantization`) and data. */
export function quantizeWeights(specs: readonly tf.io.WeightsManifestEntry[], data: ArrayBuffer, kind: WeightQuantization):
{ specs: tf.io.WeightsManifestEntry[]; data: ArrayBuffer } {
  const outSpecs: tf.io.WeightsManifestEntry[] = [];
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const spec of specs) {
    if (spec.quantization != null) throw new Error(`quantizeWeights: ${spec.name} is already quantized`);
    const size = spec.shape.reduce((a, b) => a * b, 1);
    const bytesPer = spec.dtype === 'bool' ? 1 : 4;
    if (spec.dtype === 'string') throw new Error(`quantizeWeights: string weight ${spec.name} is not supported`);
    const byteLength = size * bytesPer;
    if (spec.dtype !== 'float32') {
      chunks.push(new Uint8Array(data.slice(offset, offset + byteLength)));
      outSpecs.push({ ...spec });
      offset += byteLength;
      continue;
    }
    const values = new Float32Array(data.slice(offset, offset + byteLength));
    offset += byteLength;
    if (kind === 'float16') {
      const q = new Uint16Array(size);
      for (let i = 0; i < size; i++) q[i] = float32ToFloat16Bits(values[i]);
      chunks.push(new Uint8Array(q.buffer));
      outSpecs.push({ ...spec, quantization: { dtype: 'float16' } });
    } else {
      let lo = Infinity;
      let hi = -Infinity;
      for (let i = 0; i < size; i++) {
        if (values[i] < lo) lo = values[i];
        if (values[i] > hi) hi = values[i];
      }
      if (size === 0) { lo = 0; hi = 0; }
      const scale = hi > lo ? (hi - lo) / 255 : 1;
      const q = new Uint8Array(size);
      for (let i = 0; i < size; i++) q[i] = Math.max(0, Math.min(255, Math.round((values[i] - lo) / scale)));
      chunks.push(q);
      outSpecs.push({ ...spec, quantization: { dtype: 'uint8', scale, min: lo } });
    }
  }
  if (offset !== data.byteLength) throw new Error(`quantizeWeights: specs cover ${offset} of ${data.byteLength} bytes`);
  const total = chunks.reduce((a, c) => a + c.byteLength, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) { out.set(c, at); at += c.byteLength; }
  return { specs: outSpecs, data: out.buffer };
}

/**
 * Writes `model` to `dir` (created if missing) as model.json + weights.bin, optionally with
 * quantized weights (`opts.quantize`; default: float32 as trained).
 * Returns the total size of the two files in bytes.
 */
export async function saveLayersModel(model: tf.LayersModel, dir: string, opts: SaveLayersOptions = {}): Promise<{ bytes: number }> {
  mkdirSync(dir, { recursive: true });
  const jsonPath = join(dir, MODEL_JSON);
  const binPath = join(dir, WEIGHTS_BIN);
  await model.save(tf.io.withSaveHandler(async (artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> => {
    if (artifacts.modelTopology == null || artifacts.weightSpecs == null || artifacts.weightData == null) {
      throw new Error('saveLayersModel: model artifacts lack topology or weights');
    }
    let weights = tf.io.CompositeArrayBuffer.join(artifacts.weightData);
    let weightSpecs = artifacts.weightSpecs;
    if (opts.quantize != null) ({ specs: weightSpecs, data: weights } = quantizeWeights(weightSpecs, weights, opts.quantize));
    const modelJson: tf.io.ModelJSON = {
      modelTopology: artifacts.modelTopology,
      format: artifacts.format,
      generatedBy: artifacts.generatedBy,
      convertedBy: artifacts.convertedBy ?? null,
      weightsManifest: [{ paths: [WEIGHTS_BIN], weights: weightSpecs }],
    };
    if (artifacts.trainingConfig != null) modelJson.trainingConfig = artifacts.trainingConfig;
    if (artifacts.userDefinedMetadata != null) modelJson.userDefinedMetadata = artifacts.userDefinedMetadata;
    writeFileSync(binPath, new Uint8Array(weights));
    writeFileSync(jsonPath, JSON.stringify(modelJson));
    return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
  }));
  return { bytes: statSync(jsonPath).size + statSync(binPath).size };
}

/** A tf.io.IOHandler that loads the LayersModel in `dir` (model.json + shards). */
export function dirLayersHandler(dir: string): tf.io.IOHandler {
  return { load: () => readArtifacts(dir) };
}

/** Reads the model.json + weight shards written by {@link saveLayersModel} (or by tfjs tools). */
export async function loadLayersModelFromDir(dir: string): Promise<tf.LayersModel> {
  return tf.loadLayersModel(dirLayersHandler(dir));
}

async function readArtifacts(dir: string): Promise<tf.io.ModelArtifacts> {
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
  return artifacts;
}
