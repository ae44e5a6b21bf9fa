/**
 * GPU programs dispatched per run of the `probe bench` workloads on the tfjs WebGPU backend, with and
 * without the fused kernels of src/core/kernels/fused.ts. On a real GPU these workloads are bound by
 * the number of dispatches (../shared/gpu.md), and the count is the same on any WebGPU device, so it
 * is measured here in Node on Dawn (Mesa llvmpipe on a machine without a GPU). One JSON object per
 * workload: {workload, fused, opPath, ratio}, then the same for FGSM alone on 100 images (ε = 0.25)
 * (`fgsm-100-attack`, the GPU report's micro-workload) and for one CW-L2 iteration (`cw-l2-iteration`:
 * the programs of 40 minus those of 20 iterations at one constant, per iteration, on one image; the
 * count does not depend on the batch size).
 *
 *   npx tsx bench/dispatches.ts [workload,...]   (default: fgsm-1, fgsm-100, bim-1, jsma-1, gpdnn-1)
 */
import * as tf from '@tensorflow/tfjs';
import { useNodeBackend } from '../src/cli/backend';
import { countWebGpuPrograms } from '../src/cli/webgpu';
import { loadMnist } from '../src/cli/data';
import { loadShippedClassifier } from '../src/cli/models';
import { cwL2 } from '../src/core/attacks/cw';
import { fgsm } from '../src/core/attacks/fgsm';
import { setFusedKernels } from '../src/core/kernels/fused';
import { runBench, WORKLOADS, type Workload } from './workloads';

const only = (process.argv[2]?.split(',') ?? ['fgsm-1', 'fgsm-100', 'bim-1', 'jsma-1', 'gpdnn-1']).filter((w): w is Workload =>
  (WORKLOADS as readonly string[]).includes(w),
);
await useNodeBackend('webgpu');
/** GPU programs run by `f`. */
const programsOf = async (f: () => Promise<unknown>): Promise<number> => (await countWebGpuPrograms(tf.backend(), f)).count;
/** Programs per unit with the fused kernels and with the op path, printed as one JSON line. */
async function report(workload: string, perUnit: () => Promise<number>): Promise<void> {
  const per: number[] = [];
  for (const fused of [true, false]) {
    setFusedKernels(fused);
    per.push(await perUnit());
  }
  setFusedKernels(true);
  console.log(JSON.stringify({ workload, fused: per[0], opPath: per[1], ratio: Math.round((per[1] / per[0]) * 100) / 100 }));
}

// Programs per run: (count with 3 timed runs − count with 1) / 2, so that loading and warm-up cancel out.
const bench = (w: Workload, runs: number): Promise<number> => programsOf(() => runBench({ backend: 'webgpu', only: [w], runs }));
for (const w of only) await report(w, async () => ((await bench(w, 3)) - (await bench(w, 1))) / 2);

// FGSM alone on 100 images, its adversarials read back (the GPU report's fgsm-100 micro-workload).
const lenet = await loadShippedClassifier('mnist-lenet');
const test = loadMnist('test').images;
const x100 = tf.tensor4d(test.subarray(0, 100 * 784), [100, 28, 28, 1]);
await report('fgsm-100-attack', () =>
  programsOf(async () => {
    const adv = fgsm(lenet, x100, { eps: 0.25 });
    await adv.data();
    adv.dispose();
  }),
);
x100.dispose();

// One CW-L2 iteration on one image (abort-early off, one check per run: set-up and checks cancel in the difference).
const x = tf.tensor4d(test.subarray(0, 784), [1, 28, 28, 1]);
const cw = (steps: number): Promise<number> =>
  programsOf(async () => {
    const { adv } = await cwL2(lenet, x, { binarySteps: 1, maxIterations: steps, abortEarly: false, abortChecks: 1 });
    await adv.data();
    adv.dispose();
  });
await report('cw-l2-iteration', async () => ((await cw(40)) - (await cw(20))) / 20);
tf.dispose([x]);
lenet.dispose();
