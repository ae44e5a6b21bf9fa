import { resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { installNodeWebGpu } from '../../src/cli/webgpu';
import { serveStatic, type StaticServer } from '../../src/cli/serve';
import type { ProbeState } from '../../src/protocol/types';
import { captureDigit } from '../helpers/service';

/**
 * Checklist row 23 (GPU device lost mid-attack) with a real WebGPU device: Dawn in Node on Mesa llvmpipe. The
 * background's engine selects webgpu (forced: on this machine it would skip a software adapter for wasm), the
 * ProbeService runs a BIM on it, and the test hook destroys the device (`GPUDevice.destroy()`) when the job
 * reports step N. The job must fail with GPU_RESET, never store a result; the engine must fall back to wasm,
 * drop its models (no tensor of the lost device left) and run the next job as a fresh wasm run would.
 * Models are served on loopback from models/ (the engine loads them by URL, as in the extension).
 */
const STEP = 3;
const MODEL = 'mnist-lenet';
const BIM = { attack: 'bim', params: { eps: 0.2, steps: 8 }, target: null } as const;
const WASM_DIR = `${resolve('node_modules/@tensorflow/tfjs-backend-wasm/dist')}/`;

let server: StaticServer | undefined;
afterAll(async () => {
  await server?.close();
});

describe('GPU device lost mid-attack (real Dawn device destroyed at step N)', () => {
  it('fails the job with GPU_RESET within a bounded time, falls back to wasm, frees the lost tensors, and the next job matches a fresh wasm run', async () => {
    // navigator.gpu before the webgpu backend is imported (engine.ts imports it).
    installNodeWebGpu();
    const tf = await import('@tensorflow/tfjs');
    const engine = await import('../../src/background/engine');
    const { ProbeService } = await import('../../src/background/service');
    const { loadShippedClassifier } = await import('../../src/cli/models');
    const { preprocess } = await import('../../src/core/image/preprocess');
    const { attackOne, classifyOne } = await import('../../src/core/probe');
    const { catalogEntry } = await import('../../src/core/models/catalog');
    const { diagnostics } = await import('../../src/background/diagnostics');
    server = await serveStatic('models');
    const folderUrlOf = (id: string): string => `${server!.url}/${id}/`;

    expect((await engine.chooseBackend(WASM_DIR, 'webgpu')).backend).toBe('webgpu');
    expect(engine.gpuHealth()).toMatchObject({ status: 'healthy', backend: 'webgpu', losses: 0 });
    const baseline = tf.memory().numTensors;

    let armed = false;
    let destroyedAt = -1;
    const persisted: ProbeState[] = [];
    let clock = 0;
    const service = new ProbeService({
      capture: captureDigit,
      model: (id) => engine.getModel(id, folderUrlOf),
      backend: async () => (await engine.chooseBackend(WASM_DIR)).backend,
      persist(_tab, st) {
        persisted.push(st);
        // The test hook, at attack step N of the armed job.
        if (armed && st.progress?.done === STEP && destroyedAt < 0) {
          expect(engine.destroyGpuDevice()).toBe(true);
          destroyedAt = performance.now();
        }
      },
      now: () => (clock += 1000),
    });

    const probed = await service.probeImage({ tabId: 1, frameId: 0, srcUrl: 'http://127.0.0.1/d0.png', pageUrl: '' });
    expect(probed.status).toBe('done');
    expect(probed.result?.backend).toBe('webgpu');
    expect(diagnostics('webgpu', service.queueStats())).toMatchObject({ gpuStatus: 'healthy', gpuLosses: 0 });

    armed = true;
    const failed = await service.rerunAttack(1, MODEL, BIM);
    const msToError = performance.now() - destroyedAt;
    expect(destroyedAt).toBeGreaterThan(0);
    expect(failed.status).toBe('error');
    expect(failed.error?.code).toBe('GPU_RESET');
    expect(failed.error?.message).toBe('The GPU was reset (driver update, sleep, or too much work); switched to wasm. Run it again.');
    expect(msToError).toBeLessThan(15_000);
    // Nothing computed across the loss was ever stored or shown: the only result is the FGSM from before it.
    expect(persisted.every((s) => s.result === null || (s.result.attack.choice.attack === 'fgsm' && s.result.backend === 'webgpu'))).toBe(true);
    expect(failed.result?.attack.choice.attack).toBe('fgsm');

    // Fallen back: wasm is active and is the backend choice, the lost one is said why.
    expect(engine.gpuHealth()).toMatchObject({ status: 'fallen-back', backend: 'wasm', lost: ['webgpu'], losses: 1 });
    expect(tf.getBackend()).toBe('wasm');
    const choice = await engine.chooseBackend(WASM_DIR);
    expect(choice.backend).toBe('wasm');
    expect(choice.failed[0]).toMatchObject({ backend: 'webgpu' });
    expect(choice.failed[0].reason).toMatch(/^GPU reset: device lost \(destroyed/);
    expect(diagnostics(choice.backend, service.queueStats())).toMatchObject({ backend: 'wasm', gpuStatus: 'fallen-back', gpuLosses: 1, queued: 0 });

    // The models of the lost device are dropped before the next load: no tensor is left behind.
    await engine.settleGpuLoss();
    expect(tf.memory().numTensors).toBe(baseline);

    // The next job runs normally, on wasm, and gives what a fresh wasm run gives.
    armed = false;
    const again = await service.rerunAttack(1, MODEL, BIM);
    expect(again.status).toBe('done');
    expect(again.error).toBeNull();
    expect(again.result?.backend).toBe('wasm');
    const afterJob = tf.memory().numTensors;

    const fresh = await loadShippedClassifier(MODEL);
    const modelTensors = tf.memory().numTensors - afterJob;
    expect(afterJob).toBe(baseline + modelTensors);
    const image = (await captureDigit({ tabId: 1, frameId: 0, srcUrl: 'http://127.0.0.1/d0.png', pageUrl: '' })).image;
    const input = preprocess(image, { mode: catalogEntry(MODEL)!.preprocess, size: 28 }).pixels;
    const prediction = await classifyOne(fresh, input);
    const outcome = await attackOne(fresh, input, prediction, BIM);
    fresh.dispose();
    expect(again.result?.prediction.label).toBe(prediction.label);
    expect(again.result?.attack.prediction.label).toBe(outcome.prediction.label);
    const a = again.result!.attack.adversarial.pixels;
    const b = outcome.adversarial.pixels;
    expect(a.length).toBe(b.length);
    let maxDiff = 0;
    for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
    expect(maxDiff).toBeLessThan(1e-6);
    expect(tf.memory().numTensors).toBe(afterJob);
    console.log(`GPU_RESET ${msToError.toFixed(0)} ms after the device was destroyed at step ${STEP}; next job on wasm, max |Δ| vs fresh wasm ${maxDiff}`);
  }, 180_000);
});
