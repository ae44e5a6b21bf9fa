import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useNodeBackend } from '../../src/cli/backend';
import { loadShippedClassifier } from '../../src/cli/models';
import { logitJacobian, saliencyMapFromJacobian } from '../../src/background/saliency';
import { ProbeService, type ServiceDeps } from '../../src/background/service';
import { ProbeError } from '../../src/core/errors';
import { adversarialDistances } from '../../src/core/metrics/adversarial-distance';
import type { Classifier } from '../../src/core/models/types';
import { captureDigit } from '../helpers/service';

/** The lab's saliency request on the real shipped mnist-lenet and real MNIST test digits (wasm backend). */
let lenet: Classifier;

beforeAll(async () => {
  await useNodeBackend('wasm');
  lenet = await loadShippedClassifier('mnist-lenet');
}, 120_000);

afterAll(() => lenet.dispose());

function deps(): ServiceDeps {
  return {
    capture: captureDigit,
    model: async () => lenet,
    backend: async () => 'wasm',
    persist: () => undefined,
    now: () => 1000,
  };
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return e instanceof ProbeError ? e.code : 'not a ProbeError';
  }
}

describe('probe/saliency in the service (real mnist-lenet)', () => {
  it('S(X, t) and A(X, t) of the probed digit: A agrees with the core metric, S > 0 exactly where A counts; tensors back to baseline', async () => {
    const svc = new ProbeService(deps());
    const st = await svc.probeImage({ tabId: 5, frameId: 0, srcUrl: 'http://x/d0.png', pageUrl: '' });
    const label = st.result!.prediction.label;
    const target = (label + 3) % 10;
    const before = tf.memory().numTensors;
    const v = await svc.saliency(5, target);
    expect(tf.memory().numTensors).toBe(before);
    expect(v.resultId).toBe(st.result!.id);
    expect([v.label, v.target, v.width, v.height, v.map.length]).toEqual([label, target, 28, 28, 784]);
    expect(v.map.every((s) => Number.isFinite(s) && s >= 0)).toBe(true);
    expect(v.positive).toBe(v.map.filter((s) => s > 0).length);
    expect(v.positive).toBeGreaterThan(0);
    expect(v.distances.map((d) => d.target)).toEqual([...Array(10).keys()].filter((t) => t !== label));
    // The same numbers as `probe reproduce`'s adversarial distance (src/core/metrics/adversarial-distance.ts) on this input.
    const input = Float32Array.from(st.result!.input.pixels);
    const x = tf.tensor4d(input, [1, 28, 28, 1]);
    const core = await adversarialDistances(lenet, x);
    x.dispose();
    for (const d of v.distances) expect(d.distance).toBeCloseTo(core[d.target], 12);
    expect(v.distances.find((d) => d.target === target)!.distance).toBeCloseTo(1 - v.positive / 784, 12);
    // The map is the definition applied to the logit Jacobian.
    const jac = await logitJacobian(lenet, input);
    expect(tf.memory().numTensors).toBe(before);
    expect(v.map).toEqual(Array.from(saliencyMapFromJacobian(jac, 10, target)));
    const i = v.map.findIndex((s) => s > 0);
    let others = 0;
    for (let c = 0; c < 10; c++) if (c !== target) others += jac[c * 784 + i];
    expect(jac[target * 784 + i]).toBeGreaterThan(0);
    expect(others).toBeLessThan(0);
    expect(v.map[i]).toBeCloseTo(jac[target * 784 + i] * -others, 6);
  }, 60_000);

  it('bad targets are BAD_INPUT, no probe is NO_RESULT, a cancel is CANCELLED; tensors back to baseline', async () => {
    const svc = new ProbeService(deps());
    expect(await code(svc.saliency(6, 1))).toBe('NO_RESULT');
    const st = await svc.probeImage({ tabId: 6, frameId: 0, srcUrl: 'http://x/d1.png', pageUrl: '' });
    const before = tf.memory().numTensors;
    expect(await code(svc.saliency(6, st.result!.prediction.label))).toBe('BAD_INPUT');
    expect(await code(svc.saliency(6, 10))).toBe('BAD_INPUT');
    const p = svc.saliency(6, (st.result!.prediction.label + 1) % 10);
    expect(svc.labProgress(6).kind).toBe('saliency');
    svc.cancelLab(6);
    expect(await code(p)).toBe('CANCELLED');
    expect(tf.memory().numTensors).toBe(before);
  }, 60_000);
});
