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
export const CW_SEED = 'ProbeCwSeed';
export const CW_BEST = 'ProbeCwBest';
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

/** What the kernels use of the cpu and wasm backends: read an input's values, make outputs (float32 unless told). */
interface Io {
  read(info: tf.TensorInfo): Float32Array;
  /** Makes outputs, then gives views of the inputs and outputs (wasm: views only after the last allocation). */
  outputs(shapes: number[][], dtypes?: readonly ('float32' | 'bool')[]): tf.TensorInfo[];
  view(info: tf.TensorInfo): Float32Array;
  /** A bool tensor's bytes (0 or 1). */
  bools(info: tf.TensorInfo): Uint8Array;
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
      outputs: (shapes, dtypes) => shapes.map((s, i) => b.makeOutput(s, dtypes?.[i] ?? 'float32')),
      view: (info) => b.typedArrayFromHeap(info) as Float32Array,
      bools: (info) => b.typedArrayFromHeap(info) as Uint8Array,
    };
  }
  const b = backend as CpuBackendLike;
  const made = new Map<tf.DataId, tf.TypedArray>();
  return {
    read: (info) => (made.get(info.dataId) ?? b.readSync(info.dataId)) as Float32Array,
    outputs: (shapes, dtypes) =>
      shapes.map((s, i) => {
        const dtype = dtypes?.[i] ?? 'float32';
        const size = s.reduce((a, d) => a * d, 1);
        const values = dtype === 'bool' ? new Uint8Array(size) : new Float32Array(size);
        const info = b.makeTensorInfo(s, dtype, values);
        made.set(info.dataId, values);
        return info;
      }),
    view: (info) => (made.get(info.dataId) ?? b.readSync(info.dataId)) as Float32Array,
    bools: (info) => (made.get(info.dataId) ?? b.readSync(info.dataId)) as Uint8Array,
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

/** Attributes of the seed kernel. */
export interface CwSeedAttrs {
  /** −κ. */
  readonly negKappa: number;
  readonly targeted: boolean;
}

/**
 * (z [n, k], oneHot, labelMask = 1e10·oneHot, c [n]) → the margin per image, Z_y − max_{i≠y} Z_i (targeted:
 * max_{i≠t} Z_i − Z_t), and the logits' cotangent c·1[margin ≥ −κ]·∂margin/∂Z, with ∂max/∂Z as tf's Max gradient
 * (1 at every entry equal to the maximum). The op path's 13 ops on [n, k] in one pass, with its float32 values.
 */
function seedKernel(backendName: string): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { z, oneHot, labelMask, c } = inputs as Record<'z' | 'oneHot' | 'labelMask' | 'c', tf.TensorInfo>;
    const { negKappa, targeted } = attrs as unknown as CwSeedAttrs;
    const [n, k] = z.shape as [number, number];
    const io_ = io(backendName, backend);
    const outs = io_.outputs([[n, k], [n]]);
    const [Z, H, LM, C] = [z, oneHot, labelMask, c].map((x) => io_.read(x));
    const [S, MG] = outs.map((o) => io_.view(o));
    const nk = f(negKappa);
    for (let r = 0; r < n; r++) {
      const o = r * k;
      let other = -Infinity;
      let real = 0;
      for (let i = 0; i < k; i++) {
        const sh = f(Z[o + i] - LM[o + i]);
        if (sh > other || Number.isNaN(sh)) other = sh;
        real += f(Z[o + i] * H[o + i]);
      }
      const margin = targeted ? f(other - real) : f(real - other);
      MG[r] = margin;
      const ca = margin >= nk ? C[r] : 0;
      for (let i = 0; i < k; i++) {
        const mask = f(Z[o + i] - LM[o + i]) === other ? 1 : 0;
        const dm = targeted ? mask - H[o + i] : H[o + i] - mask;
        S[o + i] = f(dm * ca);
      }
    }
    return outs;
  };
}

/**
 * The best-so-far bookkeeping of one iteration, from the margin and ‖x′ − x₀‖² of the pre-update point: succ =
 * margin < −κ, improved = succ ∧ l2 < bestL2; bestL2 and bestAdv take l2 and x′ where improved; stepSucc ∨= succ.
 * Outputs bestL2, bestAdv, stepSucc (bool).
 */
function bestKernel(backendName: string): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { margin, l2, bestL2, adv, bestAdv, stepSucc } = inputs as Record<'margin' | 'l2' | 'bestL2' | 'adv' | 'bestAdv' | 'stepSucc', tf.TensorInfo>;
    const nk = f((attrs as unknown as { negKappa: number }).negKappa);
    const n = adv.shape[0];
    const per = adv.shape.slice(1).reduce((p, d) => p * d, 1);
    const io_ = io(backendName, backend);
    const outs = io_.outputs([[n], adv.shape, [n]], ['float32', 'float32', 'bool']);
    const [MG, L2, BL2, A, BA] = [margin, l2, bestL2, adv, bestAdv].map((x) => io_.read(x));
    const SS = io_.bools(stepSucc);
    const [BL2o, BAo] = [outs[0], outs[1]].map((o) => io_.view(o));
    const SSo = io_.bools(outs[2]);
    for (let r = 0; r < n; r++) {
      const succ = MG[r] < nk;
      const improved = succ && L2[r] < BL2[r];
      BL2o[r] = improved ? L2[r] : BL2[r];
      BAo.set((improved ? A : BA).subarray(r * per, (r + 1) * per), r * per);
      SSo[r] = succ || SS[r] !== 0 ? 1 : 0;
    }
    return outs;
  };
}

let enabled = true;

/** Use the fused kernels where they exist (default); false forces the op path (tests and benchmarks compare them). */
export function setCwFusedKernels(on: boolean): void {
  enabled = on;
}

/** Registers the kernels for cpu and wasm (idempotent). */
export function registerCwKernels(): void {
  for (const b of BACKENDS) {
    if (tf.getKernel(CW_FORWARD, b) == null) tf.registerKernel({ kernelName: CW_FORWARD, backendName: b, kernelFunc: forwardKernel(b) });
    if (tf.getKernel(CW_ADAM, b) == null) tf.registerKernel({ kernelName: CW_ADAM, backendName: b, kernelFunc: adamKernel(b) });
    if (tf.getKernel(CW_SEED, b) == null) tf.registerKernel({ kernelName: CW_SEED, backendName: b, kernelFunc: seedKernel(b) });
    if (tf.getKernel(CW_BEST, b) == null) tf.registerKernel({ kernelName: CW_BEST, backendName: b, kernelFunc: bestKernel(b) });
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

/** The margin per image and the logits' cotangent c·1[margin ≥ −κ]·∂margin/∂Z, in one pass (see seedKernel). */
export function cwSeedAndMargin(z: tf.Tensor2D, oneHot: tf.Tensor2D, labelMask: tf.Tensor2D, c: tf.Tensor1D, attrs: CwSeedAttrs): { seed: tf.Tensor2D; margin: tf.Tensor1D } {
  registerCwKernels();
  const [seed, margin] = tf.engine().runKernel(CW_SEED, { z, oneHot, labelMask, c }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
  return { seed: seed as tf.Tensor2D, margin: margin as tf.Tensor1D };
}

/** The best-so-far bookkeeping of one iteration (see bestKernel). */
export function cwBestCpu(
  s: { margin: tf.Tensor1D; l2: tf.Tensor1D; bestL2: tf.Tensor1D; adv: tf.Tensor4D; bestAdv: tf.Tensor4D; stepSucc: tf.Tensor1D },
  negKappa: number,
): { bestL2: tf.Tensor1D; bestAdv: tf.Tensor4D; stepSucc: tf.Tensor1D } {
  registerCwKernels();
  const [bestL2, bestAdv, stepSucc] = tf.engine().runKernel(CW_BEST, s, { negKappa }) as tf.Tensor[];
  return { bestL2: bestL2 as tf.Tensor1D, bestAdv: bestAdv as tf.Tensor4D, stepSucc: stepSucc as tf.Tensor1D };
}
