/**
 * Fused element-wise kernels of one CW-L2 iteration (Carlini & Wagner 2017) for the CPU-side backends.
 *
 * On wasm and cpu a tfjs op on a 784-pixel image costs ~7 µs of dispatch, tidy and allocation, more than its
 * arithmetic; one CW iteration outside the model's VJP is ~40 such ops (the change of variables, the L2 term,
 * the chain rule through the clip and tanh, Adam). Two kernels do that work in one pass each:
 * - `ProbeCwForward` (w, x0) → t = tanh w, x′ = clip((t + 1)·scale + lo), x′ − x0, ‖x′ − x0‖² per image;
 * - `ProbeCwAdam` (w, t, x′ − x0, ∂(c·f)/∂x′, m, v, step sizes) → w, m, v after one Adam step on
 *   ‖x′ − x0‖² + c·f, with the gradient taken through the clip (zero outside the box) and the tanh.
 * Every intermediate is rounded to float32 (Math.fround) in the order the op path computes it, so both paths
 * agree to float32 rounding (tanh's last bit may differ). GPU backends keep the op path (fusing there is the
 * compiler's job). Pure tfjs: bundled into the extension too.
 */
import * as tf from '@tensorflow/tfjs';

export const CW_FORWARD = 'ProbeCwForward';
export const CW_ADAM = 'ProbeCwAdam';
const BACKENDS = ['cpu', 'wasm'] as const;

/** Attributes of both kernels. */
export interface CwStepAttrs {
  readonly lo: number;
  readonly hi: number;
  readonly scale: number;
  readonly b1: number;
  readonly b2: number;
  readonly eps: number;
  /** Index into the step-size table (Adam's bias-corrected learning rate per iteration). */
  readonly it: number;
}

/** What the kernels use of the cpu and wasm backends: read an input's floats, make a float32 output. */
interface Io {
  read(info: tf.TensorInfo): Float32Array;
  /** Makes outputs, then gives views of the inputs and outputs (wasm: views only after the last allocation). */
  outputs(shapes: number[][]): tf.TensorInfo[];
  view(info: tf.TensorInfo): Float32Array;
}

interface CpuBackendLike {
  readSync(dataId: tf.DataId): tf.TypedArray;
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: tf.TypedArray): tf.TensorInfo;
}
interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): tf.TypedArray;
}

function io(backendName: string, backend: unknown): Io {
  if (backendName === 'wasm') {
    const b = backend as WasmBackendLike;
    return {
      read: (info) => b.typedArrayFromHeap(info) as Float32Array,
      outputs: (shapes) => shapes.map((s) => b.makeOutput(s, 'float32')),
      view: (info) => b.typedArrayFromHeap(info) as Float32Array,
    };
  }
  const b = backend as CpuBackendLike;
  const made = new Map<tf.DataId, Float32Array>();
  return {
    read: (info) => (made.get(info.dataId) ?? (b.readSync(info.dataId) as Float32Array)),
    outputs: (shapes) =>
      shapes.map((s) => {
        const values = new Float32Array(s.reduce((a, d) => a * d, 1));
        const info = b.makeTensorInfo(s, 'float32', values);
        made.set(info.dataId, values);
        return info;
      }),
    view: (info) => made.get(info.dataId) ?? (b.readSync(info.dataId) as Float32Array),
  };
}

const f = Math.fround;

function forwardKernel(backendName: string): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { w, x0 } = inputs as { w: tf.TensorInfo; x0: tf.TensorInfo };
    const a = attrs as unknown as CwStepAttrs;
    const n = w.shape[0];
    const per = w.shape.slice(1).reduce((p, d) => p * d, 1);
    const k = io(backendName, backend);
    const outs = k.outputs([w.shape, w.shape, w.shape, [n]]);
    const W = k.read(w);
    const X0 = k.read(x0);
    const [T, A, D, L] = outs.map((o) => k.view(o));
    const one = 1;
    const scale = f(a.scale);
    const lo = f(a.lo);
    const hi = f(a.hi);
    for (let r = 0; r < n; r++) {
      let sum = 0;
      for (let j = r * per, end = j + per; j < end; j++) {
        const t = f(Math.tanh(W[j]));
        const u = f(f(f(t + one) * scale) + lo);
        const adv = u < lo ? lo : u > hi ? hi : u;
        const d = f(adv - X0[j]);
        T[j] = t;
        A[j] = adv;
        D[j] = d;
        sum += f(d * d);
      }
      L[r] = sum;
    }
    return outs;
  };
}

function adamKernel(backendName: string): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { w, t, diff, g, m, v, lr } = inputs as Record<'w' | 't' | 'diff' | 'g' | 'm' | 'v' | 'lr', tf.TensorInfo>;
    const a = attrs as unknown as CwStepAttrs;
    const k = io(backendName, backend);
    const outs = k.outputs([w.shape, w.shape, w.shape]);
    const [W, T, D, G, M, V, LR] = [w, t, diff, g, m, v, lr].map((x) => k.read(x));
    const [W2, M2, V2] = outs.map((o) => k.view(o));
    const scale = f(a.scale);
    const lo = f(a.lo);
    const hi = f(a.hi);
    const b1 = f(a.b1);
    const b1c = f(1 - a.b1);
    const b2 = f(a.b2);
    const b2c = f(1 - a.b2);
    const eps = f(a.eps);
    const step = LR[a.it];
    for (let j = 0, size = W.length; j < size; j++) {
      const tj = T[j];
      const u = f(f(f(tj + 1) * scale) + lo);
      // dL/dx′ = 2(x′ − x0) + c·∂f/∂x′, through the clip (where x′ was inside the box) and x′ = (tanh w + 1)·scale + lo.
      const dA = f(f(D[j] * 2) + G[j]);
      const grad = u >= lo && u <= hi ? f(f(dA * scale) * f(1 - f(tj * tj))) : 0;
      const mj = f(f(M[j] * b1) + f(grad * b1c));
      const vj = f(f(V[j] * b2) + f(f(grad * grad) * b2c));
      M2[j] = mj;
      V2[j] = vj;
      W2[j] = f(W[j] - f(f(mj / f(Math.sqrt(vj) + eps)) * step));
    }
    return outs;
  };
}

let enabled = true;

/** Use the fused kernels where they exist (default); false forces the op path (tests and benchmarks compare them). */
export function setCwFusedKernels(on: boolean): void {
  enabled = on;
}

/** Registers both kernels for cpu and wasm (idempotent). */
export function registerCwKernels(): void {
  for (const b of BACKENDS) {
    if (tf.getKernel(CW_FORWARD, b) == null) tf.registerKernel({ kernelName: CW_FORWARD, backendName: b, kernelFunc: forwardKernel(b) });
    if (tf.getKernel(CW_ADAM, b) == null) tf.registerKernel({ kernelName: CW_ADAM, backendName: b, kernelFunc: adamKernel(b) });
  }
}

/** Whether CW-L2 runs its element-wise work fused on the active backend. */
export function cwFusedAvailable(): boolean {
  if (!enabled) return false;
  registerCwKernels();
  return (BACKENDS as readonly string[]).includes(tf.getBackend());
}

/** t = tanh w, x′, x′ − x0 and ‖x′ − x0‖² per image, in one pass. */
export function cwForward(w: tf.Tensor4D, x0: tf.Tensor4D, attrs: CwStepAttrs): { t: tf.Tensor4D; adv: tf.Tensor4D; diff: tf.Tensor4D; l2: tf.Tensor1D } {
  const [t, adv, diff, l2] = tf.engine().runKernel(CW_FORWARD, { w, x0 }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
  return { t: t as tf.Tensor4D, adv: adv as tf.Tensor4D, diff: diff as tf.Tensor4D, l2: l2 as tf.Tensor1D };
}

/** One Adam step on w (and its moments) from the model's part of the gradient `g` = ∂(c·f)/∂x′. */
export function cwAdam(
  s: { w: tf.Tensor4D; t: tf.Tensor4D; diff: tf.Tensor4D; g: tf.Tensor4D; m: tf.Tensor4D; v: tf.Tensor4D; lr: tf.Tensor1D },
  attrs: CwStepAttrs,
): { w: tf.Tensor4D; m: tf.Tensor4D; v: tf.Tensor4D } {
  const [w, m, v] = tf.engine().runKernel(CW_ADAM, s, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
  return { w: w as tf.Tensor4D, m: m as tf.Tensor4D, v: v as tf.Tensor4D };
}
