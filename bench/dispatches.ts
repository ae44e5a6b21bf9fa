/**
 * GPU programs dispatched per run of the `probe bench` workloads on the tfjs WebGPU backend, with and
 * without the fused kernels of src/core/kernels/fused.ts. On a real GPU these workloads are bound by
 * the number of dispatches (../shared/gpu.md), and the count is the same on any WebGPU device, so it
 * is measured here in Node on Dawn (Mesa llvmpipe on a machine without a GPU). One JSON object per
 * workload: {workload, fused, opPath, ratio}, then the same for one CW-L2 iteration (`cw-l2-iteration`:
 * the programs of 40 minus those of 20 iterations at one constant, per iteration, on one image; the
 * count does not depend on the batch size).
 *
 *   npx tsx bench/dispatches.ts [workload,...]   (default: fgsm-1, fgsm-100, bim-1, jsma-1, gpdnn-1)
 */
import * as tf from '@tensorflow/tfjs';
import { useNodeBackend } from '../src/cli/backend';
import { loadMnist } from '../src/cli/data';
import { loadShippedClassifier } from '../src/cli/models';
import { cwL2 } from '../src/core/attacks/cw';
import { setFusedKernels } from '../src/core/kernels/fused';
import { runBench, WORKLOADS, type Workload } from './workloads';

const only = (process.argv[2]?.split(',') ?? ['fgsm-1', 'fgsm-100', 'bim-1', 'jsma-1', 'gpdnn-1']).filter((w): w is Workload =>
  (WORKLOADS as readonly string[]).includes(w),
);
await useNodeBackend('webgpu');
const backend = tf.backend() as unknown as { runWebGPUProgram: (...a: unknown[]) => unknown };
const original = backend.runWebGPUProgram;
let count = 0;
backend.runWebGPUProgram = (...a: unknown[]) => {
  count++;
  return original.apply(backend, a);
};
/** Programs per run: (count with 3 timed runs − count with 1) / 2, so that loading and warm-up cancel out. */
const programs = async (w: Workload, runs: number): Promise<number> => {
  count = 0;
  await runBench({ backend: 'webgpu', only: [w], runs });
  return count;
};
for (const w of only) {
  const per: number[] = [];
  for (const fused of [true, false]) {
    setFusedKernels(fused);
    per.push(((await programs(w, 3)) - (await programs(w, 1))) / 2);
  }
  console.log(JSON.stringify({ workload: w, fused: per[0], opPath: per[1], ratio: Math.round((per[1] / per[0]) * 100) / 100 }));
}
// One CW-L2 iteration (abort-early off, one check per run: set-up and checks cancel in the difference).
const lenet = await loadShippedClassifier('mnist-lenet');
const images = loadMnist('test').images;
for (const n of [1]) {
  const x = tf.tensor4d(images.subarray(0, n * 784), [n, 28, 28, 1]);
  const cw = async (steps: number): Promise<number> => {
    count = 0;
    const { adv } = await cwL2(lenet, x, { binarySteps: 1, maxIterations: steps, abortEarly: false, abortChecks: 1 });
    await adv.data();
    adv.dispose();
    return count;
  };
  const per: number[] = [];
  for (const fused of [true, false]) {
    setFusedKernels(fused);
    per.push(((await cw(40)) - (await cw(20))) / 20);
  }
  x.dispose();
  console.log(JSON.stringify({ workload: 'cw-l2-iteration', fused: per[0], opPath: per[1], ratio: Math.round((per[1] / per[0]) * 100) / 100 }));
}
setFusedKernels(true);
