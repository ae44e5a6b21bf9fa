import * as tf from '@tensorflow/tfjs';
import { TINY_GRAPH, TINY_GRAPH_TOPOLOGY, tinyGraphWeights } from '../../helpers/tiny-graph';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useNodeBackend } from '../../../src/cli/backend';
import { artifactsFromFiles, filesHandler, MAX_MODEL_FILES, modelFormatOf, type ModelFile } from '../../../src/core/models/user-files';
import { loadUserClassifier } from '../../../src/core/models/user-model';
import { validateUserModelSpec } from '../../../src/core/models/user-spec';

/**
 * A model picked as files: model.json plus weight shards, made in memory from a seeded LayersModel (its
 * weights split over two shards) and from a tiny GraphModel in MobileNet's converted format.
 */
const SHARD1 = 'group1-shard1of2.bin';
const SHARD2 = 'group1-shard2of2.bin';
const enc = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v));

/** The model.json tfjs writes for `a` with `manifest` (what tfjs's getModelJSONForModelArtifacts builds). */
function modelJson(a: tf.io.ModelArtifacts, manifest: tf.io.WeightsManifestConfig): Record<string, unknown> {
  const j: Record<string, unknown> = { modelTopology: a.modelTopology, format: a.format, generatedBy: a.generatedBy, convertedBy: a.convertedBy, weightsManifest: manifest };
  if (a.trainingConfig != null) j.trainingConfig = a.trainingConfig;
  if (a.signature != null) j.signature = a.signature;
  if (a.userDefinedMetadata != null) j.userDefinedMetadata = a.userDefinedMetadata;
  return j;
}

const layersSpec = validateUserModelSpec({ id: 'user:files', format: 'layers', inputShape: [8, 8, 1], inputRange: { min: 0, max: 1 }, classNames: ['a', 'b', 'c'], output: 'logits' });

let net: tf.LayersModel;
let saved: tf.io.ModelArtifacts;
/** model.json, shard 1 (the first two weights), shard 2 (the rest). */
let layerFiles: ModelFile[];
let shard1Bytes = 0;
let totalWeightBytes = 0;

beforeAll(async () => {
  await useNodeBackend('wasm');
  net = tf.sequential({
    layers: [
      tf.layers.flatten({ inputShape: [8, 8, 1] }),
      tf.layers.dense({ units: 5, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }), biasInitializer: tf.initializers.randomNormal({ seed: 2, stddev: 0.1 }) }),
      tf.layers.dense({ units: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }), biasInitializer: tf.initializers.randomNormal({ seed: 4, stddev: 0.1 }) }),
    ],
  });
  await net.save(
    tf.io.withSaveHandler(async (a) => {
      saved = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  const specs = saved.weightSpecs!;
  expect(specs.map((s) => s.shape)).toEqual([[64, 5], [5], [5, 3], [3]]);
  const data = new Uint8Array(saved.weightData as ArrayBuffer);
  totalWeightBytes = data.byteLength;
  shard1Bytes = (64 * 5 + 5) * 4; // a byte boundary between the second and third weight
  const manifest: tf.io.WeightsManifestConfig = [{ paths: [SHARD1, SHARD2], weights: specs }];
  layerFiles = [
    { name: 'model.json', bytes: enc(modelJson(saved, manifest)) },
    { name: SHARD1, bytes: data.slice(0, shard1Bytes) },
    { name: SHARD2, bytes: data.slice(shard1Bytes) },
  ];
});

afterAll(() => {
  net.dispose();
});

/** The BAD_INPUT error `run` throws (fails the test if it does not). */
function badInput(run: () => unknown): string {
  try {
    run();
  } catch (e) {
    expect(e).toMatchObject({ code: 'BAD_INPUT' });
    return (e as Error).message;
  }
  throw new Error('expected BAD_INPUT');
}

describe('artifactsFromFiles (a layers model in two shards)', () => {
  it('rebuilds the artifacts: topology, weight specs and the weight bytes in manifest order', () => {
    const a = artifactsFromFiles(layerFiles);
    expect(a.format).toBe('layers-model');
    expect(a.modelTopology).toEqual(saved.modelTopology);
    expect(a.weightSpecs).toEqual(saved.weightSpecs);
    expect(new Uint8Array(a.weightData as ArrayBuffer)).toEqual(new Uint8Array(saved.weightData as ArrayBuffer));
    expect(modelFormatOf(layerFiles)).toBe('layers');
  });

  it('loads through filesHandler into a Classifier with the same logits as the original model, files in any order; no leak', async () => {
    const x = tf.tensor4d(Float32Array.from({ length: 64 }, (_, i) => (Math.sin(i * 1.7) + 1) / 2), [1, 8, 8, 1]);
    const want = tf.tidy(() => (net.predict(x) as tf.Tensor).dataSync());
    const before = tf.memory().numTensors;
    for (const order of [[0, 1, 2], [2, 0, 1], [1, 2, 0]]) {
      const m = await loadUserClassifier(layersSpec, filesHandler(order.map((i) => layerFiles[i])));
      const z = m.logits(x);
      expect(z.shape).toEqual([1, 3]);
      Array.from(z.dataSync()).forEach((v, k) => expect(v).toBeCloseTo(want[k], 5));
      z.dispose();
      m.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });

  it('a path with folders in the manifest matches the file by its base name', () => {
    const j = JSON.parse(new TextDecoder().decode(layerFiles[0].bytes)) as { weightsManifest: { paths: string[] }[] };
    j.weightsManifest[0].paths = [`./weights/${SHARD1}`, `sub/${SHARD2}`];
    const a = artifactsFromFiles([{ name: 'model.json', bytes: enc(j) }, layerFiles[1], layerFiles[2]]);
    expect((a.weightData as ArrayBuffer).byteLength).toBe(totalWeightBytes);
  });

  it('a missing shard is named', () => {
    expect(badInput(() => artifactsFromFiles([layerFiles[0], layerFiles[1]]))).toMatch(`"${SHARD2}" is missing`);
    expect(badInput(() => artifactsFromFiles([layerFiles[0], layerFiles[2]]))).toMatch(`"${SHARD1}" is missing`);
    // Names are case-sensitive.
    expect(badInput(() => artifactsFromFiles([layerFiles[0], layerFiles[1], { ...layerFiles[2], name: SHARD2.toUpperCase() }]))).toMatch(`"${SHARD2}" is missing`);
  });

  it('an extra file is named', () => {
    const msg = badInput(() => artifactsFromFiles([...layerFiles, { name: 'notes.bin', bytes: new Uint8Array(4) }]));
    expect(msg).toMatch(/Extra file/);
    expect(msg).toMatch('"notes.bin"');
  });

  it('a truncated shard gives a size mismatch with both numbers', () => {
    const short = { name: SHARD2, bytes: layerFiles[2].bytes.slice(0, layerFiles[2].bytes.byteLength - 4) };
    const msg = badInput(() => artifactsFromFiles([layerFiles[0], layerFiles[1], short]));
    expect(msg).toMatch(/size mismatch/i);
    const n = (v: number): string => `${v.toLocaleString('en-US')} bytes`;
    expect(msg).toMatch(`hold ${n(totalWeightBytes - 4)}`);
    expect(msg).toMatch(`need ${n(totalWeightBytes)}`);
    expect(msg).toMatch(SHARD2);
    // Too long is refused as well.
    const long = { name: SHARD1, bytes: new Uint8Array(shard1Bytes + 8) };
    expect(badInput(() => artifactsFromFiles([layerFiles[0], long, layerFiles[2]]))).toMatch(`hold ${n(totalWeightBytes + 8)}`);
  });

  it('two .json files, none, bad JSON and JSON that is not a model are refused', () => {
    expect(badInput(() => artifactsFromFiles([...layerFiles, { name: 'other.json', bytes: enc({}) }]))).toMatch(/not 2 \.json files.*"other\.json"/);
    expect(badInput(() => artifactsFromFiles([layerFiles[1], layerFiles[2]]))).toMatch(/No \.json file/);
    expect(badInput(() => artifactsFromFiles([{ name: 'model.json', bytes: new TextEncoder().encode('{"modelTopology": ') }, layerFiles[1], layerFiles[2]]))).toMatch(/"model\.json" is not JSON/);
    expect(badInput(() => artifactsFromFiles([{ name: 'model.json', bytes: enc({ hello: 'world' }) }]))).toMatch(/"model\.json" is not a tfjs model\.json/);
    expect(badInput(() => artifactsFromFiles([{ name: 'model.json', bytes: enc([1, 2]) }]))).toMatch(/not a tfjs model\.json/);
    expect(badInput(() => artifactsFromFiles([]))).toMatch(/Pick the model\.json/);
    expect(modelFormatOf([{ name: 'model.json', bytes: enc({ hello: 'world' }) }])).toBeNull();
    expect(modelFormatOf([{ name: 'model.json', bytes: new TextEncoder().encode('nope') }])).toBeNull();
  });

  it('string weights, unknown dtypes and bad shapes are refused with the weight named', () => {
    const withWeights = (weights: unknown[]): ModelFile[] => [{ name: 'model.json', bytes: enc({ modelTopology: {}, weightsManifest: [{ paths: ['w.bin'], weights }] }) }, { name: 'w.bin', bytes: new Uint8Array(8) }];
    expect(badInput(() => artifactsFromFiles(withWeights([{ name: 'table', shape: [2], dtype: 'string' }])))).toMatch(/"table" holds strings/);
    expect(badInput(() => artifactsFromFiles(withWeights([{ name: 'c', shape: [1], dtype: 'complex64' }])))).toMatch(/"c" has dtype "complex64"/);
    expect(badInput(() => artifactsFromFiles(withWeights([{ name: 's', shape: [-2], dtype: 'float32' }])))).toMatch(/"s" has a bad shape/);
    // Quantization decides the bytes: 8 uint16 values are 16 bytes, not 8.
    expect(badInput(() => artifactsFromFiles(withWeights([{ name: 'q', shape: [8], dtype: 'float32', quantization: { dtype: 'uint16', min: 0, scale: 1 } }])))).toMatch(/8 bytes.*16 bytes/);
    // And fits: 8 uint8 values in 8 bytes; 2 float32 in 8 bytes; 8 bools in 8 bytes.
    for (const w of [{ name: 'q', shape: [8], dtype: 'float32', quantization: { dtype: 'uint8', min: 0, scale: 1 } }, { name: 'f', shape: [2], dtype: 'float32' }, { name: 'b', shape: [2, 4], dtype: 'bool' }]) {
      expect((artifactsFromFiles(withWeights([w])).weightData as ArrayBuffer).byteLength).toBe(8);
    }
  });

  it('too many files and too many bytes are refused with the numbers', () => {
    const many = [...layerFiles, ...Array.from({ length: MAX_MODEL_FILES - 2 }, (_, i) => ({ name: `x${i}.bin`, bytes: new Uint8Array(1) }))];
    expect(many.length).toBe(MAX_MODEL_FILES + 1);
    expect(badInput(() => artifactsFromFiles(many))).toMatch(`At most ${MAX_MODEL_FILES} files can make a model: got ${MAX_MODEL_FILES + 1}`);
    const total = layerFiles.reduce((s, f) => s + f.bytes.byteLength, 0);
    const msg = badInput(() => artifactsFromFiles(layerFiles, { maxBytes: total - 1 }));
    expect(msg).toMatch(`${total.toLocaleString('en-US')} bytes`);
    expect(msg).toMatch(`at most ${(total - 1).toLocaleString('en-US')} bytes`);
    expect(badInput(() => artifactsFromFiles(layerFiles, { maxFiles: 2 }))).toMatch(/At most 2 files/);
    expect(artifactsFromFiles(layerFiles, { maxBytes: total, maxFiles: 3 }).weightSpecs).toHaveLength(4);
  });

  it('filesHandler rejects (not throws) with BAD_INPUT, and the loader passes the error on; no leak', async () => {
    const before = tf.memory().numTensors;
    const h = filesHandler([layerFiles[0], layerFiles[1]]);
    await expect(h.load!()).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringContaining(SHARD2) });
    await expect(loadUserClassifier(layersSpec, filesHandler([layerFiles[0]]))).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringContaining(SHARD1) });
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('a graph model as files (MobileNet converted format)', () => {
  // The same tiny graph as tests/core/models/user-model.test.ts (tests/helpers/tiny-graph.ts).
  const { H, W, C, K, N } = TINY_GRAPH;
  const { w, b, shape } = tinyGraphWeights();
  const modelTopology = TINY_GRAPH_TOPOLOGY;
  const u8 = (a: Float32Array | Int32Array): Uint8Array => new Uint8Array(a.buffer.slice(0));
  /** Converter-style: the weights in two groups, one shard each. */
  const files = (withFormat: boolean): ModelFile[] => [
    {
      name: 'model.json',
      bytes: enc({
        ...(withFormat ? { format: 'graph-model', generatedBy: '2.0.0', convertedBy: 'TensorFlow.js Converter v4.22.0' } : {}),
        modelTopology,
        weightsManifest: [
          { paths: ['group1-shard1of1.bin'], weights: [{ name: 'w', shape: [N, K + 1], dtype: 'float32' }] },
          { paths: ['group2-shard1of1.bin'], weights: [{ name: 'b', shape: [K + 1], dtype: 'float32' }, { name: 'shape', shape: [2], dtype: 'int32' }] },
        ],
      }),
    },
    { name: 'group2-shard1of1.bin', bytes: new Uint8Array([...u8(b), ...u8(shape)]) },
    { name: 'group1-shard1of1.bin', bytes: u8(w) },
  ];
  const spec = validateUserModelSpec({ id: 'user:graph-files', format: 'graph', inputShape: [H, W, C], inputRange: { min: -1, max: 1 }, classNames: ['a', 'b', 'c', 'd'], output: 'logits', classOffset: 1 });

  it("modelFormatOf says 'graph' from the format field and from the node list", () => {
    expect(modelFormatOf(files(true))).toBe('graph');
    expect(modelFormatOf(files(false))).toBe('graph');
  });

  it('loads through filesHandler with the same scores as the graph computed by hand (background dropped); no leak', async () => {
    const before = tf.memory().numTensors;
    const m = await loadUserClassifier(spec, filesHandler(files(true)));
    const x = tf.tensor4d(Float32Array.from({ length: N }, (_, i) => Math.cos(i) * 0.5), [1, H, W, C]);
    const z = m.logits(x);
    expect(z.shape).toEqual([1, K]);
    const xs = x.dataSync();
    const want = Array.from({ length: K }, (_, k) => Array.from(xs).reduce((s, v, i) => s + v * w[i * (K + 1) + k + 1], b[k + 1]));
    Array.from(z.dataSync()).forEach((v, k) => expect(v).toBeCloseTo(want[k], 4));
    tf.dispose([x, z]);
    m.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a size mismatch in the second group names its file and both numbers', () => {
    const f = files(true);
    f[1] = { name: f[1].name, bytes: f[1].bytes.slice(0, 20) };
    const msg = badInput(() => artifactsFromFiles(f));
    expect(msg).toMatch('"group2-shard1of1.bin" holds 20 bytes');
    expect(msg).toMatch(`need ${(K + 1) * 4 + 8} bytes`);
  });

  it("modelFormatOf is null when the topology says neither, and 'layers' for a Keras topology without a format field", () => {
    expect(modelFormatOf([{ name: 'm.json', bytes: enc({ modelTopology: { foo: 1 }, weightsManifest: [] }) }])).toBeNull();
    expect(modelFormatOf([{ name: 'm.json', bytes: enc({ modelTopology: { class_name: 'Sequential', config: {} }, weightsManifest: [] }) }])).toBe('layers');
    expect(modelFormatOf([...files(true), { name: 'b.json', bytes: enc({}) }])).toBeNull();
  });
});
