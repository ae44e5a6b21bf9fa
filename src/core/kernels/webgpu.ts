/**
 * A faster `Conv2DBackpropInput` for the tfjs WebGPU backend (tfjs 4.22). The shipped shader computes
 * each input gradient with a direct loop; on an H100 it took 6.2 of the 10 ms of GPU time of a CW-L2
 * step on 900 MNIST images, against 1.1 ms for the two forward convolutions
 * (bench/results/gpu/REPORT.md, run b). For stride 1 and dilation 1 the input gradient is a forward
 * convolution of the padded dy with the filter flipped in space and with its channels swapped,
 *   dx = conv2d(pad(dy, kh−1−top, kh−1−bottom′, kw−1−left, kw−1−right′), W′, 'valid'),
 *   W′[i, j, co, ci] = W[kh−1−i, kw−1−j, ci, co],
 * which runs on tfjs's tiled matmul-based conv. Other strides and dilations keep the shipped kernel.
 *
 * NOT enabled in the extension or the CLI. On Mesa llvmpipe (software WebGPU) it made FGSM on 100
 * lenet images 2.7× slower; on an H100 it made a CW-L2 step 1.7× faster at first (20.4 → 12.2 ms), but
 * once uploads, gradients and the tape-free chain (below; src/core/kernels/gradients.ts,
 * src/core/models/chain.ts) removed the host time around it, it gained nothing there (7.9 ms both) and
 * its three extra dispatches made FGSM on 100 slower (4.25 against 3.65 ms; bench/results/gpu/REPORT.md,
 * run d). `bench/gpu.ts` times it with BENCH_WEBGPU_PATCH=1. Correctness: tests/core/kernels/webgpu.test.ts.
 */
import * as tf from '@tensorflow/tfjs';
import { wrap } from './wrap';

const BACKEND = 'webgpu';
const MARK = '__adversarialProbeWebGpuPatch';

type KernelArgs = Parameters<tf.KernelFunc>[0];

/** dx of a stride-1 conv2d as a forward conv (see the file comment); null where it does not apply. */
export function conv2dBackpropInputAsConv(
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  inputShape: [number, number, number, number],
  pad: tf.Conv2DBackpropInputAttrs['pad'],
  dimRoundingMode?: 'floor' | 'round' | 'ceil',
): tf.Tensor4D | null {
  const info = tf.backend_util.computeConv2DInfo(inputShape, filter.shape, 1, 1, pad, dimRoundingMode, false, 'channelsLast');
  const { filterHeight: kh, filterWidth: kw, inHeight: h, inWidth: w, outHeight: oh, outWidth: ow, padInfo } = info;
  if (dy.shape[1] !== oh || dy.shape[2] !== ow) return null;
  const top = kh - 1 - padInfo.top;
  const left = kw - 1 - padInfo.left;
  const bottom = h + kh - 1 - oh - top;
  const right = w + kw - 1 - ow - left;
  if (top < 0 || left < 0 || bottom < 0 || right < 0) return null;
  return tf.tidy(() => {
    const flipped = tf.transpose(tf.reverse(filter, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D;
    const padded = top + bottom + left + right > 0 ? tf.pad(dy, [[0, 0], [top, bottom], [left, right], [0, 0]]) : dy;
    return tf.conv2d(padded, flipped, 1, 'valid');
  });
}

function makeConv2DBackpropInput(original: tf.KernelFunc): tf.KernelFunc {
  return (args: KernelArgs) => {
    const { strides, pad, dataFormat, dimRoundingMode, inputShape } = args.attrs as unknown as tf.Conv2DBackpropInputAttrs;
    const [sh, sw] = typeof strides === 'number' ? [strides, strides] : strides;
    const dyInfo = args.inputs.dy as tf.TensorInfo;
    const filterInfo = args.inputs.filter as tf.TensorInfo;
    if (sh !== 1 || sw !== 1 || dataFormat === 'NCHW' || dyInfo.dtype !== 'float32' || filterInfo.dtype !== 'float32' || typeof pad === 'object') {
      return original(args);
    }
    // A Tensor returned by a kernel is taken by the engine as the output as is (as kernels/wasm.ts does).
    const out = tf.tidy((): tf.Tensor4D[] => {
      const r = conv2dBackpropInputAsConv(wrap<tf.Rank.R4>(dyInfo), wrap<tf.Rank.R4>(filterInfo), inputShape as [number, number, number, number], pad, dimRoundingMode);
      return r ? [r] : [];
    });
    return out.length > 0 ? out[0] : original(args);
  };
}

/** Registers the faster kernels on the webgpu backend (before it is selected). Returns false if webgpu is not registered. */
export function patchWebGpuKernels(): boolean {
  const k = tf.getKernel('Conv2DBackpropInput', BACKEND);
  if (!k) return false;
  if ((k.kernelFunc as tf.KernelFunc & { [MARK]?: true })[MARK]) return true;
  const fn = makeConv2DBackpropInput(k.kernelFunc) as tf.KernelFunc & { [MARK]?: true };
  fn[MARK] = true;
  tf.unregisterKernel('Conv2DBackpropInput', BACKEND);
  tf.registerKernel({ ...k, kernelFunc: fn });
  return true;
}

/** What patchWebGpuUploads uses of tfjs-backend-webgpu's WebGPUBackend (4.22; not in its public types). */
interface WebGpuBackendInternals {
  uploadToGPU(dataId: object): void;
  tensorMap: { get(dataId: object): { dtype: tf.DataType; shape: number[]; values: ArrayLike<number> | null; resource: unknown } | undefined };
  bufferManager: { acquireBuffer(size: number, usage: number): unknown };
  queue: { writeBuffer(buffer: unknown, offset: number, data: ArrayBufferView): void };
  [MARK]?: true;
}

/**
 * Uploads of CPU data (a JS number in an op, `tf.tensor(array)`, the `ones` of tfjs's Sum gradient)
 * through `queue.writeBuffer` into a pooled buffer. tfjs 4.22 instead creates a new mapped staging
 * buffer for every upload (`createBuffer({mappedAtCreation})`, never reused) and destroys it at the
 * next submit; on an H100 through Dawn/Vulkan that costs about 1 ms per upload, whatever its size
 * (../shared/gpu.md; a V8 profile of the CW-L2 loop there put 3.5 s of 21 s in those uploads,
 * bench/gpu-diag.sh). writeBuffer is ordered on the queue before every command submitted after it,
 * and the pool only holds buffers that no unsubmitted command uses, so the data is in place for the
 * ops that read it. Returns false if the active backend is not webgpu.
 */
export function patchWebGpuUploads(): boolean {
  if (tf.getBackend() !== BACKEND) return false;
  const backend = tf.backend() as unknown as WebGpuBackendInternals;
  if (backend[MARK]) return true;
  const original = backend.uploadToGPU.bind(backend);
  const usage = GPUBufferUsageFlags.STORAGE | GPUBufferUsageFlags.COPY_SRC | GPUBufferUsageFlags.COPY_DST;
  backend.uploadToGPU = (dataId: object): void => {
    const data = backend.tensorMap.get(dataId);
    if (!data || data.resource != null || data.values == null || !(data.dtype === 'float32' || data.dtype === 'int32' || data.dtype === 'bool')) {
      original(dataId);
      return;
    }
    const n = data.shape.reduce((a, b) => a * b, 1);
    if (n === 0) {
      original(dataId);
      return;
    }
    const v = data.values;
    const array = data.dtype === 'float32' ? (v instanceof Float32Array ? v : Float32Array.from(v)) : v instanceof Int32Array ? v : Int32Array.from(v);
    const buffer = backend.bufferManager.acquireBuffer(n * 4, usage);
    backend.queue.writeBuffer(buffer, 0, array.length === n ? array : array.subarray(0, n));
    data.values = null;
    data.resource = buffer;
  };
  backend[MARK] = true;
  return true;
}

/** GPUBufferUsage's values (WebGPU spec), so that this file does not need the WebGPU globals at import. */
const GPUBufferUsageFlags = { COPY_SRC: 0x0004, COPY_DST: 0x0008, STORAGE: 0x0080 } as const;
