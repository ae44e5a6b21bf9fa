/**
 * FGSM benchmark on a shipped model: median wall time of one batched FGSM step (attack + read
 * back) over repeated runs, after warm-up. JSON out, one line per backend.
 *   npm run bench -- [--backend wasm|cpu|webgpu] [--model mnist-lenet] [--batch 100] [--repeats 20]
 */
import * as tf from '@tensorflow/tfjs';
import { fgsm } from '../src/core/attacks';
import { useNodeBackend, type NodeBackend } from '../src/cli/backend';
import { loadMnist } from '../src/cli/data';
import { loadShippedClassifier } from '../src/cli/models';

function flag(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : def;
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

async function main(): Promise<void> {
  const backend = await useNodeBackend(flag('backend', 'wasm') as NodeBackend);
  const modelId = flag('model', 'mnist-lenet');
  const batch = Number(flag('batch', '100'));
  const repeats = Number(flag('repeats', '20'));
  const model = await loadShippedClassifier(modelId);
  const test = loadMnist('test');
  const x = tf.tensor4d(test.images.subarray(0, batch * 784), [batch, 28, 28, 1]);
  const eps = 0.25;
  const once = async (): Promise<number> => {
    const t0 = performance.now();
    const adv = fgsm(model, x, { eps });
    await adv.data();
    adv.dispose();
    return performance.now() - t0;
  };
  for (let i = 0; i < 3; i++) await once();
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) times.push(await once());
  times.sort((a, b) => a - b);
  console.log(
    JSON.stringify({
      bench: 'fgsm',
      model: modelId,
      backend,
      batch,
      repeats,
      medianMs: quantile(times, 0.5),
      p10Ms: quantile(times, 0.1),
      p90Ms: quantile(times, 0.9),
      medianMsPerImage: quantile(times, 0.5) / batch,
      numTensorsAfter: tf.memory().numTensors,
    }),
  );
  x.dispose();
  model.dispose();
}

void main();
