import * as tf from '@tensorflow/tfjs';
import type { DiagnosticsView } from '../protocol/types';
import { gpuHealth } from './engine';

/** When this service-worker instance (module) started: a test sees it change after the worker is stopped and restarted. */
export const WORKER_STARTED_AT = Date.now();

/** Bytes the active backend holds beyond what tf.memory() counts per tensor: the wasm heap (it never shrinks), or webgl's GPU bytes. */
function backendBytes(): number | null {
  const mem = tf.memory() as tf.MemoryInfo & { numBytesInGPU?: number };
  if (typeof mem.numBytesInGPU === 'number') return mem.numBytesInGPU;
  const wasm = (tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } }).wasm;
  return wasm?.HEAPU8 ? wasm.HEAPU8.length : null;
}

/** The JS heap of this worker, where Chromium exposes performance.memory. */
function jsHeapBytes(): number | null {
  const m = (performance as unknown as { memory?: { usedJSHeapSize?: number } }).memory;
  return typeof m?.usedJSHeapSize === 'number' ? m.usedJSHeapSize : null;
}

/** Snapshot for 'probe/diagnostics': the chosen backend (the fallback after a GPU reset), live tensors and memory, the job queue's counters, and GPU losses. */
export function diagnostics(backend: string, queue: { queued: number; done: number; merged: number; lastJob: number }): DiagnosticsView {
  const mem = tf.memory();
  return {
    backend,
    numTensors: mem.numTensors,
    numBytes: mem.numBytes,
    backendBytes: backendBytes(),
    jsHeapBytes: jsHeapBytes(),
    queued: queue.queued,
    jobsDone: queue.done,
    jobsMerged: queue.merged,
    lastJob: queue.lastJob,
    startedAt: WORKER_STARTED_AT,
    gpuStatus: gpuHealth().status,
    gpuLosses: gpuHealth().losses,
  };
}
