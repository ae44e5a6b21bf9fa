import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { ProbeError } from '../core/errors';
import { patchGradients } from '../core/kernels/gradients';
import { patchWasmKernels } from '../core/kernels/wasm';
import { patchWebGpuUploads } from '../core/kernels/webgpu';
import { compileChain } from '../core/models/chain';
import { urlModelFiles } from '../core/models/files';
import { loadClassifier, loadVaeModel } from '../core/models/load';
import { parseVaeExamples, VAE_CLASSIFIER_ID, VAE_EXAMPLES_FILE, VAE_ID, vaeContextOf } from '../core/models/vae-examples';
import type { VaeContext } from '../core/probe';
import type { Classifier } from '../core/models/types';
import { BACKEND_NAMES, type BackendName } from '../protocol/types';
import {
  fallbackCandidates, gpuResetError, guardReads, INITIAL_GPU_HEALTH, LOSS_GRACE_MS, nextGpuHealth, READBACK_TIMEOUT_MS, watchContext, watchDevice, webGlCanvasOf,
  type GpuDeviceLike, type GpuHealth, type ReadableBackend,
} from './gpu-loss';

/** Backends in order of preference. */
export const BACKEND_ORDER = BACKEND_NAMES;
export type { BackendName };

export interface BackendChoice {
  readonly backend: BackendName;
  /** Backends tried before it, with why each failed. */
  readonly failed: { backend: BackendName; reason: string }[];
  /** Where a hardware GPU backend and wasm both worked: ms per one-image attack step on each (measureAttackStep). */
  readonly measured?: { backend: BackendName; msPerStep: number }[];
}

let choice: Promise<BackendChoice> | null = null;
/** The backend asked for by name (setBackendPreference); null: chosen by chooseBackend's measurement. */
let preference: BackendName | null = null;

/** A renderer or adapter description that names a CPU implementation of the GPU APIs. */
export function isSoftwareRenderer(description: string): boolean {
  return /swiftshader|llvmpipe|lavapipe|softpipe|software|basic render driver/i.test(description);
}

/** The WebGPU adapter's description, and whether it is a fallback (software) adapter; null: no adapter. */
async function webGpuAdapter(): Promise<{ description: string; fallback: boolean } | null> {
  const gpu = (globalThis.navigator as { gpu?: { requestAdapter(): Promise<unknown> } } | undefined)?.gpu;
  if (!gpu) return null;
  const adapter = (await gpu.requestAdapter()) as
    | { isFallbackAdapter?: boolean; info?: { vendor?: string; architecture?: string; description?: string; isFallbackAdapter?: boolean } }
    | null;
  if (!adapter) return null;
  const info = adapter.info ?? {};
  return {
    description: [info.vendor, info.architecture, info.description].filter(Boolean).join(' '),
    fallback: adapter.isFallbackAdapter === true || info.isFallbackAdapter === true,
  };
}

/** The WebGL renderer string of the active webgl backend ('' if the browser hides it). */
function webGlRenderer(): string {
  const gl = (tf.backend() as unknown as { gpgpu?: { gl?: WebGL2RenderingContext } }).gpgpu?.gl;
  if (!gl) return '';
  const ext = gl.getExtension('WEBGL_debug_renderer_info');
  return String(gl.getParameter(ext ? ext.UNMASKED_RENDERER_WEBGL : gl.RENDERER) ?? '');
}

/**
 * Why a working GPU backend runs on the CPU (SwiftShader, llvmpipe…), or null. Such a backend is slower
 * than wasm by one to two orders of magnitude (measured in headless Chromium: FGSM on 100 MNIST images
 * 19 s on SwiftShader WebGPU against 0.2 s on wasm, `probe bench --backend extension`), so it is only
 * used when wasm fails.
 */
async function softwareReason(name: BackendName): Promise<string | null> {
  if (name === 'webgpu') {
    const a = await webGpuAdapter();
    if (a && (a.fallback || isSoftwareRenderer(a.description))) return `software adapter (${a.description || 'fallback'})`;
  }
  if (name === 'webgl') {
    const renderer = webGlRenderer();
    if (isSoftwareRenderer(renderer)) return `software renderer (${renderer})`;
  }
  return null;
}

/**
 * Checklist row 24: a backend computing in 16-bit floats (WebGL with half-float textures: a device without 32-bit
 * float render targets, or WEBGL_FORCE_F16_TEXTURES) is refused. Its ~3 significant digits cannot hold CW-L2's
 * small steps or JSMA's saliency differences (an attack would "fail" or report distances that are rounding noise),
 * so the next backend (wasm) is used instead, and the reason is listed with the backend in the diagnostics.
 */
export function precisionProblem(name: BackendName, floatPrecision: number): string | null {
  if (floatPrecision >= 32) return null;
  return `${name} computes in ${floatPrecision}-bit floats (half-float textures): too coarse for CW-L2 and JSMA, so it is not used`;
}

/**
 * Bits of the floats WebGL computes in: 32 when tfjs renders to 32-bit float textures, else 16 (a device without
 * them, or WEBGL_FORCE_F16_TEXTURES). Read from the flag, not `backend.floatPrecision()`, which reports 16 exactly
 * when float32 rendering is on (tfjs issue 6980).
 */
export function webglFloatBits(): 16 | 32 {
  return tf.env().getBool('WEBGL_RENDER_FLOAT32_ENABLED') ? 32 : 16;
}

async function tryBackend(name: BackendName): Promise<string | null> {
  try {
    patchGradients();
    if (name === 'wasm') {
      tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
      patchWasmKernels();
    }
    const ok = await tf.setBackend(name);
    if (!ok) return 'setBackend returned false';
    await tf.ready();
    if (name === 'webgpu') {
      patchWebGpuUploads();
      watchWebGpu();
    }
    if (name === 'webgl') watchWebGl();
    // A tiny op proves the backend really runs (a lost adapter can pass setBackend).
    const t = tf.tidy(() => tf.add(tf.scalar(1), tf.scalar(1)));
    const v = await t.data();
    t.dispose();
    if (v[0] !== 2) return 'smoke test gave a wrong value';
    return precisionProblem(name, name === 'webgl' ? webglFloatBits() : 32);
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

/**
 * Median ms of one attack step on the active backend: the logits and input gradient (tape-free chain,
 * src/core/models/chain.ts) of a LeNet-size CNN with random weights on one 28×28 image, read back, as
 * every iteration of the popup's attacks does. Frees everything it makes.
 */
export async function measureAttackStep(runs = 8): Promise<number> {
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 32, kernelSize: 5, activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 64, kernelSize: 5, activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 200, activation: 'relu' }),
      tf.layers.dense({ units: 10 }),
    ],
  });
  const x = tf.fill([1, 28, 28, 1], 0.5) as tf.Tensor4D;
  const dz = tf.tidy(() => tf.oneHot(tf.tensor1d([3], 'int32'), 10).toFloat() as tf.Tensor2D);
  try {
    const chain = compileChain(model);
    if (!chain) throw new ProbeError('INTERNAL', 'the measuring model did not compile');
    const step = async (): Promise<number> => {
      const t0 = performance.now();
      const r = chain.vjp(x, () => dz);
      await r.grad.data();
      tf.dispose([r.logits, r.grad]);
      return performance.now() - t0;
    };
    for (let i = 0; i < 3; i++) await step();
    const t: number[] = [];
    for (let i = 0; i < runs; i++) t.push(await step());
    t.sort((a, b) => a - b);
    return t[Math.floor(t.length / 2)];
  } finally {
    tf.dispose([x, dz]);
    model.dispose();
  }
}

/**
 * Of a working hardware GPU backend and wasm, the one with the faster one-image attack step (the
 * popup's workload): on an H100 through Dawn, WebGPU's per-dispatch host cost made one-image CW-L2
 * 3× slower than wasm (4.4 s against 1.4 s; bench/results/gpu/REPORT.md, run e) while it wins on
 * batches. `gpu` is active on entry; the winner is active on return.
 */
export async function fasterOfGpuAndWasm(gpu: BackendName, failed: BackendChoice['failed']): Promise<BackendChoice> {
  const gpuMs = await measureAttackStep().catch(() => Number.POSITIVE_INFINITY);
  if ((await tryBackend('wasm')) !== null) {
    await tf.setBackend(gpu);
    return { backend: gpu, failed };
  }
  const wasmMs = await measureAttackStep().catch(() => Number.POSITIVE_INFINITY);
  const measured = [
    { backend: gpu, msPerStep: gpuMs },
    { backend: 'wasm' as const, msPerStep: wasmMs },
  ];
  if (wasmMs < gpuMs) {
    failed.push({ backend: gpu, reason: `slower than wasm for one-image attacks: ${gpuMs.toFixed(2)} ms against ${wasmMs.toFixed(2)} ms per step (measured)` });
    return { backend: 'wasm', failed, measured };
  }
  await tf.setBackend(gpu);
  return { backend: gpu, failed, measured };
}

/**
 * Choose a backend: the first that works of webgpu → webgl → wasm → cpu (or only `asked`, else the preference), where a
 * hardware GPU backend must also beat wasm on a measured attack step (fasterOfGpuAndWasm), and a GPU
 * API that runs on the CPU (software renderer) is only tried after wasm.
 * Resolves once; later calls return the same choice.
 */
export function chooseBackend(wasmDir: string, asked?: BackendName): Promise<BackendChoice> {
  if (choice) return choice;
  const forced = asked ?? preference ?? undefined;
  choice = (async () => {
    setWasmPaths(wasmDir);
    const failed: BackendChoice['failed'] = [];
    // GPU backends that work but run on the CPU: tried after wasm, before cpu.
    const software: BackendName[] = [];
    for (const name of forced ? [forced] : BACKEND_ORDER) {
      if (health.lost.includes(name)) {
        failed.push({ backend: name, reason: `GPU reset earlier: ${health.reason ?? 'device lost'}` });
        continue;
      }
      if (!forced && name === 'cpu') {
        for (const sw of software) if ((await tryBackend(sw)) === null) return { backend: sw, failed };
      }
      const reason = await tryBackend(name);
      if (reason === null) {
        const slow = forced ? null : await softwareReason(name).catch(() => null);
        if (slow === null) return !forced && (name === 'webgpu' || name === 'webgl') ? fasterOfGpuAndWasm(name, failed) : { backend: name, failed };
        software.push(name);
        failed.push({ backend: name, reason: `${slow}: slower than wasm` });
        continue;
      }
      failed.push({ backend: name, reason });
    }
    throw new ProbeError('BACKEND_FAILED', `No TensorFlow.js backend works here: ${failed.map((f) => `${f.backend}: ${f.reason}`).join('; ')}`);
  })().then(async (c) => {
    if (c.backend === 'webgpu' || c.backend === 'webgl') await prepareFallback(c.backend);
    health = nextGpuHealth(health, { type: 'chosen', backend: c.backend });
    return c;
  });
  choice.catch(() => {
    choice = null;
  });
  return choice;
}

/** The backend asked for by name, or null when it is chosen by measurement. */
export function backendPreference(): BackendName | null {
  return preference;
}

/**
 * Run every later job on `name` (null: choose by measurement again, chooseBackend). A backend asked for by name
 * is used even where it runs on the CPU (SwiftShader) or loses to wasm: the user or the benchmark asked for it.
 * When the backend changes, the models cached on the old one are dropped, as after a GPU reset, and loaded
 * again on the new one by the next job. The caller runs this with no job in flight (ProbeService.exclusive).
 * A backend that does not work here is refused with BACKEND_FAILED and its reason; the previous preference
 * and backend stay.
 */
export async function setBackendPreference(name: BackendName | null, wasmDir: string): Promise<BackendChoice> {
  await settleGpuLoss();
  const before = preference;
  const current = await (choice ?? Promise.resolve(null)).catch(() => null);
  if (current && name === before) return current;
  preference = name;
  choice = null;
  let next: BackendChoice;
  try {
    next = await chooseBackend(wasmDir);
  } catch (e) {
    preference = before;
    choice = null;
    await chooseBackend(wasmDir).catch(() => undefined);
    throw e;
  }
  if (current?.backend !== next.backend) modelsStale = true;
  return next;
}

const models = new Map<string, Promise<Classifier>>();

/**
 * Load a model once per service-worker life (per backend: after a GPU reset every model is loaded again on
 * the fallback); a failed load is not cached (no retry storm: callers see the error).
 */
export function getModel(id: string, folderUrlOf: (id: string) => string): Promise<Classifier> {
  if (modelsStale) return settleGpuLoss().then(() => getModel(id, folderUrlOf));
  let p = models.get(id);
  if (!p) {
    p = loadClassifier(id, urlModelFiles(folderUrlOf(id)));
    models.set(id, p);
    p.catch(() => models.delete(id));
  }
  return p;
}

let vaeContext: Promise<VaeContext> | null = null;

/**
 * Kos et al.'s attack setting, loaded once: mnist-vae, the classifier on its latent mean
 * (mnist-vae-clf) and one MNIST test example per class (models/mnist-vae/examples.json, generated
 * by training/vae-examples.ts) from which target latents z_t are taken.
 */
export function getVaeContext(folderUrlOf: (id: string) => string): Promise<VaeContext> {
  if (modelsStale) return settleGpuLoss().then(() => getVaeContext(folderUrlOf));
  if (!vaeContext) {
    vaeContext = (async () => {
      const [vae, classifier, examples] = await Promise.all([
        loadVaeModel(VAE_ID, urlModelFiles(folderUrlOf(VAE_ID))),
        getModel(VAE_CLASSIFIER_ID, folderUrlOf),
        fetch(`${folderUrlOf(VAE_ID)}${VAE_EXAMPLES_FILE}`).then((r) => {
          if (!r.ok) throw new ProbeError('MODEL_LOAD_FAILED', `${VAE_EXAMPLES_FILE}: HTTP ${r.status}`);
          return r.json() as Promise<unknown>;
        }),
      ]);
      return vaeContextOf(vae, classifier, parseVaeExamples(examples, vae.inputShape));
    })();
    vaeContext.catch(() => {
      vaeContext = null;
    });
  }
  return vaeContext;
}

// ---- WebGPU device loss (checklist row 23; the state machine and read guard are in gpu-loss.ts) ----

let health: GpuHealth = INITIAL_GPU_HEALTH;
/** The fallback after the last loss: resolves to the backend now active. */
let switching: Promise<BackendName> | null = null;
/** Models loaded before the loss hold tensors of the lost device: dropped before the next load. */
let modelsStale = false;
let settling: Promise<void> | null = null;
const resetListeners = new Set<() => void>();

/** Where jobs run and how many GPU losses this worker has seen (healthy → lost → fallen-back), for 'probe/diagnostics'. */
export function gpuHealth(): GpuHealth {
  return health;
}

/**
 * Runs `listener` whenever the engine drops its models after a GPU reset, so that another module's cache of
 * models or tensors (defense assets, user models) is dropped too. Returns the unsubscribe function.
 */
export function onModelsDropped(listener: () => void): () => void {
  resetListeners.add(listener);
  return () => resetListeners.delete(listener);
}

/**
 * Test hook (checklist row 23): destroys the WebGPU backend's device (`GPUDevice.destroy()`), as a driver
 * reset would. A test calls it from an attack's progress callback at step N. False if webgpu was never set up.
 */
export function destroyGpuDevice(): boolean {
  const backend = initialised('webgpu') as unknown as { device?: GpuDeviceLike } | null;
  if (!backend?.device) return false;
  backend.device.destroy();
  return true;
}

/** The backend instance if it was initialised (tf.findBackend would start initialising it). */
function initialised(name: string): tf.KernelBackend | null {
  return tf.engine().registry[name] ?? null;
}

/** The webgpu backend (active): its device watched for loss, its read-backs guarded. Once per device. */
/**
 * WebGL context loss (checklist row 23 for the WebGL backend): the same path as a WebGPU device loss, GPU_RESET
 * for the job in flight, read-backs guarded, the fallback taken and every model loaded again there.
 */
function watchWebGl(): void {
  const backend = tf.backend() as unknown as ReadableBackend;
  const canvas = webGlCanvasOf(backend);
  if (!canvas) return;
  guardLoss('webgl', backend, (declare) => watchContext(canvas, declare));
}

function watchWebGpu(): void {
  const backend = tf.backend() as unknown as ReadableBackend & { device?: GpuDeviceLike };
  const device = backend.device;
  if (!device) return;
  guardLoss('webgpu', backend, (declare) => watchDevice(device, declare));
}

/** Declares the loss once (onGpuLost) and guards the backend's read-backs, for a watcher of either GPU API. */
function guardLoss(name: BackendName, backend: ReadableBackend, watch: (declare: (reason: string) => void) => boolean): void {
  let lost = false;
  let markLost!: () => void;
  const whenLost = new Promise<void>((resolve) => (markLost = resolve));
  const declare = (reason: string): void => {
    if (lost) return;
    lost = true;
    markLost();
    onGpuLost(name, reason);
  };
  if (!watch(declare)) return;
  guardReads(backend, {
    isLost: () => lost,
    whenLost,
    declareLost: declare,
    resetError: async () => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const to = await Promise.race([
        (switching ?? Promise.reject(new Error('no fallback'))).catch(() => null),
        new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), 5 * LOSS_GRACE_MS))),
      ]);
      clearTimeout(timer);
      return gpuResetError(to ?? plannedFallback());
    },
    resetErrorNow: () => gpuResetError(health.status === 'fallen-back' && health.backend ? health.backend : plannedFallback()),
    timeoutMs: READBACK_TIMEOUT_MS,
    graceMs: LOSS_GRACE_MS,
  });
}

/**
 * With a GPU backend chosen, the first fallback that works is initialised now (wasm is already when it was
 * measured against the GPU), so that a loss switches to it at once: tf.setBackend of an initialised backend is
 * synchronous, while one still initialising makes every op of a job in flight throw "not yet initialized".
 * `gpu` is active on entry and on return.
 */
async function prepareFallback(gpu: BackendName): Promise<void> {
  for (const name of fallbackCandidates(health) as BackendName[]) {
    if (initialised(name)) return;
    const why = await tryBackend(name);
    await tf.setBackend(gpu);
    if (why === null) return;
  }
}

function plannedFallback(): string {
  return fallbackCandidates(health)[0] ?? 'cpu';
}

/**
 * A loss of the device in use: the state goes to 'lost' (every read-back on it throws GPU_RESET from now on),
 * the next backend is selected at once (fallbackCandidates: wasm, then cpu) and becomes the backend choice, and
 * the model cache is marked stale; it is dropped when the next job asks for a model (the FIFO queue has let the
 * failing job end by then, so no tensor is disposed under it).
 */
function onGpuLost(backend: BackendName, reason: string): void {
  const next = nextGpuHealth(health, { type: 'lost', backend, reason });
  if (next === health) return;
  health = next;
  modelsStale = true;
  const failed: BackendChoice['failed'] = [{ backend, reason: `GPU reset: ${reason}` }];
  switching = (async (): Promise<BackendName> => {
    for (const name of fallbackCandidates(health) as BackendName[]) {
      const why = await tryBackend(name);
      if (why === null) {
        health = nextGpuHealth(health, { type: 'chosen', backend: name });
        return name;
      }
      failed.push({ backend: name, reason: why });
    }
    throw new ProbeError('BACKEND_FAILED', `The GPU was reset and no other backend works: ${failed.map((f) => `${f.backend}: ${f.reason}`).join('; ')}`);
  })();
  const c = switching.then((b): BackendChoice => ({ backend: b, failed }));
  choice = c;
  c.catch(() => {
    if (choice === c) choice = null;
  });
}

/**
 * After a GPU loss: waits for the fallback backend, then disposes every cached model (their tensors lived on
 * the lost device) and tells onModelsDropped listeners, once. Resolves at once when there was no loss.
 */
export function settleGpuLoss(): Promise<void> {
  if (!modelsStale) return switching ? switching.then(() => undefined) : Promise.resolve();
  settling ??= (async () => {
    try {
      await switching;
      const old = [...models.values()];
      const vae = vaeContext;
      models.clear();
      vaeContext = null;
      modelsStale = false;
      // The VAE context's classifier is one of `models` (getModel): only its VAE is its own.
      await Promise.all([...old.map((p) => p.then((m) => m.dispose(), () => undefined)), vae?.then((v) => v.models.vae.dispose(), () => undefined)]);
      for (const f of resetListeners) f();
    } finally {
      settling = null;
    }
  })();
  return settling;
}
