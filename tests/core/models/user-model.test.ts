import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { useNodeBackend } from '../../../src/cli/backend';
import { fgsm } from '../../../src/core/attacks/fgsm';
import { TINY_GRAPH, TINY_GRAPH_TOPOLOGY, tinyGraphWeights } from '../../helpers/tiny-graph';
import { loadUserClassifier, MOBILENET_V2, parseImageNetLabels, validateUserModelSpec, type UserModelSpec } from '../../../src/core/models/user-model';

/**
 * Bring-your-own models: a tiny GraphModel in the same format as tfhub's MobileNet v2 (a converted TF graph:
 * Placeholder → … → logits with a leading "background" class), and a LayersModel, both from memory (no network).
 */
const { H, W, C, K, N } = TINY_GRAPH;
const weights = tinyGraphWeights;

/** The graph from memory, as tf.io would read it from the converter's files. */
function graphHandler(): tf.io.IOHandler {
  const { w, b, shape } = weights();
  const modelTopology = TINY_GRAPH_TOPOLOGY;
  const data = new Uint8Array(w.byteLength + b.byteLength + shape.byteLength);
  data.set(new Uint8Array(w.buffer), 0);
  data.set(new Uint8Array(b.buffer), w.byteLength);
  data.set(new Uint8Array(shape.buffer), w.byteLength + b.byteLength);
  return tf.io.fromMemory({
    modelTopology,
    format: 'graph-model',
    weightSpecs: [
      { name: 'w', shape: [N, K + 1], dtype: 'float32' },
      { name: 'b', shape: [K + 1], dtype: 'float32' },
      { name: 'shape', shape: [2], dtype: 'int32' },
    ],
    weightData: data.buffer,
  });
}

const spec = (over: Partial<Record<keyof UserModelSpec, unknown>> = {}): UserModelSpec =>
  validateUserModelSpec({ id: 'user:tiny', format: 'graph', inputShape: [H, W, C], inputRange: { min: -1, max: 1 }, classNames: ['a', 'b', 'c', 'd'], output: 'logits', classOffset: 1, ...over });

beforeAll(async () => {
  await useNodeBackend('wasm');
});

describe('validateUserModelSpec', () => {
  it('accepts a full description and fills defaults (classOffset 0, preprocess resize)', () => {
    const s = validateUserModelSpec({ id: 'x', format: 'layers', inputShape: [28, 28, 1], inputRange: { min: 0, max: 1 }, classNames: ['0', '1'], output: 'probs' });
    expect(s).toMatchObject({ classOffset: 0, preprocess: 'resize', inputShape: [28, 28, 1] });
  });
  it.each([
    ['not an object', 5],
    ['bad id', { ...spec(), id: '../etc' }],
    ['bad format', { ...spec(), format: 'onnx' }],
    ['2 channels', { ...spec(), inputShape: [6, 6, 2] }],
    ['huge side', { ...spec(), inputShape: [5000, 6, 3] }],
    ['empty range', { ...spec(), inputRange: { min: 1, max: 1 } }],
    ['one class', { ...spec(), classNames: ['a'] }],
    ['non-string class', { ...spec(), classNames: ['a', 3] }],
    ['bad output', { ...spec(), output: 'softmax' }],
    ['bad offset', { ...spec(), classOffset: -1 }],
  ])('rejects %s with BAD_INPUT', (_, raw) => {
    expect(() => validateUserModelSpec(raw)).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }));
  });
});

describe('loadUserClassifier', () => {
  it('a graph model (MobileNet format: leading background class) becomes a Classifier whose logits drop that class; FGSM runs on it; no leak', async () => {
    const before = tf.memory().numTensors;
    const m = await loadUserClassifier(spec(), graphHandler());
    const x = tf.tensor4d(Float32Array.from({ length: N }, (_, i) => Math.cos(i) * 0.5), [1, H, W, C]);
    const z = m.logits(x);
    expect(z.shape).toEqual([1, K]);
    // The same scores as the graph computed by hand, without the first column.
    const { w, b } = weights();
    const xs = x.dataSync();
    const want = Array.from({ length: K }, (_, k) => Array.from(xs).reduce((s, v, i) => s + v * w[i * (K + 1) + k + 1], b[k + 1]));
    Array.from(z.dataSync()).forEach((v, k) => expect(v).toBeCloseTo(want[k], 4));
    const adv = fgsm(m, x, { eps: 0.1 });
    const d = tf.tidy(() => tf.max(tf.abs(tf.sub(adv, x))).dataSync()[0]);
    expect(d).toBeCloseTo(0.1, 5);
    tf.dispose([x, z, adv]);
    m.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a description that does not fit the model is refused with BAD_INPUT and frees the model', async () => {
    const before = tf.memory().numTensors;
    // Five classes named but only four outputs after the offset.
    await expect(loadUserClassifier(spec({ classNames: ['a', 'b', 'c', 'd', 'e'] }), graphHandler())).rejects.toMatchObject({ code: 'BAD_INPUT' });
    // Wrong input size: the graph's Reshape cannot take it.
    await expect(loadUserClassifier(spec({ inputShape: [7, 7, 3] }), graphHandler())).rejects.toMatchObject({ code: 'BAD_INPUT' });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a layers model by handler, with probabilities as output; and an address that does not load gives MODEL_LOAD_FAILED', async () => {
    const net = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [H, W, C] }), tf.layers.dense({ units: 3, activation: 'softmax' })] });
    let saved: tf.io.ModelArtifacts | undefined;
    await net.save(tf.io.withSaveHandler(async (a) => {
      saved = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }));
    net.dispose();
    const m = await loadUserClassifier(validateUserModelSpec({ id: 'user:layers', format: 'layers', inputShape: [H, W, C], inputRange: { min: 0, max: 1 }, classNames: ['x', 'y', 'z'], output: 'probs' }), tf.io.fromMemory(saved!));
    const p = tf.tidy(() => tf.softmax(m.logits(tf.fill([2, H, W, C], 0.5) as tf.Tensor4D)));
    expect(p.shape).toEqual([2, 3]);
    expect(p.sum().dataSync()[0]).toBeCloseTo(2, 4);
    p.dispose();
    m.dispose();
    await expect(loadUserClassifier(spec(), 'http://127.0.0.1:9/none/model.json')).rejects.toMatchObject({ code: 'MODEL_LOAD_FAILED' });
  });
});

describe('MobileNet v2 description', () => {
  it('takes 224×224×3 in [−1, 1] with a leading background class; the labels parser drops "background"', () => {
    const names = parseImageNetLabels(['background', 'tench', 'goldfish', 'great white shark', ''].join('\n'));
    expect(names).toEqual(['tench', 'goldfish', 'great white shark']);
    const s = MOBILENET_V2.spec(names);
    expect(s).toMatchObject({ format: 'graph', inputShape: [224, 224, 3], inputRange: { min: -1, max: 1 }, classOffset: 1, preprocess: 'resize' });
    expect(MOBILENET_V2.note).toMatch(/MB/);
    expect(() => parseImageNetLabels('x\ny')).toThrow(expect.objectContaining({ code: 'MODEL_LOAD_FAILED' }));
  });
});
