import { describe, expect, it } from 'vitest';
import { extensionBackendOf } from '../../bench/workloads';

describe('probe bench --backend: which values run in the built extension, and on what', () => {
  it('extension: its own choice; extension:NAME and webgl: that backend there; Node backends: not the extension', () => {
    expect(extensionBackendOf('extension')).toBeNull();
    expect(extensionBackendOf('webgl')).toBe('webgl');
    for (const b of ['webgpu', 'webgl', 'wasm', 'cpu'] as const) expect(extensionBackendOf(`extension:${b}`)).toBe(b);
    for (const b of ['wasm', 'cpu', 'webgpu']) expect(extensionBackendOf(b)).toBeUndefined();
  });
  it('an unknown extension backend is BAD_INPUT naming the choices', () => {
    expect(() => extensionBackendOf('extension:tpu')).toThrow(expect.objectContaining({ code: 'BAD_INPUT', message: expect.stringContaining('webgpu, webgl, wasm, cpu') }));
  });
});
