import { describe, expect, it } from 'vitest';
import { isSoftwareRenderer } from '../../src/background/engine';

describe('isSoftwareRenderer (GPU backends that run on the CPU are used only after wasm)', () => {
  it.each([
    'google swiftshader',
    'ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device (Subzero) (0x0000C0DE)), SwiftShader driver)',
    'llvmpipe (LLVM 15.0.6, 256 bits)',
    'Mesa lavapipe',
    'Microsoft Basic Render Driver',
  ])('software: %s', (d) => expect(isSoftwareRenderer(d)).toBe(true));
  it.each(['nvidia ', 'ANGLE (NVIDIA, NVIDIA GeForce RTX 4090 Direct3D11 vs_5_0 ps_5_0)', 'apple metal-3', 'intel gen-12lp', 'AMD Radeon Pro', ''])(
    'hardware (or hidden): %s',
    (d) => expect(isSoftwareRenderer(d)).toBe(false),
  );
});

describe('measureAttackStep (the GPU backend must beat wasm on it to be chosen)', () => {
  it('times a one-image forward + input gradient on the active backend, and frees everything', async () => {
    const tf = await import('@tensorflow/tfjs');
    const { useNodeBackend } = await import('../../src/cli/backend');
    const { measureAttackStep } = await import('../../src/background/engine');
    for (const b of ['wasm', 'cpu'] as const) {
      await useNodeBackend(b);
      const before = tf.memory().numTensors;
      const ms = await measureAttackStep(3);
      expect(Number.isFinite(ms)).toBe(true);
      expect(ms).toBeGreaterThan(0);
      expect(ms).toBeLessThan(5000);
      expect(tf.memory().numTensors).toBe(before);
    }
  }, 60_000);
});

describe('precisionProblem (checklist row 24: 16-bit float textures)', () => {
  it('refuses a backend computing in 16-bit floats with a reason naming it; 32-bit passes', async () => {
    const { precisionProblem } = await import('../../src/background/engine');
    expect(precisionProblem('webgl', 32)).toBeNull();
    expect(precisionProblem('wasm', 32)).toBeNull();
    const why = precisionProblem('webgl', 16);
    expect(why).toContain('webgl');
    expect(why).toContain('16-bit');
    expect(why).toContain('CW-L2');
  });

  it('WEBGL_FORCE_F16_TEXTURES (the checklist’s trigger) makes WebGL 16-bit, and so refused', async () => {
    const tf = await import('@tensorflow/tfjs');
    const { precisionProblem, webglFloatBits } = await import('../../src/background/engine');
    const before = tf.env().getBool('WEBGL_FORCE_F16_TEXTURES');
    try {
      tf.env().set('WEBGL_FORCE_F16_TEXTURES', true);
      expect(webglFloatBits()).toBe(16);
      expect(precisionProblem('webgl', webglFloatBits())).toContain('16-bit');
      // Not forced and float32 rendering available: 32 bits, accepted.
      tf.env().set('WEBGL_FORCE_F16_TEXTURES', false);
      tf.env().set('WEBGL_RENDER_FLOAT32_ENABLED', true);
      expect(webglFloatBits()).toBe(32);
      expect(precisionProblem('webgl', webglFloatBits())).toBeNull();
    } finally {
      tf.env().set('WEBGL_FORCE_F16_TEXTURES', before);
    }
  });
});
