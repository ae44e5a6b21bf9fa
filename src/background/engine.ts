import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { ProbeError } from '../core/errors';
import { patchWasmKernels } from '../core/kernels/wasm';
import { urlModelFiles } from '../core/models/files';
import { loadClassifier, loadVaeModel } from '../core/models/load';
import { parseVaeExamples, VAE_CLASSIFIER_ID, VAE_EXAMPLES_FILE, VAE_ID, vaeContextOf } from '../core/models/vae-examples';
import type { VaeContext } from '../core/probe';
import type { Classifier } from '../core/models/types';

/** Backends in order of preference. */
export const BACKEND_ORDER = ['webgpu', 'webgl', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_ORDER)[number];

export interface BackendChoice {
  readonly backend: BackendName;
  /** Backends tried before it, with why each failed. */
  readonly failed: { backend: BackendName; reason: string }[];
}

let choice: Promise<BackendChoice> | null = null;

async function tryBackend(name: BackendName): Promise<string | null> {
  try {
    if (name === 'wasm') {
      tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
      patchWasmKernels();
    }
    const ok = await tf.setBackend(name);
    if (!ok) return 'setBackend returned false';
    await tf.ready();
    // A tiny op proves the backend really runs (a lost adapter can pass setBackend).
    const t = tf.tidy(() => tf.add(tf.scalar(1), tf.scalar(1)));
    const v = await t.data();
    t.dispose();
    return v[0] === 2 ? null : 'smoke test gave a wrong value';
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

/**
 * Choose the first backend that works, webgpu → webgl → wasm → cpu (or only `forced`).
 * Resolves once; later calls return the same choice.
 */
export function chooseBackend(wasmDir: string, forced?: BackendName): Promise<BackendChoice> {
  if (choice) return choice;
  choice = (async () => {
    setWasmPaths(wasmDir);
    const failed: BackendChoice['failed'] = [];
    for (const name of forced ? [forced] : BACKEND_ORDER) {
      const reason = await tryBackend(name);
      if (reason === null) return { backend: name, failed };
      failed.push({ backend: name, reason });
    }
    throw new ProbeError('BACKEND_FAILED', `No TensorFlow.js backend works here: ${failed.map((f) => `${f.backend}: ${f.reason}`).join('; ')}`);
  })();
  choice.catch(() => {
    choice = null;
  });
  return choice;
}

const models = new Map<string, Promise<Classifier>>();

/** Load a model once per service-worker life; a failed load is not cached (no retry storm: callers see the error). */
export function getModel(id: string, folderUrlOf: (id: string) => string): Promise<Classifier> {
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
