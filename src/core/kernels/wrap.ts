/** Helpers shared by the kernel replacements (kernels/wasm.ts, kernels/webgpu.ts). Pure tfjs. */
import * as tf from '@tensorflow/tfjs';

/**
 * A kernel input as a Tensor. Ops pass real Tensors (used as is: a tidy never disposes tensors
 * created outside it). A bare TensorInfo gets a wrapper in the current scope; the backend
 * ref count is raised so that disposing the wrapper does not free the caller's data.
 */
export function wrap<R extends tf.Rank>(info: tf.TensorInfo): tf.Tensor<R> {
  if (info instanceof tf.Tensor) return info as tf.Tensor<R>;
  const engine = tf.engine();
  const t = engine.makeTensorFromTensorInfo(info) as tf.Tensor<R>;
  engine.backend.incRef(info.dataId);
  return t;
}
