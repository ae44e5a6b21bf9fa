/**
 * Node-only helper: select a tfjs backend for CLI scripts, tests and training.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { patchGradients } from '../core/kernels/gradients';
import { patchWasmKernels } from '../core/kernels/wasm';
import { patchWebGpuUploads } from '../core/kernels/webgpu';
import { installNodeWebGpu } from './webgpu';

export type NodeBackend = 'wasm' | 'cpu' | 'webgpu';
export const NODE_BACKENDS: readonly NodeBackend[] = ['wasm', 'cpu', 'webgpu'];

/**
 * Selects `name` ('wasm' with the kernel patches, single-threaded; 'cpu'; or 'webgpu' through
 * Dawn) and returns the backend that is actually active. Throws if `setBackend` reports failure.
 */
export async function useNodeBackend(name: NodeBackend): Promise<string> {
  patchGradients();
  if (name === 'wasm') {
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    patchWasmKernels();
  }
  if (name === 'webgpu') {
    installNodeWebGpu();
    await import('@tensorflow/tfjs-backend-webgpu');
  }
  const ok = await tf.setBackend(name);
  await tf.ready();
  if (!ok || tf.getBackend() !== name) {
    throw new Error(`tf.setBackend('${name}') failed (active backend: ${tf.getBackend()})`);
  }
  if (name === 'webgpu') patchWebGpuUploads();
  return tf.getBackend();
}
