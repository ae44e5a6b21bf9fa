import * as tf from '@tensorflow/tfjs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useNodeBackend } from '../../src/cli/backend';
import { dirLayersHandler } from '../../src/cli/model-io';
import { loadShippedClassifier, MODELS_DIR } from '../../src/cli/models';
import { decodePng } from '../../src/cli/png';
import { ProbeService, type ServiceDeps } from '../../src/background/service';
import { clearUserModels, MOBILENET_MODEL_JSON, type UserModelLoader } from '../../src/background/user-models';
import { ProbeError } from '../../src/core/errors';
import type { UserModelWireSpec } from '../../src/core/lab/user-source';
import type { Classifier } from '../../src/core/models/types';
import { loadUserClassifier, MOBILENET_V2, type UserModelSpec } from '../../src/core/models/user-model';
import { classifyOne } from '../../src/core/probe';
import { base64ToBytes } from '../../src/protocol/base64';
import { captureDigit } from '../helpers/service';

/**
 * A user model through the service: the shipped mnist-softmax files loaded as a user LayersModel (from
 * disk: no network) with a description typed as a user would, the tab's page image preprocessed for it
 * and the tab's FGSM run on it; MobileNet's class list and address without a download; tensors freed.
 */
let lenet: Classifier;

beforeAll(async () => {
  await useNodeBackend('wasm');
  lenet = await loadShippedClassifier('mnist-lenet');
}, 120_000);
afterAll(() => {
  clearUserModels();
  lenet?.dispose();
});

function deps(): ServiceDeps {
  return {
    capture: captureDigit,
    model: async () => lenet,
    backend: async () => 'wasm',
    persist: () => undefined,
    now: () => 1000,
  };
}

const SPEC: UserModelWireSpec = {
  id: 'user:softmax', format: 'layers', inputShape: [28, 28, 1], inputRange: { min: 0, max: 1 },
  classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'], output: 'logits', classOffset: 0, preprocess: 'mnist',
};

function diskLoader(calls: { spec: UserModelSpec; url: string }[]): UserModelLoader {
  return {
    load: async (spec, url) => {
      calls.push({ spec, url });
      return loadUserClassifier(spec, dirLayersHandler(join(MODELS_DIR, 'mnist-softmax')));
    },
    fetchText: async () => {
      throw new Error('no network in tests');
    },
  };
}

describe('ProbeService.userModel', () => {
  it('loads the described model once, runs the tab’s attack on the page image, and frees the tensors of a run', async () => {
    const svc = new ProbeService(deps());
    const st = await svc.probeImage({ tabId: 2, frameId: 0, srcUrl: 'http://x/d0.png', pageUrl: '' });
    const calls: { spec: UserModelSpec; url: string }[] = [];
    const loader = diskLoader(calls);
    const source = { kind: 'url', url: 'http://127.0.0.1:1/softmax/model.json', spec: SPEC } as const;
    const v = await svc.userModel(2, source, loader);
    expect(calls).toHaveLength(1);
    expect(calls[0].url).toBe(source.url);
    expect(v.modelId).toBe('user:softmax');
    expect(v.classes).toBe(10);
    expect(v.clean[0].className).toBe('7');
    expect(v.attack).toBe('fgsm');
    expect(v.distances.linf).toBeLessThanOrEqual(0.25 + 1e-5);
    expect(v.success).toBe(v.adversarial[0].label !== v.clean[0].label);
    expect(v.preprocess).toContain('MNIST-style');
    // What the model sees, as PNG: the page image preprocessed exactly as for the shipped MNIST models.
    const seen = decodePng(base64ToBytes(v.inputPngBase64));
    const levels = Array.from({ length: 784 }, (_, i) => seen.data[i * 4]);
    const shipped = st.result!.input.pixels.map((p) => Math.round(Math.min(1, Math.max(0, p)) * 255));
    expect(levels).toEqual(shipped);
    // The model agrees with itself loaded as a shipped model.
    const softmax = await loadShippedClassifier('mnist-softmax');
    const p = await classifyOne(softmax, Float32Array.from(st.result!.input.pixels));
    softmax.dispose();
    expect(v.clean[0].prob).toBeCloseTo(p.probs[p.label], 4);
    // A second run reuses the loaded model and leaves no tensor behind.
    const before = tf.memory().numTensors;
    const again = await svc.userModel(2, source, loader);
    expect(tf.memory().numTensors).toBe(before);
    expect(calls).toHaveLength(1);
    expect(again.clean).toEqual(v.clean);
  });

  it('a description that does not fit the model: BAD_INPUT from the loader’s check; not kept', async () => {
    const svc = new ProbeService(deps());
    await svc.probeImage({ tabId: 3, frameId: 0, srcUrl: 'http://x/d0.png', pageUrl: '' });
    const calls: { spec: UserModelSpec; url: string }[] = [];
    const wrong = { kind: 'url', url: 'http://127.0.0.1:1/softmax2/model.json', spec: { ...SPEC, classNames: ['a', 'b', 'c'] } } as const;
    await expect(svc.userModel(3, wrong, diskLoader(calls))).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(svc.userModel(3, wrong, diskLoader(calls))).rejects.toMatchObject({ code: 'BAD_INPUT' });
    expect(calls).toHaveLength(2);
  });

  it('MobileNet: the class list is fetched first, then the model from its address with 1,000 classes after the background output', async () => {
    const svc = new ProbeService(deps());
    await svc.probeImage({ tabId: 4, frameId: 0, srcUrl: 'http://x/d0.png', pageUrl: '' });
    const asked: string[] = [];
    const loaded: { spec: UserModelSpec; url: string }[] = [];
    const loader: UserModelLoader = {
      fetchText: async (url) => {
        asked.push(url);
        return ['background', ...Array.from({ length: 1000 }, (_, i) => `class ${i}`)].join('\n');
      },
      load: async (spec, url) => {
        loaded.push({ spec, url });
        throw new ProbeError('MODEL_LOAD_FAILED', 'no network in tests');
      },
    };
    await expect(svc.userModel(4, { kind: 'mobilenet', consent: true }, loader)).rejects.toMatchObject({ code: 'MODEL_LOAD_FAILED' });
    expect(asked).toEqual([MOBILENET_V2.labelsUrl]);
    expect(loaded[0].url).toBe(MOBILENET_MODEL_JSON);
    expect(loaded[0].spec.inputShape).toEqual([224, 224, 3]);
    expect(loaded[0].spec.classNames).toHaveLength(1000);
    expect(loaded[0].spec.classOffset).toBe(1);
  });

  it('NO_RESULT before a probe', async () => {
    const svc = new ProbeService(deps());
    await expect(svc.userModel(8, { kind: 'mobilenet', consent: true }, diskLoader([]))).rejects.toMatchObject({ code: 'NO_RESULT' });
  });
});
