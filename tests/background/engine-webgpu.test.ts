import { describe, expect, it } from 'vitest';
import { installNodeWebGpu } from '../../src/cli/webgpu';

describe('fasterOfGpuAndWasm', () => {
  it('on software WebGPU (Mesa llvmpipe here) measures both and keeps wasm, saying why', async () => {
    // navigator.gpu before the webgpu backend is imported (engine.ts imports it), as src/cli/webgpu.ts says.
    installNodeWebGpu();
    const tf = await import('@tensorflow/tfjs');
    const { useNodeBackend } = await import('../../src/cli/backend');
    const { fasterOfGpuAndWasm } = await import('../../src/background/engine');
    await useNodeBackend('webgpu');
    const failed: { backend: 'webgpu' | 'webgl' | 'wasm' | 'cpu'; reason: string }[] = [];
    const c = await fasterOfGpuAndWasm('webgpu', failed);
    expect(c.measured?.map((m) => m.backend)).toEqual(['webgpu', 'wasm']);
    const [gpu, wasm] = c.measured!.map((m) => m.msPerStep);
    expect(c.backend).toBe(wasm < gpu ? 'wasm' : 'webgpu');
    expect(tf.getBackend()).toBe(c.backend);
    if (c.backend === 'wasm') expect(failed[0]?.reason).toMatch(/slower than wasm for one-image attacks: .* ms per step \(measured\)/);
    await useNodeBackend('wasm');
  }, 120_000);
});
