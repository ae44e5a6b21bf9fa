/**
 * The benchmark on the tfjs WebGPU backend in Node through Dawn (`webgpu` package), bundled to one
 * file by `bench/gpu-prepare.sh` so that it runs on a machine without node_modules (an NVIDIA GPU
 * machine: Vulkan). Runs the micro-workloads of the GPU notes' reference table, then the `probe
 * bench` workloads, and writes one JSON object per line to stdout and to $BENCH_OUT (if set) as each
 * finishes, so a run cut short still leaves its results.
 *
 * Env: DAWN_BACKEND=vulkan|opengles (default opengles: Mesa llvmpipe, a CPU check of the bundle),
 * MNIST_DIR (the IDX test files), BENCH_WEBGPU_PATCH / BENCH_UPLOADS / BENCH_GRADS (1 or 0: see below), BENCH_RUNS, BENCH_WORKLOADS (comma list; default all),
 * BENCH_SLOW (comma list run last with BENCH_SLOW_RUNS runs, default 3), BENCH_MICRO (comma list;
 * default all), CW_STEPS (steps of the cw-step-900 difference, default 100), BENCH_TF_FLAGS (JSON of tfjs
 * flags), BENCH_CHAIN=0 (micro-workloads without the tape-free VJP of src/core/models/chain.ts), BENCH_FUSED=0 (without
 * the fused kernels of src/core/kernels/fused.ts), BENCH_RAW=1 (raw WebGPU dispatch costs, bench/micro-raw.ts).
 */
import { appendFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { create, globals } from 'webgpu';
import { installNodeWebGpu, type DawnModule } from '../src/cli/webgpu';
import { patchWebGpuKernels, patchWebGpuUploads } from '../src/core/kernels/webgpu';
import { patchGradients } from '../src/core/kernels/gradients';
import { setFusedKernels } from '../src/core/kernels/fused';
import { loadMnist } from '../src/cli/data';
import { loadShippedClassifier } from '../src/cli/models';
import { runRawDispatch } from './micro-raw';
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
// The product's set-up (src/cli/backend.ts); BENCH_UPLOADS=0 (uploads through writeBuffer) and BENCH_GRADS=0
// (device-side Sum/Mean gradients) switch those off; BENCH_WEBGPU_PATCH=1 adds the Conv2DBackpropInput replacement
// (off in the product: no gain once the chain and the uploads are in, bench/results/gpu/REPORT.md).
const on = (v: string | undefined, dflt: boolean): boolean => (v === undefined ? dflt : v === '1');
const patched = on(process.env.BENCH_WEBGPU_PATCH, false) ? patchWebGpuKernels() : false;
const grads = on(process.env.BENCH_GRADS, true) ? patchGradients() : false;
if (!(await tf.setBackend('webgpu'))) throw new Error('tf.setBackend("webgpu") failed');
await tf.ready();
const uploads = on(process.env.BENCH_UPLOADS, true) ? patchWebGpuUploads() : false;
const fused = on(process.env.BENCH_FUSED, true);
setFusedKernels(fused);
// BENCH_TF_FLAGS: a JSON object of tfjs flags to set (e.g. {"WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE":1}).
for (const [k, v] of Object.entries(JSON.parse(process.env.BENCH_TF_FLAGS ?? '{}') as Record<string, number | boolean | string>)) tf.env().set(k, v);
const backend = tf.backend() as unknown as { adapterInfo?: unknown; device?: { adapterInfo?: unknown } };
const info = backend.adapterInfo ?? backend.device?.adapterInfo;
print({ kind: 'env', patched, grads, uploads, fused, chain: process.env.BENCH_CHAIN !== '0', dawn, backend: tf.getBackend(), adapter: info ? JSON.parse(JSON.stringify(info)) : null, node: process.version, tfjs: tf.version.tfjs, flags: tf.env().getFlags() });

if (process.env.BENCH_RAW === '1') {
  const device = (tf.backend() as unknown as { device: unknown }).device;
  await runRawDispatch(device, (r) => print({ kind: 'raw', ...r }));
}
const runs = process.env.BENCH_RUNS ? Number(process.env.BENCH_RUNS) : undefined;
const t0 = performance.now();
const data = loadMnist('test');
const shipped = await loadShippedClassifier('mnist-lenet');
// BENCH_CHAIN=0: the micro-workloads through tf.grad (a wrapper's new `logits` drops the tape-free VJP).
const lenet: typeof shipped = process.env.BENCH_CHAIN === '0' ? { ...shipped, logits: (x) => shipped.logits(x) } : shipped;
const micro = list<MicroWorkload>(process.env.BENCH_MICRO, MICRO_WORKLOADS);
if (micro.length > 0) {
  await runMicro(lenet, data.images, { runs: runs ?? 20, only: micro, cwSteps: process.env.CW_STEPS ? Number(process.env.CW_STEPS) : undefined, onResult: (r) => print({ kind: 'micro', ...r }) });
}
shipped.dispose();
const workloads = list<Workload>(process.env.BENCH_WORKLOADS, WORKLOADS);
if (workloads.length > 0) await runBench({ backend: 'webgpu', only: workloads, runs, onResult: (r) => print({ kind: 'bench', ...r }) });
// Slow workloads last, with their own (smaller) number of runs.
const slow = list<Workload>(process.env.BENCH_SLOW ?? '-', WORKLOADS);
const slowRuns = process.env.BENCH_SLOW_RUNS ? Number(process.env.BENCH_SLOW_RUNS) : 3;
if (slow.length > 0) await runBench({ backend: 'webgpu', only: slow, runs: slowRuns, onResult: (r) => print({ kind: 'bench', ...r }) });
print({ kind: 'done', seconds: (performance.now() - t0) / 1000, tensors: tf.memory().numTensors });
