import { describe, expect, it } from 'vitest';
import { ProbeError } from '../../src/core/errors';
import {
  fallbackCandidates, gpuResetError, guardReads, INITIAL_GPU_HEALTH, nextGpuHealth, watchDevice,
  type GpuDeviceLike, type GpuHealth, type ReadableBackend, type ReadGuardOptions,
} from '../../src/background/gpu-loss';

describe('nextGpuHealth (healthy → lost → fallen-back)', () => {
  const chosen = (s: GpuHealth, backend: string): GpuHealth => nextGpuHealth(s, { type: 'chosen', backend });
  const lost = (s: GpuHealth, backend: string, reason = 'device lost (destroyed)'): GpuHealth => nextGpuHealth(s, { type: 'lost', backend, reason });

  it('a first choice keeps it healthy; a loss of the backend in use goes to lost, counted once', () => {
    const a = chosen(INITIAL_GPU_HEALTH, 'webgpu');
    expect(a).toEqual({ status: 'healthy', backend: 'webgpu', lost: [], losses: 0, reason: null });
    const b = lost(a, 'webgpu');
    expect(b).toEqual({ status: 'lost', backend: 'webgpu', lost: ['webgpu'], losses: 1, reason: 'device lost (destroyed)' });
    // The lost promise and an uncaptured error both report the same loss: one loss.
    expect(lost(b, 'webgpu', 'uncaptured GPU error: x')).toBe(b);
  });

  it('the fallback being chosen ends the loss; a lost backend is never chosen again', () => {
    const b = lost(chosen(INITIAL_GPU_HEALTH, 'webgpu'), 'webgpu');
    expect(chosen(b, 'webgpu')).toBe(b);
    const c = chosen(b, 'wasm');
    expect(c).toEqual({ status: 'fallen-back', backend: 'wasm', lost: ['webgpu'], losses: 1, reason: 'device lost (destroyed)' });
    expect(chosen(c, 'cpu').status).toBe('fallen-back');
    expect(fallbackCandidates(c)).toEqual(['wasm', 'cpu']);
  });

  it('a loss of a device not in use (a GPU measured, wasm chosen) is ignored; a fallback that is lost in turn counts again', () => {
    const w = chosen(INITIAL_GPU_HEALTH, 'wasm');
    expect(lost(w, 'webgpu')).toBe(w);
    const x = chosen(lost(chosen(INITIAL_GPU_HEALTH, 'webgpu'), 'webgpu'), 'webgl');
    const y = lost(x, 'webgl', 'context lost');
    expect(y).toEqual({ status: 'lost', backend: 'webgl', lost: ['webgpu', 'webgl'], losses: 2, reason: 'context lost' });
    expect(fallbackCandidates(lost(chosen(INITIAL_GPU_HEALTH, 'wasm'), 'wasm'))).toEqual(['cpu']);
  });

  it('the GPU_RESET error names the backend switched to', () => {
    const e = gpuResetError('wasm');
    expect(e).toBeInstanceOf(ProbeError);
    expect(e.code).toBe('GPU_RESET');
    expect(e.message).toBe('The GPU was reset (driver update, sleep, or too much work); switched to wasm. Run it again.');
  });
});

/** A fake GPUDevice whose loss and uncaptured errors the test triggers. */
function fakeDevice(): GpuDeviceLike & { lose(): void; error(message: string): void } {
  let resolveLost!: (i: { reason: string; message: string }) => void;
  const listeners: ((e: { error?: { message?: unknown } }) => void)[] = [];
  return {
    lost: new Promise((r) => (resolveLost = r)),
    destroy: () => resolveLost({ reason: 'destroyed', message: 'Device was destroyed.' }),
    addEventListener: (_t, l) => void listeners.push(l),
    lose() {
      this.destroy();
    },
    error: (message) => listeners.forEach((l) => l({ error: { message } })),
  };
}

describe('watchDevice', () => {
  it('reports the lost promise and uncaptured errors, with their reason; a device is watched once', async () => {
    const d = fakeDevice();
    const reasons: string[] = [];
    expect(watchDevice(d, (r) => reasons.push(r))).toBe(true);
    expect(watchDevice(d, (r) => reasons.push(`second ${r}`))).toBe(false);
    d.error('Out of memory');
    d.lose();
    await d.lost;
    await Promise.resolve();
    expect(reasons).toEqual(['uncaptured GPU error: Out of memory', 'device lost (destroyed: Device was destroyed.)']);
  });
});

/** A guard over a fake backend whose read-backs the test controls. */
function setup(opts: { timeoutMs?: number; graceMs?: number } = {}) {
  let lost = false;
  let markLost!: () => void;
  const whenLost = new Promise<void>((r) => (markLost = r));
  const declared: string[] = [];
  const lose = (reason: string): void => {
    if (lost) return;
    lost = true;
    declared.push(reason);
    markLost();
  };
  let next: () => Promise<unknown> = async () => new Float32Array([1, 2]);
  const backend: ReadableBackend = {
    read: () => next(),
    readSync: () => new Float32Array([1, 2]),
  };
  const o: ReadGuardOptions = {
    isLost: () => lost,
    whenLost,
    declareLost: lose,
    resetError: async () => gpuResetError('wasm'),
    resetErrorNow: () => gpuResetError('wasm'),
    timeoutMs: opts.timeoutMs ?? 1000,
    graceMs: opts.graceMs ?? 50,
  };
  expect(guardReads(backend, o)).toBe(true);
  expect(guardReads(backend, o)).toBe(false);
  return { backend, lose, declared, setRead: (f: () => Promise<unknown>) => (next = f) };
}

const codeOf = async (p: Promise<unknown>): Promise<string> => p.then(() => 'resolved', (e: unknown) => (e instanceof ProbeError ? e.code : `other: ${String(e)}`));

describe('guardReads', () => {
  it('a healthy read-back passes through; an ordinary error passes through unchanged after the grace time', async () => {
    const g = setup();
    expect(await g.backend.read({})).toEqual(new Float32Array([1, 2]));
    g.setRead(async () => {
      throw new Error('shape mismatch');
    });
    await expect(g.backend.read({})).rejects.toThrow('shape mismatch');
    expect(g.backend.readSync({})).toEqual(new Float32Array([1, 2]));
    expect(g.declared).toEqual([]);
  });

  it('a read-back that hangs across the loss fails with GPU_RESET as soon as the loss is reported', async () => {
    const g = setup({ timeoutMs: 60_000 });
    g.setRead(() => new Promise(() => undefined));
    const t0 = performance.now();
    const p = codeOf(g.backend.read({}));
    setTimeout(() => g.lose('device lost (destroyed)'), 20);
    expect(await p).toBe('GPU_RESET');
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it('a read-back that never answers declares the loss after the timeout', async () => {
    const g = setup({ timeoutMs: 80 });
    g.setRead(() => new Promise(() => undefined));
    expect(await codeOf(g.backend.read({}))).toBe('GPU_RESET');
    expect(g.declared).toEqual(['no answer to a read-back in 80 ms']);
  });

  it('zeros returned while the loss was declared are never passed on; later reads fail at once, sync ones too', async () => {
    const g = setup();
    g.setRead(async () => {
      g.lose('device lost (destroyed)');
      return new Float32Array(2);
    });
    expect(await codeOf(g.backend.read({}))).toBe('GPU_RESET');
    g.setRead(async () => new Float32Array([1, 2]));
    expect(await codeOf(g.backend.read({}))).toBe('GPU_RESET');
    expect(() => g.backend.readSync({})).toThrow(/GPU was reset/);
  });

  it('a rejected read-back (AbortError) whose loss is reported within the grace time becomes GPU_RESET', async () => {
    const g = setup({ graceMs: 500 });
    g.setRead(async () => {
      setTimeout(() => g.lose('device lost (destroyed)'), 30);
      throw new Error('AbortError');
    });
    expect(await codeOf(g.backend.read({}))).toBe('GPU_RESET');
  });
});

describe('WebGL context loss (row 23 for the WebGL backend)', () => {
  it('finds tfjs-webgl’s canvas and reports its context loss once, as a device loss is reported', async () => {
    const { watchContext, webGlCanvasOf } = await import('../../src/background/gpu-loss');
    const canvas = new EventTarget();
    expect(webGlCanvasOf({ gpgpu: { gl: { canvas } } })).toBe(canvas);
    expect(webGlCanvasOf({})).toBeNull();
    expect(webGlCanvasOf(null)).toBeNull();
    expect(webGlCanvasOf({ gpgpu: { gl: { canvas: {} } } })).toBeNull();
    const reasons: string[] = [];
    const target = webGlCanvasOf({ gpgpu: { gl: { canvas } } });
    expect(target).not.toBeNull();
    expect(watchContext(target!, (r) => reasons.push(r))).toBe(true);
    // Watching the same canvas again adds no second listener.
    expect(watchContext(target!, (r) => reasons.push(`again: ${r}`))).toBe(false);
    expect(reasons).toEqual([]);
    canvas.dispatchEvent(new Event('webglcontextlost'));
    expect(reasons).toEqual(['WebGL context lost']);
  });
});
