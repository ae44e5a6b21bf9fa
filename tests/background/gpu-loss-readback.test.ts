import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { installNodeWebGpu } from '../../src/cli/webgpu';

/**
 * Checklist row 23, the read-back path with a real Dawn device (Mesa llvmpipe): a read-back issued right after
 * `GPUDevice.destroy()` (Dawn rejects it with an AbortError, before or after it reports the loss) must fail with
 * GPU_RESET, synchronous reads too; the tensors of the lost device can still be disposed (count back to baseline)
 * and the engine is on wasm afterwards. Its own file: a lost device stays lost for the life of the tfjs engine.
 */
const WASM_DIR = `${resolve('node_modules/@tensorflow/tfjs-backend-wasm/dist')}/`;

describe('read-back across a real WebGPU device loss', () => {
  it('throws GPU_RESET (not AbortError or zeros) within a bounded time, frees the tensors, and wasm takes over', async () => {
    installNodeWebGpu();
    const tf = await import('@tensorflow/tfjs');
    const engine = await import('../../src/background/engine');
    expect((await engine.chooseBackend(WASM_DIR, 'webgpu')).backend).toBe('webgpu');
    const baseline = tf.memory().numTensors;
    // 64×64: above tfjs-webgpu's CPU hand-off size, so the work and the read-back really go through the device.
    const a = tf.tidy(() => tf.add(tf.fill([64, 64], 0.5), tf.zeros([64, 64])));
    const b = tf.matMul(a, a);
    expect((await b.data())[0]).toBeCloseTo(16, 4);
    const c = tf.matMul(b, a);
    expect(engine.destroyGpuDevice()).toBe(true);
    const t0 = performance.now();
    const err = await c.data().then(
      () => null,
      (e: unknown) => e as { code?: string; message?: string },
    );
    const ms = performance.now() - t0;
    expect(err?.code).toBe('GPU_RESET');
    expect(err?.message).toMatch(/^The GPU was reset .*; switched to wasm\. Run it again\.$/);
    expect(ms).toBeLessThan(5000);
    expect(() => c.dataSync()).toThrow(/The GPU was reset/);
    tf.dispose([a, b, c]);
    expect(tf.memory().numTensors).toBe(baseline);
    expect(engine.gpuHealth()).toMatchObject({ status: 'fallen-back', backend: 'wasm', losses: 1 });
    expect(tf.getBackend()).toBe('wasm');
    const d = tf.tidy(() => tf.matMul(tf.fill([64, 64], 0.5), tf.fill([64, 64], 0.5)));
    expect((await d.data())[0]).toBeCloseTo(16, 4);
    d.dispose();
    expect(tf.memory().numTensors).toBe(baseline);
    console.log(`read-back after destroy: GPU_RESET in ${ms.toFixed(0)} ms`);
  }, 120_000);
});
