/**
 * Kernel patches for the tfjs wasm backend (tfjs 4.22).
 *
 * - `Conv2DBackpropFilter` is not shipped for wasm, so conv nets cannot train there.
 *   We register one composed from kernels wasm does have (transpose, pad, slice, conv2d).
 * - `BatchMatMul` with a transposed operand runs a slow scalar loop in wasm; we transpose
 *   explicitly and call the fast (untransposed) path. Every dense-layer gradient uses it.
 * - `Conv2DBackpropInput` is a naive loop in wasm; for stride 1 (NHWC) we express it as a
 *   forward conv2d of the padded dy with the 180°-rotated, in/out-swapped filter.
 *
 * - `Sign` in wasm returns 0 for |x| below about 1e-6 (tfjs 4.22), which zeroes FGSM steps
 *   wherever the loss gradient is small (confident examples): replaced by an exact sign.
 *
 * Pure tfjs: this file is bundled into the browser extension too.
 * `patchWasmKernels()` must run before `tf.setBackend('wasm')`, because the engine calls
 * each kernel's `setupFunc` when the backend is selected.
 */
import * as tf from '@tensorflow/tfjs';
// Side effect: registers the shipped wasm kernels, which we then replace.
import '@tensorflow/tfjs-backend-wasm';

const BACKEND = 'wasm';
const PATCH_MARK = '__adversarialProbePatch';

type KernelArgs = Parameters<tf.KernelFunc>[0];
type MarkedFunc = tf.KernelFunc & { [PATCH_MARK]?: true };

function mark(fn: tf.KernelFunc): tf.KernelFunc {
  (fn as MarkedFunc)[PATCH_MARK] = true;
  return fn;
}

function isPatched(kernelName: string): boolean {
  const k = tf.getKernel(kernelName, BACKEND);
  return k != null && (k.kernelFunc as MarkedFunc)[PATCH_MARK] === true;
}

/**
 * An input as a Tensor. Ops pass real Tensors (used as is: a tidy never disposes tensors
 * created outside it). A bare TensorInfo gets a wrapper in the current scope; the backend
 * ref count is raised so that disposing the wrapper does not free the caller's data.
 */
function wrap<R extends tf.Rank>(info: tf.TensorInfo): tf.Tensor<R> {
  if (info instanceof tf.Tensor) return info as tf.Tensor<R>;
  const engine = tf.engine();
  const t = engine.makeTensorFromTensorInfo(info) as tf.Tensor<R>;
  engine.backend.incRef(info.dataId);
  return t;
}

function pair(v: number | [number, number]): [number, number] {
  return typeof v === 'number' ? [v, v] : v;
}

/** dW for conv2d, [KH,KW,Ci,Co], as a forward conv over the batch dimension. */
function conv2dBackpropFilter(args: KernelArgs): tf.TensorInfo {
  const { inputs, attrs } = args;
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } =
    attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  return tf.tidy(() => {
    let x = wrap<tf.Rank.R4>(inputs.x as tf.TensorInfo);
    let dy = wrap<tf.Rank.R4>(inputs.dy as tf.TensorInfo);
    if (dataFormat === 'NCHW') {
      x = tf.transpose(x, [0, 2, 3, 1]);
      dy = tf.transpose(dy, [0, 2, 3, 1]);
    }
    const info = tf.backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number], filterShape, strides, 1, pad,
      dimRoundingMode, false, 'channelsLast');
    const { batchSize: n, inHeight: h, inWidth: w, inChannels: ci,
      outHeight: oh, outWidth: ow, strideHeight: sh, strideWidth: sw,
      filterHeight: kh, filterWidth: kw, padInfo } = info;
    // Rows/cols of the padded input that the forward conv actually reads.
    const needH = (oh - 1) * sh + kh;
    const needW = (ow - 1) * sw + kw;
    const top = padInfo.top;
    const left = padInfo.left;
    const bottom = Math.max(0, needH - h - top);
    const right = Math.max(0, needW - w - left);
    let xp: tf.Tensor4D = x;
    if (top > 0 || left > 0 || bottom > 0 || right > 0) {
      xp = tf.pad(x, [[0, 0], [top, bottom], [left, right], [0, 0]]);
    }
    if (xp.shape[1] !== needH || xp.shape[2] !== needW) {
      xp = tf.slice(xp, [0, 0, 0, 0], [n, needH, needW, ci]);
    }
    // Batch of Ci one-channel-per-example images convolved with dy as an [OH,OW,N,Co] filter.
    const xt = tf.transpose(xp, [3, 1, 2, 0]);      // [Ci, needH, needW, N]
    const dyt = tf.transpose(dy, [1, 2, 0, 3]);     // [OH, OW, N, Co]
    const g = tf.conv2d(xt, dyt, 1, 'valid', 'NHWC', [sh, sw]); // [Ci, KH, KW, Co]
    return tf.transpose(g, [1, 2, 0, 3]);           // [KH, KW, Ci, Co]
  });
}

function swapLastTwo(t: tf.Tensor): tf.Tensor {
  const r = t.rank;
  const perm = Array.from({ length: r }, (_, i) => i);
  perm[r - 2] = r - 1;
  perm[r - 1] = r - 2;
  return tf.transpose(t, perm);
}

function makeBatchMatMul(original: tf.KernelFunc): tf.KernelFunc {
  return (args: KernelArgs) => {
    const { transposeA, transposeB } = args.attrs as unknown as tf.BatchMatMulAttrs;
    if (!transposeA && !transposeB) return original(args);
    return tf.tidy(() => {
      let a = wrap(args.inputs.a as tf.TensorInfo);
      let b = wrap(args.inputs.b as tf.TensorInfo);
      if (transposeA) a = swapLastTwo(a);
      if (transposeB) b = swapLastTwo(b);
      // Dispatches BatchMatMul again, now untransposed: the original fast path.
      return tf.matMul(a, b);
    });
  };
}

function makeConv2DBackpropInput(original: tf.KernelFunc): tf.KernelFunc {
  return (args: KernelArgs) => {
    const { strides, pad, dataFormat, dimRoundingMode, inputShape } =
      args.attrs as unknown as tf.Conv2DBackpropInputAttrs;
    const [sh, sw] = pair(strides);
    if (dataFormat === 'NCHW' || sh !== 1 || sw !== 1) return original(args);
    const filterInfo = args.inputs.filter as tf.TensorInfo;
    const fShape = filterInfo.shape as [number, number, number, number];
    const info = tf.backend_util.computeConv2DInfo(
      inputShape, fShape, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
    const { inHeight: h, inWidth: w, outHeight: oh, outWidth: ow,
      filterHeight: kh, filterWidth: kw, padInfo } = info;
    const front = kh - 1 - padInfo.top;
    const leftP = kw - 1 - padInfo.left;
    const back = h + kh - 1 - oh - front;
    const rightP = w + kw - 1 - ow - leftP;
    if (front < 0 || leftP < 0 || back < 0 || rightP < 0) return original(args);
    return tf.tidy(() => {
      const dy = wrap<tf.Rank.R4>(args.inputs.dy as tf.TensorInfo);
      const filter = wrap<tf.Rank.R4>(filterInfo);
      const dyp = tf.pad(dy, [[0, 0], [front, back], [leftP, rightP], [0, 0]]);
      const rot = tf.transpose(tf.reverse(filter, [0, 1]), [0, 1, 3, 2]); // [KH,KW,Co,Ci]
      return tf.conv2d(dyp, rot, 1, 'valid');
    });
  };
}

/** Exact sign: +1, −1 or 0, for any magnitude (wasm's own Sign flushes tiny values to 0). */
function makeSign(): tf.KernelFunc {
  return (args: KernelArgs) =>
    tf.tidy(() => {
      const x = wrap(args.inputs.x as tf.TensorInfo);
      const s = tf.sub(tf.cast(tf.greater(x, 0), 'float32'), tf.cast(tf.less(x, 0), 'float32'));
      return x.dtype === 'float32' ? s : tf.cast(s, x.dtype);
    });
}

function replaceKernel(kernelName: string, make: (original: tf.KernelFunc) => tf.KernelFunc): void {
  if (isPatched(kernelName)) return;
  const original = tf.getKernel(kernelName, BACKEND);
  if (original == null) return; // nothing to speed up
  tf.unregisterKernel(kernelName, BACKEND);
  tf.registerKernel({
    kernelName,
    backendName: BACKEND,
    // Keep the original setup: the fallback path calls the original kernel.
    setupFunc: original.setupFunc,
    disposeFunc: original.disposeFunc,
    kernelFunc: mark(make(original.kernelFunc)),
  });
}

/** Options for {@link patchWasmKernels}. */
export interface WasmPatchOptions {
  /** Also replace the slow BatchMatMul-with-transpose and stride-1 Conv2DBackpropInput paths (default true). */
  readonly speedups?: boolean;
}

/**
 * Registers wasm kernels needed to train conv nets (Conv2DBackpropFilter) and, by default,
 * faster equivalents of two slow shipped kernels. Idempotent. Call before `tf.setBackend('wasm')`.
 */
export function patchWasmKernels(options: WasmPatchOptions = {}): void {
  if (tf.getKernel(tf.Conv2DBackpropFilter, BACKEND) == null) {
    tf.registerKernel({
      kernelName: tf.Conv2DBackpropFilter,
      backendName: BACKEND,
      kernelFunc: mark(conv2dBackpropFilter),
    });
  }
  // Correctness, always on.
  replaceKernel(tf.Sign, makeSign);
  if (options.speedups === false) return;
  replaceKernel(tf.BatchMatMul, makeBatchMatMul);
  replaceKernel(tf.Conv2DBackpropInput, makeConv2DBackpropInput);
}
