/**
 * Fused kernels for the attacks' inner loops on WebGPU, where every kernel call costs tens of
 * microseconds of host time whatever its size (../shared/gpu.md: 43 µs per element-wise op on an H100
 * through Dawn, against 9 µs in PyTorch), so that FGSM on 100 MNIST images is bound by the number of
 * dispatches, not by arithmetic (bench/results/gpu/REPORT.md). Each function here does in one
 * dispatch what the op path does in several:
 *
 * - `crossEntropyDz`: softmax(Z) − onehot(y) in the stable form of attacks/gradients.ts, with y the
 *   labels or argmax Z (ArgMax, OneHot, Softmax, 2 Multiply, 2 Sub, Sum → 1).
 * - `reluGrad`: dy ⊙ step(y) (Step, Multiply → 1).
 * - `maxPoolGrad`: the input gradient of a max pool, optionally times step(input) for a ReLU under it
 *   (tfjs's MaxPoolGrad is 2 dispatches, positions then gradient, plus Step and Multiply → 1).
 * - `signStep`: clip(x + s·sign(g), lo, hi), and BIM's step with its projection on the ε-ball around
 *   x₀ (Sign, Multiply, Add, [Sub, Clip, Add,] Clip → 1).
 *
 * On webgl the same four run as GLSL programs (kernels/fused-webgl.ts). On every other backend, and
 * with `setFusedKernels(false)`, the functions run the op path, with the same ops and the same results
 * as before (wasm and cpu have no per-dispatch cost worth fusing away).
 * The WGSL programs use tfjs-backend-webgpu's program interface (4.22: `runWebGPUProgram`, the
 * generated `uniforms`, `getCoordsFromIndex`, `setOutputAtIndex`) and read their inputs as flat
 * arrays, each read through f32() (or i32()): tfjs's cast between int32 and float32 can share the
 * data, so a float32 tensor may be bound as an array<i32>. The max-pool gradient routes a window's
 * gradient to its last maximum (row-major), as tfjs's own WebGPU and wasm MaxPoolGrad do (the cpu
 * backend's goes to the first): ties are common, e.g. where a ReLU with a positive bias sees a flat
 * background. Correctness against the op path and the cpu backend, and the dispatch counts:
 * tests/core/kernels/fused.test.ts (Dawn on Mesa).
 *
 * Pure tfjs: bundled into the extension too. Nothing here imports the webgpu backend at run time
 * (importing it before `navigator.gpu` exists would keep it from registering in Node).
 */
import * as tf from '@tensorflow/tfjs';
import type { WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';
import { deviceScalar } from '../tensors';
import { registerWebGlFusedKernels } from './fused-webgl';

const BACKEND = 'webgpu';
const K_CE = 'ProbeCrossEntropyDz';
const K_RELU = 'ProbeReluGrad';
const K_POOL = 'ProbeMaxPoolGrad';
const K_STEP = 'ProbeSignStep';

let enabled = true;

/** Turns the fused kernels off (the op path everywhere) or back on; for benchmarks and tests. */
export function setFusedKernels(on: boolean): void {
  enabled = on;
}

/** Whether the fused kernels run for the active backend (webgpu: this file's WGSL; webgl: fused-webgl.ts's GLSL). */
export function fusedKernelsActive(): boolean {
  if (!enabled) return false;
  const active = tf.getBackend();
  if (active === BACKEND) registerFusedKernels();
  else if (active === 'webgl') registerWebGlFusedKernels({ ce: K_CE, relu: K_RELU, pool: K_POOL, step: K_STEP });
  else return false;
  return true;
}

/** A uniform value of a WebGPU program (tfjs-backend-webgpu's ProgramUniform entries). */
export type Uniform = { type: 'float32' | 'int32'; data: number[] };
interface WebGpuBackendLike {
  runWebGPUProgram(program: WebGPUProgram, inputs: tf.TensorInfo[], outputDtype: tf.DataType, uniforms?: Uniform[]): tf.TensorInfo;
}
export type KernelArgs = Parameters<tf.KernelFunc>[0];

const WORKGROUP = 64;
/**
 * A program with one thread per output element (tfjs's flat dispatch layout): `body` runs with `index`
 * (the flat output index, < uniforms.size); the inputs are flat arrays named by `variableNames`.
 */
export function flatProgram(shaderKey: string, outputShape: number[], variableNames: string[], uniforms: string, body: string): WebGPUProgram {
  const size = outputShape.reduce((a, b) => a * b, 1);
  return {
    shaderKey,
    outputShape,
    variableNames,
    uniforms,
    size: true,
    workgroupSize: [WORKGROUP, 1, 1],
    dispatchLayout: { x: outputShape.map((_, i) => i) },
    dispatch: [Math.ceil(size / WORKGROUP), 1, 1],
    getUserCode: () => `
      fn main(index : i32) {
        if (index < uniforms.size) {
          ${body}
        }
      }`,
  };
}

/** Runs `program` on the kernel's (webgpu) backend; one output, float32 unless `dtype` says otherwise. */
export function runProgram(args: KernelArgs, program: WebGPUProgram, inputs: tf.TensorInfo[], uniforms: Uniform[] = [], dtype: tf.DataType = 'float32'): tf.TensorInfo {
  return (args.backend as unknown as WebGpuBackendLike).runWebGPUProgram(program, inputs, dtype, uniforms);
}

function crossEntropyDzKernel(args: KernelArgs): tf.TensorInfo {
  const z = args.inputs.z as tf.TensorInfo;
  const labels = args.inputs.labels as tf.TensorInfo | undefined;
  const k = z.shape[1];
  // Row max, y (the label, or the first index of the max, as argMax), Σ exp(z − max), Σ_{j≠y} p_j.
  const body = `
    let k = uniforms.zShape[1];
    let row = index / k;
    let col = index - row * k;
    let base = row * k;
    var m = f32(z[base]);
    var am = 0;
    for (var j = 1; j < k; j++) {
      if (f32(z[base + j]) > m) { m = f32(z[base + j]); am = j; }
    }
    let y = ${labels ? 'i32(labels[row])' : 'am'};
    var s = 0.0;
    for (var j = 0; j < k; j++) { s += exp(f32(z[base + j]) - m); }
    if (col != y) {
      setOutputAtIndex(index, exp(f32(z[index]) - m) / s);
    } else {
      var others = 0.0;
      for (var j = 0; j < k; j++) {
        if (j != y) { others += exp(f32(z[base + j]) - m) / s; }
      }
      setOutputAtIndex(index, -others);
    }`;
  const program = flatProgram(`probeCrossEntropyDz_${labels ? 'labels' : 'argmax'}`, [z.shape[0], k], labels ? ['z', 'labels'] : ['z'], '', body);
  return runProgram(args, program, labels ? [z, labels] : [z]);
}

function reluGradKernel(args: KernelArgs): tf.TensorInfo {
  const dy = args.inputs.dy as tf.TensorInfo;
  const y = args.inputs.y as tf.TensorInfo;
  const program = flatProgram('probeReluGrad', dy.shape, ['dy', 'y'], '', 'setOutputAtIndex(index, select(0.0, f32(dy[index]), f32(y[index]) > 0.0));');
  return runProgram(args, program, [dy, y]);
}

interface PoolAttrs {
  filterSize: [number, number];
  strides: [number, number];
  pad: 'valid' | 'same';
  relu: boolean;
}

function maxPoolGradKernel(args: KernelArgs): tf.TensorInfo {
  const dy = args.inputs.dy as tf.TensorInfo;
  const x = args.inputs.x as tf.TensorInfo;
  const { filterSize, strides, pad, relu } = args.attrs as unknown as PoolAttrs;
  const info = tf.backend_util.computePool2DInfo(x.shape as [number, number, number, number], filterSize, strides, 1, pad);
  // For the input pixel (b, r, c, d): every window that holds it, and in each the last maximum
  // (row-major, >=, in-bounds pixels only); the window's dy goes to it if it is this pixel.
  const body = `
    let coords = getCoordsFromIndex(index);
    let b = coords[0];
    let r = coords[1];
    let c = coords[2];
    let d = coords[3];
    let H = uniforms.xShape[1];
    let W = uniforms.xShape[2];
    let C = uniforms.xShape[3];
    let oH = uniforms.dyShape[1];
    let oW = uniforms.dyShape[2];
    let xv = f32(x[index]);
    var acc = 0.0;
    if (uniforms.relu == 0 || xv > 0.0) {
      let rp = r + uniforms.pads.x;
      let cp = c + uniforms.pads.y;
      let oy0 = max(0, (rp - uniforms.filterDims.x + uniforms.strides.x) / uniforms.strides.x);
      let oy1 = min(oH - 1, rp / uniforms.strides.x);
      let ox0 = max(0, (cp - uniforms.filterDims.y + uniforms.strides.y) / uniforms.strides.y);
      let ox1 = min(oW - 1, cp / uniforms.strides.y);
      for (var oy = oy0; oy <= oy1; oy++) {
        for (var ox = ox0; ox <= ox1; ox++) {
          let r0 = oy * uniforms.strides.x - uniforms.pads.x;
          let c0 = ox * uniforms.strides.y - uniforms.pads.y;
          var best = 0.0;
          var found = false;
          var br = -1;
          var bc = -1;
          for (var i = 0; i < uniforms.filterDims.x; i++) {
            let rr = r0 + i;
            if (rr < 0 || rr >= H) { continue; }
            for (var j = 0; j < uniforms.filterDims.y; j++) {
              let cc = c0 + j;
              if (cc < 0 || cc >= W) { continue; }
              let v = f32(x[((b * H + rr) * W + cc) * C + d]);
              if (!found || v >= best) { best = v; found = true; br = rr; bc = cc; }
            }
          }
          if (br == r && bc == c) {
            acc += f32(dy[((b * oH + oy) * oW + ox) * C + d]);
          }
        }
      }
    }
    setOutputAtIndex(index, acc);`;
  const program = flatProgram('probeMaxPoolGrad', x.shape, ['dy', 'x'], 'filterDims : vec2<i32>, strides : vec2<i32>, pads : vec2<i32>, relu : i32,', body);
  return runProgram(args, program, [dy, x], [
    { type: 'int32', data: [info.filterHeight, info.filterWidth] },
    { type: 'int32', data: [info.strideHeight, info.strideWidth] },
    { type: 'int32', data: [info.padInfo.top, info.padInfo.left] },
    { type: 'int32', data: [relu ? 1 : 0] },
  ]);
}

interface StepAttrs {
  step: number;
  lo: number;
  hi: number;
  /** BIM: project on the L∞ ball of this radius around `x0` (then the box). */
  radius: number | null;
}

function signStepKernel(args: KernelArgs): tf.TensorInfo {
  const x = args.inputs.x as tf.TensorInfo;
  const g = args.inputs.g as tf.TensorInfo;
  const x0 = args.inputs.x0 as tf.TensorInfo | undefined;
  const { step, lo, hi, radius } = args.attrs as unknown as StepAttrs;
  // The same float32 operations, in the same order, as the op path (see signStep).
  const body = x0
    ? `let moved = f32(x[index]) + sign(f32(g[index])) * uniforms.step;
       let delta = clamp(moved - f32(x0[index]), -uniforms.radius, uniforms.radius);
       setOutputAtIndex(index, clamp(f32(x0[index]) + delta, uniforms.lo, uniforms.hi));`
    : 'setOutputAtIndex(index, clamp(f32(x[index]) + sign(f32(g[index])) * uniforms.step, uniforms.lo, uniforms.hi));';
  const program = flatProgram(`probeSignStep_${x0 ? 'ball' : 'box'}`, x.shape, x0 ? ['x', 'g', 'x0'] : ['x', 'g'], 'step : f32, lo : f32, hi : f32, radius : f32,', body);
  return runProgram(args, program, x0 ? [x, g, x0] : [x, g], [
    { type: 'float32', data: [step] },
    { type: 'float32', data: [lo] },
    { type: 'float32', data: [hi] },
    { type: 'float32', data: [radius ?? 0] },
  ]);
}

/** Registers kernels on the webgpu backend where they are not yet (needs no WebGPU device). */
export function registerWebGpuKernels(kernels: readonly [string, (a: KernelArgs) => tf.TensorInfo][]): void {
  for (const [kernelName, kernelFunc] of kernels) {
    if (!tf.getKernel(kernelName, BACKEND)) tf.registerKernel({ kernelName, backendName: BACKEND, kernelFunc: kernelFunc as tf.KernelFunc });
  }
}

let registered = false;
/** Registers this file's WebGPU kernels (idempotent; needs no WebGPU device). */
export function registerFusedKernels(): void {
  if (registered) return;
  registerWebGpuKernels([
    [K_CE, crossEntropyDzKernel],
    [K_RELU, reluGradKernel],
    [K_POOL, maxPoolGradKernel],
    [K_STEP, signStepKernel],
  ]);
  registered = true;
}

export const runKernel = (name: string, inputs: Record<string, tf.Tensor>, attrs: object = {}): tf.Tensor =>
  tf.engine().runKernel(name, inputs as unknown as tf.NamedTensorMap, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;

/**
 * dJ/dZ of the softmax cross-entropy −log softmax(Z)_y, [n, k]: softmax(Z) − onehot(y), with the y
 * entry formed as −Σ_{j≠y} p_j (it keeps its relative precision when p_y rounds to 1). y: `labels`
 * (int32 [n]; outside [0, k) gives a zero one-hot row, as tf.oneHot), or argmax Z when absent.
 */
export function crossEntropyDz(z: tf.Tensor2D, labels?: tf.Tensor1D): tf.Tensor2D {
  if (fusedKernelsActive() && z.dtype === 'float32') {
    return tf.tidy(() => runKernel(K_CE, labels ? { z, labels: tf.cast(labels, 'int32') } : { z }) as tf.Tensor2D);
  }
  return tf.tidy(() =>
    crossEntropyDzOfOneHot(z, tf.oneHot(labels ? (tf.cast(labels, 'int32') as tf.Tensor1D) : (tf.argMax(z, 1) as tf.Tensor1D), z.shape[1])),
  );
}

/** The op path of {@link crossEntropyDz}, for a one-hot (or all-zero) row per example. */
export function crossEntropyDzOfOneHot(z: tf.Tensor2D, oneHot: tf.Tensor): tf.Tensor2D {
  return tf.tidy(() => {
    const p = tf.softmax(z);
    const others = tf.sub(p, tf.mul(p, oneHot)); // p ⊙ (1 − onehot), with no JS number (an upload per call on WebGPU)
    return tf.sub(others, tf.mul(oneHot, tf.sum(others, 1, true))) as tf.Tensor2D;
  });
}

/** dy ⊙ step(y): the gradient through a ReLU, from its output y. */
export function reluGrad(dy: tf.Tensor, y: tf.Tensor): tf.Tensor {
  if (fusedKernelsActive() && dy.dtype === 'float32' && y.dtype === 'float32' && tf.util.arraysEqual(dy.shape, y.shape)) {
    return runKernel(K_RELU, { dy, y });
  }
  return tf.tidy(() => tf.mul(dy, tf.step(y)));
}

/**
 * The input gradient of `maxPool(input, pool, strides, pad)` for the cotangent dy (NHWC), times
 * step(input) when `relu` (the pool's input is a ReLU's output, whose gradient this then includes).
 */
export function maxPoolGrad(
  dy: tf.Tensor4D,
  input: tf.Tensor4D,
  output: tf.Tensor4D,
  pool: [number, number],
  strides: [number, number],
  pad: 'valid' | 'same',
  relu: boolean,
): tf.Tensor4D {
  if (fusedKernelsActive() && dy.dtype === 'float32' && input.dtype === 'float32') {
    return runKernel(K_POOL, { dy, x: input }, { filterSize: pool, strides, pad, relu }) as tf.Tensor4D;
  }
  return tf.tidy(() => {
    const d = tf.engine().runKernel('MaxPoolGrad', { dy, input, output }, { filterSize: pool, strides, pad }) as tf.Tensor4D;
    return relu ? (reluGrad(d, input) as tf.Tensor4D) : d;
  });
}

/**
 * One signed-gradient step, clip(x + step·sign(g), lo, hi) (FGSM), or with `ball` BIM's step:
 * clip(x₀ + clip(x + step·sign(g) − x₀, −r, r), lo, hi). `step` carries the direction (negative
 * towards a target); the op path uses `stepTensor` (the same value, made once by a loop) if given.
 */
export function signStep(
  x: tf.Tensor4D,
  g: tf.Tensor4D,
  step: number,
  lo: number,
  hi: number,
  ball?: { x0: tf.Tensor4D; radius: number },
  stepTensor?: tf.Scalar,
): tf.Tensor4D {
  if (fusedKernelsActive() && x.dtype === 'float32' && g.dtype === 'float32') {
    return runKernel(K_STEP, ball ? { x, g, x0: ball.x0 } : { x, g }, { step, lo, hi, radius: ball ? ball.radius : null }) as tf.Tensor4D;
  }
  return tf.tidy(() => {
    const moved = tf.add(x, tf.mul(tf.sign(g), stepTensor ?? deviceScalar(step)));
    if (!ball) return tf.clipByValue(moved, lo, hi) as tf.Tensor4D;
    const delta = tf.clipByValue(tf.sub(moved, ball.x0), -ball.radius, ball.radius);
    return tf.clipByValue(tf.add(ball.x0, delta), lo, hi) as tf.Tensor4D;
  });
}
