/**
 * 'probe/bench' in the service worker: the workloads of src/core/bench.ts on the extension's own
 * backend and model loading, so that `npm run bench:extension` (and the e2e test) time exactly what
 * the popup runs. The images come with the request (the Node benchmark's 100 MNIST test images).
 */
import * as tf from '@tensorflow/tfjs';
import { timeWorkloads, type BenchModels, type BenchResult } from '../core/bench';
import { ProbeError } from '../core/errors';
import type { Classifier, Uncertain } from '../core/models/types';
import { VAE_CLASSIFIER_ID } from '../core/models/vae-examples';
import type { VaeContext } from '../core/probe';
import { base64ToBytes } from '../protocol/base64';
import type { Req } from '../protocol/messages';

export interface BenchDeps {
  backend(): Promise<string>;
  model(id: string): Promise<Classifier>;
  vae(): Promise<VaeContext>;
}

let running = false;

export async function benchInExtension(req: Req<'probe/bench'>, deps: BenchDeps): Promise<BenchResult[]> {
  if (running) throw new ProbeError('BAD_INPUT', 'A benchmark is already running; wait for its results.');
  running = true;
  try {
    const backend = await deps.backend();
    // The rows are labelled with the chosen backend: it must be the one tfjs runs on.
    if (tf.getBackend() !== backend) throw new ProbeError('INTERNAL', `The chosen backend is ${backend} but TensorFlow.js runs on ${tf.getBackend()}.`);
    const bytes = base64ToBytes(req.imagesBase64);
    const images = Float32Array.from(bytes, (v) => v / 255);
    const [lenet, gpdnn, vaeCtx, vaeClf] = await Promise.all([deps.model('mnist-lenet'), deps.model('mnist-gpdnn'), deps.vae(), deps.model(VAE_CLASSIFIER_ID)]);
    if (!('predictive' in gpdnn)) throw new ProbeError('INTERNAL', 'mnist-gpdnn did not load as an Uncertain model');
    const models: BenchModels = {
      lenet,
      gpdnn: gpdnn as Uncertain,
      vae: vaeCtx.models.vae,
      vaeClf,
      examples: Array.from({ length: 10 }, (_, c) => vaeCtx.exampleOf(c)),
    };
    // The models stay cached in the engine: nothing to dispose here.
    return await timeWorkloads(models, { images, labels: req.labels }, { backend, only: req.workloads, runs: req.runs ?? undefined });
  } finally {
    running = false;
  }
}
