/**
 * Writes models/mnist-vae/examples.json: one MNIST test image per class, the target examples of
 * Kos et al.'s attacks in the extension (z_t = encoder mean of the example of class t). For each
 * class the first test image that mnist-vae-clf classifies correctly both as is and after a pass
 * through the VAE (decode(encode(x))).
 *
 *   npx tsx training/vae-examples.ts
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { useNodeBackend } from '../src/cli/backend';
import { loadMnist } from '../src/cli/data';
import { loadShippedClassifier, loadShippedVae, MODELS_DIR } from '../src/cli/models';
import { VAE_CLASSIFIER_ID, VAE_EXAMPLES_FILE, VAE_ID, type VaeExamplesFile } from '../src/core/models/vae-examples';

async function main(): Promise<void> {
  await useNodeBackend('wasm');
  const test = loadMnist('test');
  const vae = await loadShippedVae(VAE_ID);
  const clf = await loadShippedClassifier(VAE_CLASSIFIER_ID);
  const indices: number[] = [];
  const images: number[][] = [];
  for (let c = 0; c < 10; c++) {
    for (let i = 0; i < test.n; i++) {
      if (test.labels[i] !== c) continue;
      const px = test.images.subarray(i * 784, (i + 1) * 784);
      const [p, q] = tf.tidy(() => {
        const x = tf.tensor4d(px, [1, 28, 28, 1]);
        const recon = vae.decode(vae.encode(x).mean);
        return [tf.argMax(clf.logits(x), 1).dataSync()[0], tf.argMax(clf.logits(recon), 1).dataSync()[0]];
      });
      if (p === c && q === c) {
        indices.push(i);
        images.push(Array.from(px, (v) => Math.round(v * 255) / 255));
        break;
      }
    }
  }
  const file: VaeExamplesFile = { source: 'MNIST test set (first image of each class classified correctly by mnist-vae-clf, clean and reconstructed)', indices, images };
  const out = join(MODELS_DIR, VAE_ID, VAE_EXAMPLES_FILE);
  writeFileSync(out, `${JSON.stringify(file)}\n`);
  console.log(`wrote ${out}: test indices ${indices.join(', ')}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
