import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useNodeBackend } from '../../src/cli/backend';
import { loadShippedClassifier } from '../../src/cli/models';
import { decodePng } from '../../src/cli/png';
import { ProbeService, type ServiceDeps } from '../../src/background/service';
import type { Classifier } from '../../src/core/models/types';
import { classifyOne } from '../../src/core/probe';
import { base64ToBytes } from '../../src/protocol/base64';
import { captureDigit } from '../helpers/service';

/**
 * The export and adversarial-training computations of the service on the real shipped models and real
 * MNIST test digits (wasm): the exported PNG re-classified here, the comparison's numbers against the
 * models run directly, tensors back to baseline, NO_RESULT and CANCELLED.
 */
const cache = new Map<string, Promise<Classifier>>();

beforeAll(async () => {
  await useNodeBackend('wasm');
}, 120_000);

afterAll(async () => {
  for (const p of cache.values()) (await p).dispose();
});

function model(id: string): Promise<Classifier> {
  let p = cache.get(id);
  if (!p) {
    p = loadShippedClassifier(id);
    cache.set(id, p);
  }
  return p;
}

function deps(): ServiceDeps {
  return {
    capture: captureDigit,
    model,
    backend: async () => 'wasm',
    persist: () => undefined,
    now: () => 1000,
  };
}

describe('ProbeService export', () => {
  it('exports the FGSM adversarial as a PNG whose decoded bytes the model still misclassifies; tensors freed', async () => {
    const svc = new ProbeService(deps());
    const st = await svc.probeImage({ tabId: 5, frameId: 0, srcUrl: 'http://x/d0.png', pageUrl: '' });
    expect(st.status).toBe('done');
    await model('mnist-lenet');
    const before = tf.memory().numTensors;
    const ex = await svc.exportAdversarial(5);
    expect(tf.memory().numTensors).toBe(before);
    expect(ex.resultId).toBe(st.result!.id);
    expect([ex.width, ex.height, ex.channels]).toEqual([28, 28, 1]);
    // FGSM at ε = 0.25, untargeted: the bytes must not be the clean class, within the ε-ball.
    expect(ex.goal).toEqual({ label: st.result!.prediction.label, targeted: false });
    expect(ex.maxLinf).toBe(0.25);
    const img = decodePng(base64ToBytes(ex.pngBase64));
    const x = Float32Array.from({ length: 784 }, (_, i) => img.data[i * 4] / 255);
    const again = await classifyOne(await model('mnist-lenet'), x);
    expect(again.label).toBe(ex.predicted);
    expect(again.className).toBe(ex.predictedClass);
    expect(ex.success).toBe(again.label !== st.result!.prediction.label);
    if (st.result!.attack.success) expect(ex.success).toBe(true);
    expect(ex.linf).toBeLessThanOrEqual(0.25 + 1e-6);
    console.log(`service export: ${ex.method}, exported ${ex.predictedClass} @ ${ex.confidence.toFixed(3)} (clean ${st.result!.prediction.className})`);
  });

  it('NO_RESULT before a probe; CANCELLED when cancelled while queued', async () => {
    const svc = new ProbeService(deps());
    await expect(svc.exportAdversarial(9)).rejects.toMatchObject({ code: 'NO_RESULT' });
    await svc.probeImage({ tabId: 9, frameId: 0, srcUrl: 'http://x/d1.png', pageUrl: '' });
    const p = svc.exportAdversarial(9);
    expect(svc.labProgress(9).kind).toBe('export');
    svc.cancelLab(9);
    await expect(p).rejects.toMatchObject({ code: 'CANCELLED' });
  });
});

describe('ProbeService adversarial training', () => {
  it('a 7: maxout vs maxout-adv and lr-3v7 vs lr-3v7-adv, each crafted on itself; the weights and FGSM example of lr-3v7; tensors freed', async () => {
    const svc = new ProbeService(deps());
    const st = await svc.probeImage({ tabId: 6, frameId: 0, srcUrl: 'http://x/d0.png', pageUrl: '' });
    expect(st.result!.prediction.className).toBe('7');
    await Promise.all(['mnist-maxout', 'mnist-maxout-adv', 'mnist-lr-3v7', 'mnist-lr-3v7-adv'].map(model));
    const before = tf.memory().numTensors;
    const v = await svc.adversarialTraining(6);
    expect(tf.memory().numTensors).toBe(before);
    expect(v.maxout.base.modelId).toBe('mnist-maxout');
    expect(v.maxout.trained.modelId).toBe('mnist-maxout-adv');
    expect(v.lr?.base.modelId).toBe('mnist-lr-3v7');
    expect(v.lr?.trained.modelId).toBe('mnist-lr-3v7-adv');
    const input = Float32Array.from(st.result!.input.pixels);
    for (const s of [v.maxout.base, v.maxout.trained, v.lr!.base, v.lr!.trained]) {
      const m = await model(s.modelId);
      const clean = await classifyOne(m, input);
      expect(s.clean.label).toBe(clean.label);
      expect(s.clean.confidence).toBeCloseTo(clean.probs[clean.label], 4);
      const adv = await classifyOne(m, Float32Array.from(s.image.pixels));
      expect(s.adversarial.label).toBe(adv.label);
      expect(s.success).toBe(adv.label !== clean.label);
      expect(s.linf).toBeLessThanOrEqual(0.25 + 1e-5);
    }
    expect(v.lrWeights.values).toHaveLength(784);
    expect(v.lrFgsm.eps).toBe(0.25);
    expect(v.lrNote).toBeNull();
    console.log(`adv training (7, FGSM 0.25): maxout ${v.maxout.base.adversarial.className}/${v.maxout.base.success}, maxout-adv ${v.maxout.trained.adversarial.className}/${v.maxout.trained.success}, lr ${v.lr!.base.success}, lr-adv ${v.lr!.trained.success}`);
  });

  it('a 2: no 3-vs-7 pair, with the reason', async () => {
    const svc = new ProbeService({ ...deps() });
    const st = await svc.probeImage({ tabId: 7, frameId: 0, srcUrl: 'http://x/d1.png', pageUrl: '' });
    expect(st.result!.prediction.className).toBe('2');
    const v = await svc.adversarialTraining(7);
    expect(v.lr).toBeNull();
    expect(v.lrNote).toContain('2');
    expect(v.maxout.base.clean.className).toBe('2');
  });
});
