/**
 * Kernel benchmark for the attacks' inner loop on the wasm backend: median wall time of the
 * forward pass (logits) and of one input gradient (crossEntropyGradient: forward + backward
 * w.r.t. the input) of a shipped classifier, at several batch sizes, each read back to the CPU.
 * One JSON object on stdout.
 *   npx tsx bench/kernels.ts [--model mnist-lenet] [--batches 1,10] [--repeats 200] [--rounds 5]
 *                            [--speedups on|off] [--kernels path/to/alt-wasm.ts] [--profile]
 * --speedups off: only the always-on patches (Sign, Conv2DBackpropFilter), as patchWasmKernels({ speedups: false }).
 * --kernels: import patchWasmKernels from another module instead (e.g. an older copy of src/core/kernels/wasm.ts).
 * --profile: also report per-kernel times of one gradient at each batch size (tf.profile; nested kernels count twice).
 * Timings are medians over `rounds` × `repeats` runs after warm-up; rounds alternate the workloads
 * so that a background load affects them alike.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { crossEntropyGradient } from '../src/core/attacks/gradients';
import { loadMnist } from '../src/cli/data';
import { loadShippedClassifier } from '../src/cli/models';
import { wasmKernelCacheInfo, type WasmPatchOptions } from '../src/core/kernels/wasm';

function flag(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : def;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

type Patch = (options?: WasmPatchOptions) => void;

async function selectWasm(speedups: boolean, modulePath: string | null): Promise<void> {
  const mod = (await import(
    modulePath ? pathToFileURL(resolve(modulePath)).href : '../src/core/kernels/wasm'
  )) as { patchWasmKernels: Patch };
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  mod.patchWasmKernels({ speedups });
  if (!(await tf.setBackend('wasm')) || tf.getBackend() !== 'wasm') throw new Error('wasm backend failed');
  await tf.ready();
}

async function main(): Promise<void> {
  const modelId = flag('model', 'mnist-lenet');
  const batches = flag('batches', '1,10').split(',').map(Number);
  const repeats = Number(flag('repeats', '200'));
  const rounds = Number(flag('rounds', '5'));
  const speedups = flag('speedups', 'on') !== 'off';
  const modulePath = process.argv.includes('--kernels') ? flag('kernels', '') : null;
  await selectWasm(speedups, modulePath);

  const model = await loadShippedClassifier(modelId);
  const test = loadMnist('test');
  const xs = new Map<number, tf.Tensor4D>();
  const ys = new Map<number, tf.Tensor1D>();
  for (const b of batches) {
    xs.set(b, tf.tensor4d(test.images.slice(0, b * 784), [b, 28, 28, 1]));
    ys.set(b, tf.tensor1d(Array.from(test.labels.subarray(0, b)), 'int32'));
  }

  const workloads: Array<{ name: string; batch: number; run: () => tf.Tensor }> = [];
  for (const b of batches) {
    const x = xs.get(b)!;
    const y = ys.get(b)!;
    workloads.push({ name: 'forward', batch: b, run: () => model.logits(x) });
    workloads.push({ name: 'crossEntropyGradient', batch: b, run: () => crossEntropyGradient(model, x, y) });
  }
  const once = (run: () => tf.Tensor): number => {
    const t0 = performance.now();
    const out = run();
    out.dataSync();
    out.dispose();
    return performance.now() - t0;
  };
  const times = workloads.map(() => [] as number[]);
  for (const w of workloads) for (let i = 0; i < 20; i++) once(w.run); // warm-up
  const tensorsBefore = tf.memory().numTensors;
  for (let r = 0; r < rounds; r++) {
    workloads.forEach((w, i) => {
      for (let k = 0; k < repeats; k++) times[i].push(once(w.run));
    });
  }
  const leaked = tf.memory().numTensors - tensorsBefore;

  const results = workloads.map((w, i) => {
    const perRound = Array.from({ length: rounds }, (_, r) => median(times[i].slice(r * repeats, (r + 1) * repeats)));
    const med = median(times[i]);
    return {
      workload: w.name,
      batch: w.batch,
      medianMs: +med.toFixed(4),
      medianMsPerImage: +(med / w.batch).toFixed(4),
      roundMediansMs: perRound.map((m) => +m.toFixed(4)),
    };
  });

  let profile: Record<string, Record<string, { calls: number; ms: number }>> | undefined;
  if (process.argv.includes('--profile')) {
    profile = {};
    for (const b of batches) {
      const acc: Record<string, { calls: number; ms: number }> = {};
      const reps = 50;
      for (let k = 0; k < reps; k++) {
        const info = await tf.profile(() => {
          const g = crossEntropyGradient(model, xs.get(b)!, ys.get(b)!);
          g.dataSync();
          return g;
        });
        for (const kern of info.kernels) {
          const e = (acc[kern.name] ??= { calls: 0, ms: 0 });
          e.calls += 1 / reps;
          e.ms += (await kern.kernelTimeMs as number) / reps;
        }
        tf.dispose(info.result as tf.Tensor);
      }
      const sorted = Object.entries(acc).sort((a, b2) => b2[1].ms - a[1].ms);
      profile[`batch${b}`] = Object.fromEntries(sorted.map(([k, v]) => [k, { calls: +v.calls.toFixed(2), ms: +v.ms.toFixed(4) }]));
    }
  }

  console.log(JSON.stringify({
    bench: 'kernels',
    model: modelId,
    backend: tf.getBackend(),
    speedups,
    kernels: modulePath ?? 'src/core/kernels/wasm.ts',
    repeats,
    rounds,
    leakedTensors: leaked,
    // Of this module's cache (zeros with --kernels or --speedups off).
    layoutCache: wasmKernelCacheInfo(),
    results,
    ...(profile ? { profile } : {}),
  }));
  for (const t of [...xs.values(), ...ys.values()]) t.dispose();
  model.dispose();
}

void main();
