/**
 * WebGPU in Node through Dawn (`webgpu` package): Mesa llvmpipe over OpenGL ES on a CPU machine,
 * Vulkan on a GPU machine. Must run BEFORE '@tensorflow/tfjs-backend-webgpu' is imported, since
 * the backend registers only if navigator.gpu exists at import time.
 */
import { createRequire } from 'node:module';

export interface NodeWebGpuOptions {
  /** 'opengles' (software, CPU machines) or 'vulkan' (real GPU). Default: env DAWN_BACKEND or 'opengles'. */
  readonly dawnBackend?: 'opengles' | 'vulkan';
  /** The `webgpu` module itself, when the caller has it already (a bundled script); default: require('webgpu'). */
  readonly module?: DawnModule;
}

/** What this file uses of the `webgpu` package. */
export interface DawnModule {
  create(flags: string[]): { requestAdapter(o?: Record<string, unknown>): Promise<unknown> };
  globals: Record<string, unknown>;
}

let installed: string | null = null;

/** Install navigator.gpu from Dawn. Returns the Dawn backend used. Idempotent. */
export function installNodeWebGpu(opts: NodeWebGpuOptions = {}): string {
  if (installed) return installed;
  const backend = opts.dawnBackend ?? (process.env.DAWN_BACKEND === 'vulkan' ? 'vulkan' : 'opengles');
  process.env.EGL_PLATFORM ??= 'surfaceless';
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  const { create, globals } = opts.module ?? (createRequire(import.meta.url)('webgpu') as DawnModule);
  Object.assign(globalThis, globals);
  const gpu = create([`backend=${backend}`]);
  const req = gpu.requestAdapter.bind(gpu);
  const featureLevel = backend === 'vulkan' ? 'core' : 'compatibility';
  gpu.requestAdapter = (o: Record<string, unknown> = {}) => req({ ...o, featureLevel });
  Object.defineProperty(globalThis, 'navigator', { value: { gpu, userAgent: 'node' }, configurable: true, writable: true });
  installed = backend;
  return backend;
}

/** What countWebGpuPrograms uses of tfjs-backend-webgpu's WebGPUBackend (4.22; not in its public types). */
interface ProgramRunner {
  runWebGPUProgram(program: { shaderKey: string }, ...rest: unknown[]): unknown;
}

/**
 * Runs `f` on the active webgpu backend with its GPU programs counted (tfjs's runWebGPUProgram calls):
 * `count` all of them, `probe` those of src/core/kernels (shader keys starting with 'probe').
 * `backend` is `tf.backend()`, passed in so that this file needs no tfjs import.
 */
export async function countWebGpuPrograms<T>(backend: unknown, f: () => Promise<T>): Promise<{ result: T; count: number; probe: number }> {
  const b = backend as ProgramRunner;
  const original = b.runWebGPUProgram;
  if (typeof original !== 'function') throw new Error('countWebGpuPrograms: the active backend is not webgpu');
  let count = 0;
  let probe = 0;
  b.runWebGPUProgram = (program, ...rest) => {
    count++;
    if (program.shaderKey.startsWith('probe')) probe++;
    return original.call(b, program, ...rest);
  };
  try {
    return { result: await f(), count, probe };
  } finally {
    b.runWebGPUProgram = original;
  }
}
