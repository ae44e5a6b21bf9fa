/**
 * The benchmark on the tfjs WebGPU backend in Node through Dawn (`webgpu` package), bundled to one
 * file by `bench/gpu-prepare.sh` so that it runs on a machine without node_modules (an NVIDIA GPU
 * machine: Vulkan). Runs the micro-workloads of the GPU notes' reference table, then the `probe
 * bench` workloads, and writes one JSON object per line to stdout and to $BENCH_OUT (if set) as each
 * finishes, so a run cut short still leaves its results.
 *
 * Env: DAWN_BACKEND=vulkan|opengles (default opengles: Mesa llvmpipe, a CPU check of the bundle),
 * MNIST_DIR (the IDX test files), BENCH_WEBGPU_PATCH=1 (the experimental Conv2DBackpropInput), BENCH_RUNS, BENCH_WORKLOADS (comma list; default all),
 * BENCH_SLOW (comma list run last with BENCH_SLOW_RUNS runs, default 3), BENCH_MICRO (comma list;
 * default all), CW_STEPS (steps of the cw-step-900 difference, default 100).
 */
import { appendFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { create, globals } from 'webgpu';
import { installNodeWebGpu, type DawnModule } from '../src/cli/webgpu';
import { patchWebGpuKernels } from '../src/core/kernels/webgpu';
import { loadMnist } from '../src/cli/data';
import { loadShippedClassifier } from '../src/cli/models';
import { MICRO_WORKLOADS, runMicro, type MicroWorkload } from './micro';
import { runBench, WORKLOADS, type Workload } from './workloads';

const out = process.env.BENCH_OUT;
const print = (o: object): void => {
  const line = JSON.stringify(o);
  console.log(line);
  if (out) appendFileSync(out, `${line}\n`);
};
const list = <T extends string>(v: string | undefined, all: readonly T[]): T[] =>
  v ? v.split(',').filter((s): s is T => (all as readonly string[]).includes(s)) : [...all];

const dawn = installNodeWebGpu({ module: { create, globals } as unknown as DawnModule, dawnBackend: process.env.DAWN_BACKEND === 'vulkan' ? 'vulkan' : 'opengles' });
await import('@tensorflow/tfjs-backend-webgpu');
// BENCH_WEBGPU_PATCH=1 times the Conv2DBackpropInput replacement of src/core/kernels/webgpu.ts (off in the product).
const patched = process.env.BENCH_WEBGPU_PATCH === '1' ? patchWebGpuKernels() : false;
if (!(await tf.setBackend('webgpu'))) throw new Error('tf.setBackend("webgpu") failed');
await tf.ready();
const backend = tf.backend() as unknown as { adapterInfo?: unknown; device?: { adapterInfo?: unknown } };
const info = backend.adapterInfo ?? backend.device?.adapterInfo;
print({ kind: 'env', patched, dawn, backend: tf.getBackend(), adapter: info ? JSON.parse(JSON.stringify(info)) : null, node: process.version, tfjs: tf.version.tfjs, flags: tf.env().getFlags() });

const runs = process.env.BENCH_RUNS ? Number(process.env.BENCH_RUNS) : undefined;
const t0 = performance.now();
const data = loadMnist('test');
const lenet = await loadShippedClassifier('mnist-lenet');
const micro = list<MicroWorkload>(process.env.BENCH_MICRO, MICRO_WORKLOADS);
if (micro.length > 0) {
  await runMicro(lenet, data.images, { runs: runs ?? 20, only: micro, cwSteps: process.env.CW_STEPS ? Number(process.env.CW_STEPS) : undefined, onResult: (r) => print({ kind: 'micro', ...r }) });
}
lenet.dispose();
const workloads = list<Workload>(process.env.BENCH_WORKLOADS, WORKLOADS);
if (workloads.length > 0) await runBench({ backend: 'webgpu', only: workloads, runs, onResult: (r) => print({ kind: 'bench', ...r }) });
// Slow workloads last, with their own (smaller) number of runs.
const slow = list<Workload>(process.env.BENCH_SLOW ?? '-', WORKLOADS);
const slowRuns = process.env.BENCH_SLOW_RUNS ? Number(process.env.BENCH_SLOW_RUNS) : 3;
if (slow.length > 0) await runBench({ backend: 'webgpu', only: slow, runs: slowRuns, onResult: (r) => print({ kind: 'bench', ...r }) });
print({ kind: 'done', seconds: (performance.now() - t0) / 1000, tensors: tf.memory().numTensors });
