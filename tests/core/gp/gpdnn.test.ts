import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeGp, encodeGp, GP_BIN, parseGpJson, type GpHead } from '../../../src/core/gp/io';
import { svgpPredict } from '../../../src/core/gp/svgp';
import type { ModelFiles } from '../../../src/core/models/files';
import { GPDNN_FEATURES_JSON, GPDNN_GP_JSON, loadGpdnn } from '../../../src/core/models/gpdnn';
import { randomImages } from '../../helpers/tiny';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const M = 6;
const D = 5;
const C = 10;

function tinyFeatures(): tf.LayersModel {
  const init = (s: number) => tf.initializers.glorotUniform({ seed: s });
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 2, kernelSize: 5, strides: 3, activation: 'relu', kernelInitializer: init(1) }),
      tf.layers.flatten(),
      tf.layers.dense({ units: D, activation: 'relu', kernelInitializer: init(2) }),
    ],
  });
}

function tinyHead(): GpHead {
  const r = (n: number, s: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.7 + s));
  const tril = tf.mul(tf.tensor3d(r(C * M * M, 3), [C, M, M]), tf.expandDims(tf.linalg.bandPart(tf.ones([M, M]), -1, 0), 0));
  return {
    params: {
      z: tf.tensor2d(r(M * D, 1), [M, D]),
      qMu: tf.tensor2d(r(M * C, 2), [M, C]),
      qSqrt: tf.add(tril, tf.mul(tf.eye(M), 2)) as tf.Tensor3D,
      kernel: { lengthscale: 1.3, variance: 2.5 },
      jitter: 1e-5,
    },
    beta: 0.01,
    quadraturePoints: 20,
    featureLayer: 'dense',
  };
}

/** In-memory ModelFiles holding a saved feature extractor and an encoded GP. */
async function memoryFiles(features: tf.LayersModel, head: GpHead): Promise<ModelFiles> {
  let artifacts: tf.io.ModelArtifacts | undefined;
  await features.save(tf.io.withSaveHandler(async (a) => {
    artifacts = a;
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  const { json, bin } = encodeGp(head);
  const text = JSON.parse(JSON.stringify(json)) as unknown;
  return {
    layers: (path) => {
      expect(path).toBe(GPDNN_FEATURES_JSON);
      return tf.io.fromMemory(artifacts!);
    },
    bytes: async (path) => {
      expect(path).toBe(GP_BIN);
      return bin.slice();
    },
    json: async (path) => {
      expect(path).toBe(GPDNN_GP_JSON);
      return text;
    },
  };
}

describe('GPDNN (Bradshaw et al.) model and file format', () => {
  it('gp.json + gp.bin round-trip exactly (packed lower triangles)', () => {
    const head = tinyHead();
    const { json, bin } = encodeGp(head);
    expect(bin.byteLength).toBe(4 * (M * D + M * C + C * M * (M + 1) / 2));
    const back = decodeGp(parseGpJson(JSON.parse(JSON.stringify(json))), bin);
    expect(Array.from(back.params.z.dataSync())).toEqual(Array.from(head.params.z.dataSync()));
    expect(Array.from(back.params.qMu.dataSync())).toEqual(Array.from(head.params.qMu.dataSync()));
    const masked = tf.mul(head.params.qSqrt, tf.expandDims(tf.linalg.bandPart(tf.ones([M, M]), -1, 0), 0));
    expect(Array.from(back.params.qSqrt.dataSync())).toEqual(Array.from(masked.dataSync()));
    expect(back.params.kernel).toEqual({ lengthscale: 1.3, variance: 2.5 });
    expect(() => parseGpJson({ format: 'other' })).toThrow();
    expect(() => decodeGp(json, bin.slice(4))).toThrow(/bytes/);
  });

  it('loadGpdnn gives an Uncertain: logits = predictive mean, differentiable; probs sum to 1; variance > 0', async () => {
    const features = tinyFeatures();
    const head = tinyHead();
    const x = randomImages(3);
    const ref = svgpPredict(head.params, features.predict(x) as tf.Tensor2D);
    const refMean = ref.mean.dataSync();
    const refVar = ref.variance.dataSync();
    const model = await loadGpdnn('mnist-gpdnn', await memoryFiles(features, head));
    expect(model.inputShape).toEqual([28, 28, 1]);
    expect(model.classNames.length).toBe(10);
    const logits = model.logits(x);
    expect(logits.shape).toEqual([3, 10]);
    logits.dataSync().forEach((v, i) => expect(v).toBeCloseTo(refMean[i], 4));
    const { probs, variance } = model.predictive(x);
    expect(probs.shape).toEqual([3, 10]);
    variance.dataSync().forEach((v, i) => { expect(v).toBeGreaterThan(0); expect(v).toBeCloseTo(refVar[i], 4); });
    const sums = tf.sum(probs, 1).dataSync();
    for (const s of sums) expect(s).toBeCloseTo(1, 5);
    const g = tf.grad((xi: tf.Tensor) => tf.sum(model.logits(xi as tf.Tensor4D)))(x);
    expect(g.shape).toEqual([3, 28, 28, 1]);
    expect(g.dataSync().some((v) => v !== 0)).toBe(true);
    const before = tf.memory().numTensors;
    tf.dispose([model.logits(x), ...Object.values(model.predictive(x))]);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('reports a load failure as MODEL_LOAD_FAILED', async () => {
    const files: ModelFiles = {
      layers: () => tf.io.fromMemory({}),
      bytes: async () => new Uint8Array(0),
      json: async () => ({}),
    };
    await expect(loadGpdnn('mnist-gpdnn', files)).rejects.toMatchObject({ code: 'MODEL_LOAD_FAILED' });
  });
});
