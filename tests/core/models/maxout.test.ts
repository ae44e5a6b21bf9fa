import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { float32ToFloat16Bits, loadLayersModelFromDir, saveLayersModel } from '../../../src/cli/model-io';
import { Maxout, maxout, registerMaxout } from '../../../src/core/models/maxout';

/** Maxout layer (Goodfellow et al. 2013/2015) and quantized saving of LayersModels. */
beforeAll(async () => {
  await tf.setBackend('cpu');
});

function smallNet(seed: number): tf.LayersModel {
  const input = tf.input({ shape: [4, 4, 1] });
  const flat = tf.layers.flatten().apply(input) as tf.SymbolicTensor;
  const h1 = maxout({ units: 6, pieces: 3, kernelInitializer: tf.initializers.glorotUniform({ seed }) }).apply(flat) as tf.SymbolicTensor;
  const h2 = maxout({ units: 5, pieces: 2, kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) }).apply(h1) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 2 }) }).apply(h2) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out });
}

function inputs(n: number): tf.Tensor4D {
  return tf.tensor4d(Array.from({ length: n * 16 }, (_, i) => ((i * 37) % 101) / 100), [n, 4, 4, 1]);
}

describe('Maxout layer', () => {
  it('takes the max over each unit’s pieces (hand-made case)', () => {
    const layer = new Maxout({ units: 2, pieces: 3 });
    layer.build([null, 2]);
    // columns: unit 0 = pieces 0..2, unit 1 = pieces 3..5
    const kernel = tf.tensor2d([[1, -1, 0, 2, 0, -3], [0, 1, 2, 0, -1, 1]]);
    const bias = tf.tensor1d([0, 0, -1, 0.5, 0, 0]);
    layer.setWeights([kernel, bias]);
    const x = tf.tensor2d([[1, 2], [-1, 0.5]]);
    const y = layer.apply(x) as tf.Tensor;
    // row 0: z = [1, 1, 3, 2.5, -2, -1] → [3, 2.5]; row 1: z = [-1, 1.5, 0, -1.5, -0.5, 3.5] → [1.5, 3.5]
    expect(y.shape).toEqual([2, 2]);
    const got = y.arraySync() as number[][];
    expect(got[0][0]).toBeCloseTo(3, 6);
    expect(got[0][1]).toBeCloseTo(2.5, 6);
    expect(got[1][0]).toBeCloseTo(1.5, 6);
    expect(got[1][1]).toBeCloseTo(3.5, 6);
    expect(layer.computeOutputShape([null, 2])).toEqual([null, 2]);
  });

  it('lets gradients flow to the input and to the winning pieces only', () => {
    const layer = new Maxout({ units: 2, pieces: 3 });
    layer.build([null, 2]);
    layer.setWeights([tf.tensor2d([[1, -1, 0, 2, 0, -3], [0, 1, 2, 0, -1, 1]]), tf.tensor1d([0, 0, -1, 0.5, 0, 0])]);
    const x = tf.tensor2d([[1, 2]]);
    const gx = tf.grad((xi: tf.Tensor) => tf.sum(layer.apply(xi) as tf.Tensor))(x);
    // winners: unit 0 piece 2 (w = [0, 2]), unit 1 piece 0 (w = [2, 0]) → dy/dx = [2, 2]
    expect(Array.from(gx.dataSync())).toEqual([2, 2]);
    const { grads } = tf.variableGrads(() => tf.sum(layer.apply(x) as tf.Tensor) as tf.Scalar,
      layer.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val));
    const gk = Object.values(grads)[0].arraySync() as number[][];
    expect(gk).toEqual([[0, 0, 1, 1, 0, 0], [0, 0, 2, 2, 0, 0]]);
  });

  it('serializes: a save/load round trip through memory gives identical outputs', async () => {
    registerMaxout();
    registerMaxout(); // idempotent
    const model = smallNet(3);
    const x = inputs(5);
    const before = (model.predict(x) as tf.Tensor).arraySync();
    let saved: tf.io.ModelArtifacts | null = null;
    await model.save(tf.io.withSaveHandler(async (a) => {
      saved = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }));
    expect(saved).not.toBeNull();
    expect(JSON.stringify((saved as unknown as tf.io.ModelArtifacts).modelTopology)).toContain('"class_name":"Maxout"');
    const loaded = await tf.loadLayersModel(tf.io.fromMemory(saved as unknown as tf.io.ModelArtifacts));
    const after = (loaded.predict(x) as tf.Tensor).arraySync();
    expect(after).toEqual(before);
    const cfg = loaded.layers.find((l) => l.getClassName() === 'Maxout')?.getConfig();
    expect(cfg?.units).toBe(6);
    expect(cfg?.pieces).toBe(3);
  });
});

describe('saveLayersModel quantization', () => {
  const dir = mkdtempSync(join(tmpdir(), 'maxout-q-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('float32 → float16 bits', () => {
    expect(float32ToFloat16Bits(1)).toBe(0x3c00);
    expect(float32ToFloat16Bits(-2)).toBe(0xc000);
    expect(float32ToFloat16Bits(65504)).toBe(0x7bff);
    expect(float32ToFloat16Bits(1e6)).toBe(0x7c00);
    expect(float32ToFloat16Bits(0)).toBe(0);
    expect(float32ToFloat16Bits(2 ** -24)).toBe(1); // smallest subnormal
    expect(float32ToFloat16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie → even
    expect(float32ToFloat16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie → even (up)
  });

  it.each(['float16', 'uint8'] as const)('%s: smaller files that both loaders dequantize', async (q) => {
    const model = smallNet(7);
    const x = inputs(8);
    const ref = model.predict(x) as tf.Tensor;
    const plainDir = join(dir, `plain-${q}`);
    const qDir = join(dir, q);
    const plain = await saveLayersModel(model, plainDir);
    const quant = await saveLayersModel(model, qDir, { quantize: q });
    const wPlain = readFileSync(join(plainDir, 'weights.bin')).byteLength;
    const wQuant = readFileSync(join(qDir, 'weights.bin')).byteLength;
    expect(wQuant * (q === 'float16' ? 2 : 4)).toBe(wPlain);
    expect(quant.bytes).toBeLessThan(plain.bytes);
    const manifest = JSON.parse(readFileSync(join(qDir, 'model.json'), 'utf8')) as tf.io.ModelJSON;
    for (const w of manifest.weightsManifest[0].weights) {
      expect(w.dtype).toBe('float32');
      expect(w.quantization?.dtype).toBe(q);
    }
    const tol = q === 'float16' ? 1e-2 : 0.1;
    // Node loader
    const fromDir = await loadLayersModelFromDir(qDir);
    const d1 = tf.max(tf.abs(tf.sub(fromDir.predict(x) as tf.Tensor, ref))).dataSync()[0];
    expect(d1).toBeLessThan(tol);
    expect(d1).toBeGreaterThan(0);
    // URL-style loader (what the extension does), through a fetch function that reads the folder
    const fetchFunc = async (input: URL | RequestInfo): Promise<Response> =>
      new Response(readFileSync(join(qDir, new URL(String(input)).pathname.slice(1))));
    const fromUrl = await tf.loadLayersModel('http://models.test/model.json', { fetchFunc });
    const d2 = tf.max(tf.abs(tf.sub(fromUrl.predict(x) as tf.Tensor, fromDir.predict(x) as tf.Tensor))).dataSync()[0];
    expect(d2).toBe(0);
  });

  it('without options keeps float32 weights exactly', async () => {
    const model = smallNet(9);
    const x = inputs(4);
    await saveLayersModel(model, join(dir, 'exact'));
    const loaded = await loadLayersModelFromDir(join(dir, 'exact'));
    expect((loaded.predict(x) as tf.Tensor).arraySync()).toEqual((model.predict(x) as tf.Tensor).arraySync());
    const manifest = JSON.parse(readFileSync(join(dir, 'exact', 'model.json'), 'utf8')) as tf.io.ModelJSON;
    expect(manifest.weightsManifest[0].weights.every((w) => w.quantization == null)).toBe(true);
  });
});
