/**
 * WebGPU device loss (checklist row 23): a driver update, the machine sleeping or too much work can take
 * the GPU device away in the middle of an attack. Afterwards commands run on nothing and read-backs reject,
 * hang or return zeros, so a result computed across the loss is garbage. This file holds what engine.ts uses
 * to never show it:
 * - `nextGpuHealth`: the pure state machine healthy → lost → fallen-back (→ lost again if the fallback is a
 *   GPU backend that is lost in turn);
 * - `watchDevice`: the device's `lost` promise and uncaptured errors reported as a loss;
 * - `guardReads`: every read-back of the backend raced against the loss and a timeout, and the loss flag
 *   checked after it, so that an in-flight job fails with GPU_RESET instead of returning what it read.
 * No tfjs, no chrome.*: the state machine and the guard are unit-tested with fakes, the wiring with a real
 * Dawn device in tests/background/gpu-loss-webgpu.test.ts.
 */
import { ProbeError } from '../core/errors';

export type GpuHealthStatus = 'healthy' | 'lost' | 'fallen-back';

export interface GpuHealth {
  /** healthy: no loss yet; lost: the backend in use lost its device and no other is chosen yet; fallen-back: jobs run on `backend` after a loss. */
  readonly status: GpuHealthStatus;
  /** The backend jobs run on (the lost one while status is 'lost'); null before the first choice. */
  readonly backend: string | null;
  /** Backends whose device was lost: never chosen again in this worker's life. */
  readonly lost: readonly string[];
  /** Losses detected so far. */
  readonly losses: number;
  /** Why the last loss was declared (the device's message, an uncaptured error, a read-back timeout). */
  readonly reason: string | null;
}

export type GpuEvent =
  | { readonly type: 'chosen'; readonly backend: string }
  | { readonly type: 'lost'; readonly backend: string; readonly reason: string };

export const INITIAL_GPU_HEALTH: GpuHealth = { status: 'healthy', backend: null, lost: [], losses: 0, reason: null };

/**
 * The next state. 'chosen' of a lost backend is refused (state unchanged); after a loss it ends the fallback.
 * 'lost' counts only for the backend in use and only once per loss (the `lost` promise and an uncaptured
 * error may both report it); a loss of a device that is not in use (a GPU measured but not chosen) is ignored.
 */
export function nextGpuHealth(s: GpuHealth, e: GpuEvent): GpuHealth {
  if (e.type === 'chosen') {
    if (s.lost.includes(e.backend)) return s;
    return { ...s, backend: e.backend, status: s.status === 'healthy' ? 'healthy' : 'fallen-back' };
  }
  if (e.backend !== s.backend || s.status === 'lost') return s;
  return { status: 'lost', backend: s.backend, lost: [...s.lost, e.backend], losses: s.losses + 1, reason: e.reason };
}

/** The backends to fall back to after a loss, in order: the CPU ones (a reset GPU may take its other API with it), minus any lost. */
export function fallbackCandidates(s: GpuHealth): string[] {
  return ['wasm', 'cpu'].filter((b) => !s.lost.includes(b));
}

/** The coded error of every job that ran on, or was queued for, a lost device. */
export function gpuResetError(switchedTo: string): ProbeError {
  return new ProbeError('GPU_RESET', `The GPU was reset (driver update, sleep, or too much work); switched to ${switchedTo}. Run it again.`);
}

/** What watchDevice uses of a GPUDevice. */
export interface GpuDeviceLike {
  readonly lost: Promise<{ readonly reason?: unknown; readonly message?: unknown }>;
  destroy(): void;
  addEventListener?(type: 'uncapturederror', listener: (e: { readonly error?: { readonly message?: unknown } }) => void): void;
}

const watched = new WeakSet<object>();

/**
 * Calls `onLost(reason)` when the device is lost (its `lost` promise) or reports an uncaptured error (out of
 * memory, an internal or validation error: the dispatch that failed wrote nothing, so what follows is garbage
 * too). Once per device; returns false if the device was already watched.
 */
export function watchDevice(device: GpuDeviceLike, onLost: (reason: string) => void): boolean {
  if (watched.has(device)) return false;
  watched.add(device);
  device.lost.then(
    (info) => onLost(`device lost (${String(info?.reason ?? 'unknown')}${info?.message ? `: ${String(info.message)}` : ''})`),
    (e: unknown) => onLost(`device lost (${e instanceof Error ? e.message : String(e)})`),
  );
  device.addEventListener?.('uncapturederror', (e) => onLost(`uncaptured GPU error: ${String(e.error?.message ?? 'unknown')}`));
  return true;
}

/** What watchContext uses of a WebGL context's canvas (an OffscreenCanvas in the service worker). */
export interface ContextCanvasLike {
  addEventListener(type: 'webglcontextlost', listener: (e: { preventDefault?(): void }) => void): void;
}

/** The canvas of tfjs-webgl's context (backend.gpgpu.gl.canvas), or null where the backend has none. */
export function webGlCanvasOf(backend: unknown): ContextCanvasLike | null {
  const gl = (backend as { gpgpu?: { gl?: { canvas?: unknown } } } | null)?.gpgpu?.gl;
  const canvas = gl?.canvas as { addEventListener?: unknown } | undefined;
  return canvas && typeof canvas.addEventListener === 'function' ? (canvas as ContextCanvasLike) : null;
}

/**
 * WebGL's counterpart of watchDevice: calls `onLost(reason)` when the context is lost (driver reset, GPU process
 * crash, too many contexts). Once per canvas; returns false if it was already watched.
 */
export function watchContext(canvas: ContextCanvasLike, onLost: (reason: string) => void): boolean {
  if (watched.has(canvas)) return false;
  watched.add(canvas);
  canvas.addEventListener('webglcontextlost', () => onLost('WebGL context lost'));
  return true;
}

/** The read-back methods of a tfjs backend (KernelBackend.read / readSync). */
export interface ReadableBackend {
  read(dataId: object): Promise<unknown>;
  readSync(dataId: object): unknown;
}

export interface ReadGuardOptions {
  /** True once the device is declared lost. */
  isLost(): boolean;
  /** Resolves when the device is declared lost; never rejects. */
  readonly whenLost: Promise<unknown>;
  /** Declare the device lost (a read-back that never answered). */
  declareLost(reason: string): void;
  /** The GPU_RESET error, once the fallback is known (engine.ts waits for it, bounded). */
  resetError(): Promise<ProbeError>;
  /** The GPU_RESET error now (synchronous read-backs), naming the planned fallback. */
  resetErrorNow(): ProbeError;
  /** A read-back with no answer after this long declares the device lost. */
  readonly timeoutMs: number;
  /** A read-back that fails waits this long for the loss to be reported before its own error is passed on. */
  readonly graceMs: number;
}

/** Read-back timeout (ms): far above any one-image job's read-back (ms on a GPU; the slowest, batch bench on software WebGPU, ~20 s in all). */
export const READBACK_TIMEOUT_MS = 60_000;
/** How long a rejected read-back waits for the device's `lost` promise (Dawn reports the loss a few ms after the rejection or before it). */
export const LOSS_GRACE_MS = 1_000;

const guarded = new WeakSet<object>();

type Outcome = { kind: 'value'; v: unknown } | { kind: 'error'; e: unknown } | { kind: 'lost' } | { kind: 'timeout' };

/**
 * Wraps the backend's `read` and `readSync` (in place, once per backend; false if already guarded): a read
 * after the loss, one that rejects or hangs across it, one that times out, and one that returns while the
 * loss was declared (zeros) all throw GPU_RESET; other errors pass through unchanged.
 */
export function guardReads(backend: ReadableBackend, o: ReadGuardOptions): boolean {
  if (guarded.has(backend)) return false;
  guarded.add(backend);
  const read = backend.read.bind(backend);
  const readSync = backend.readSync.bind(backend);
  backend.read = async (dataId: object): Promise<unknown> => {
    if (o.isLost()) throw await o.resetError();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const outcome = await Promise.race<Outcome>([
      read(dataId).then(
        (v): Outcome => ({ kind: 'value', v }),
        (e: unknown): Outcome => ({ kind: 'error', e }),
      ),
      o.whenLost.then((): Outcome => ({ kind: 'lost' })),
      new Promise<Outcome>((resolve) => {
        timer = setTimeout(() => resolve({ kind: 'timeout' }), o.timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (outcome.kind === 'timeout') o.declareLost(`no answer to a read-back in ${o.timeoutMs} ms`);
    if (outcome.kind === 'error' && !o.isLost()) {
      let grace: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([o.whenLost, new Promise<void>((resolve) => (grace = setTimeout(resolve, o.graceMs)))]);
      clearTimeout(grace);
    }
    if (o.isLost()) throw await o.resetError();
    if (outcome.kind === 'error') throw outcome.e;
    return outcome.kind === 'value' ? outcome.v : undefined;
  };
  backend.readSync = (dataId: object): unknown => {
    if (o.isLost()) throw o.resetErrorNow();
    const v = readSync(dataId);
    if (o.isLost()) throw o.resetErrorNow();
    return v;
  };
  return true;
}
