/**
 * Gradients of tfjs-core ops that allocate on the CPU, replaced by device-side versions with the same
 * values. tfjs 4.22's Sum and Mean gradients multiply dy by `ones(x.shape)`: a JS array the size of x,
 * filled on the CPU and uploaded to the backend on every backward pass (for CW-L2 on 900 MNIST images
 * on WebGPU, 2.8 MB per step; 2.2 s of a 21 s loop went to filling it alone, bench/gpu-diag.sh on an
 * H100). Here dy is broadcast on the device instead (one Tile; `broadcastTo`).
 *
 * Only on the GPU backends (webgpu, webgl), where every upload costs: on wasm and cpu tfjs's own
 * gradient runs (its Multiply is faster there than Tile: the VAE attacks, which differentiate sums
 * through the tape, were slower with the broadcast). Registered globally, deciding per call; idempotent.
 */
import * as tf from '@tensorflow/tfjs';

let done = false;

/** dy reshaped to x's rank (reduced axes of size 1), broadcast to x's shape on the device. */
function spread(dy: tf.Tensor, x: tf.Tensor, axis: number | number[] | undefined): tf.Tensor {
  const axes = tf.util.parseAxisParam(axis ?? x.shape.map((_, i) => i), x.shape);
  const expanded = x.shape.slice();
  for (const a of axes) expanded[a] = 1;
  const d = tf.reshape(tf.cast(dy, 'float32'), expanded);
  return tf.util.arraysEqual(d.shape, x.shape) ? d : tf.broadcastTo(d, x.shape);
}

/** The backends whose uploads make tfjs's `ones`-based gradients expensive. */
const GPU_BACKENDS: ReadonlySet<string> = new Set(['webgpu', 'webgl']);

/** Replaces the Sum and Mean gradients (see the file comment). Returns true once they are registered. */
export function patchGradients(): boolean {
  if (done) return true;
  const sumOriginal = tf.getGradient(tf.Sum);
  const meanOriginal = tf.getGradient(tf.Mean);
  const onGpu = (): boolean => GPU_BACKENDS.has(tf.getBackend());
  tf.registerGradient({
    kernelName: tf.Sum,
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      if (sumOriginal && !onGpu()) return sumOriginal.gradFunc(dy, saved, attrs);
      const [x] = saved;
      const { axis } = attrs as unknown as tf.SumAttrs;
      return { x: () => spread(dy as tf.Tensor, x, axis) };
    },
  });
  tf.registerGradient({
    kernelName: tf.Mean,
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      if (meanOriginal && !onGpu()) return meanOriginal.gradFunc(dy, saved, attrs);
      const [x] = saved;
      const { axis } = attrs as unknown as tf.MeanAttrs;
      const axes = tf.util.parseAxisParam(axis ?? x.shape.map((_, i) => i), x.shape);
      const reduceSize = axes.reduce((p, a) => p * x.shape[a], 1);
      // reduceSize made on the device (tf.fill), not uploaded as a JS number.
      return { x: () => tf.div(spread(dy as tf.Tensor, x, axis), tf.fill([], reduceSize)) };
    },
  });
  done = true;
  return true;
}
