/**
 * CW-L2's iteration (Carlini & Wagner 2017) on WebGPU in few dispatches: the same loss, gradient and
 * Adam step as the op path of attacks/cw.ts (which costs about 65 GPU programs per iteration on a
 * LeNet), as 10 programs around the model's forward and backward pass (kernels/fused.ts says why
 * dispatches are what counts there):
 *
 * - `cwAdv`: x′ = clip((tanh w + 1)·scale + lo, lo, hi);
 * - `cwL2`: ‖x′ − x₀‖² per image (one thread per image);
 * - `cwSeed`: the cotangent of the logits, c·1[margin ≥ −κ]·∂margin/∂Z, with ∂max/∂Z as tf's Max
 *   gradient (every entry equal to the maximum), and `cwMargin`: Z_y − max_{i≠y} Z_i (targeted: its
 *   negative);
 * - `cwAdam`: Adam on ‖x′ − x₀‖² + c·f through the clip (zero gradient outside the box) and the tanh,
 *   as three programs (w, m, v), each recomputing tanh w and the gradient from w, x₀ and ∂(c·f)/∂x′
 *   (cheaper than the op path's twenty element-wise dispatches);
 * - `cwBest`: the success and best-so-far bookkeeping (bestL2, bestAdv, stepSucc), three programs
 *   in place of six.
 *
 * tanh is tfjs-backend-webgpu's own formula, so x′ matches the op path on the same device; the rest
 * agrees to float32 rounding (a shader compiler may contract a·b + c). Tests:
 * tests/core/kernels/cw-webgpu.test.ts. On webgl the same kernels run as GLSL programs (cw-webgl.ts,
 * registered under the same names). Pure tfjs: bundled into the extension too.
 */
import * as tf from '@tensorflow/tfjs';
import { registerWebGlCwKernels } from './cw-webgl';
import { flatProgram, fusedKernelsActive, registerWebGpuKernels, runKernel, runProgram, type KernelArgs } from './fused';

const K_ADV = 'ProbeCwGpuAdv';
const K_L2 = 'ProbeCwGpuL2';
const K_SEED = 'ProbeCwGpuSeed';
const K_MARGIN = 'ProbeCwGpuMargin';
const K_ADAM = 'ProbeCwGpuAdam';
const K_BEST = 'ProbeCwGpuBest';

/** The box and the change of variables x′ = (tanh w + 1)·scale + lo. */
export interface CwBox {
  readonly lo: number;
  readonly hi: number;
  readonly scale: number;
}

/** tfjs-backend-webgpu's tanh (unary_op_util.js, 4.22), and x′ before and after the clip. */
const TANH_AND_U = `
  fn probeTanh(a : f32) -> f32 {
    let e2x = exp(-2.0 * abs(a));
    return sign(a) * (1.0 - e2x) / (1.0 + e2x);
  }
  fn probeU(t : f32) -> f32 {
    return (t + 1.0) * uniforms.scale + uniforms.lo;
  }`;
const BOX_UNIFORMS = 'lo : f32, hi : f32, scale : f32,';
const boxUniforms = (b: CwBox): { type: 'float32'; data: number[] }[] => [
  { type: 'float32', data: [b.lo] },
  { type: 'float32', data: [b.hi] },
  { type: 'float32', data: [b.scale] },
];

/** flatProgram with helper functions placed before `main`. */
function withHelpers(p: ReturnType<typeof flatProgram>, helpers: string): ReturnType<typeof flatProgram> {
  const body = p.getUserCode;
  return { ...p, getUserCode: () => `${helpers}\n${body()}` };
}

function advKernel(args: KernelArgs): tf.TensorInfo {
  const w = args.inputs.w as tf.TensorInfo;
  const p = withHelpers(flatProgram('probeCwAdv', w.shape, ['w'], BOX_UNIFORMS, 'setOutputAtIndex(index, clamp(probeU(probeTanh(f32(w[index]))), uniforms.lo, uniforms.hi));'), TANH_AND_U);
  return runProgram(args, p, [w], boxUniforms(args.attrs as unknown as CwBox));
}

function l2Kernel(args: KernelArgs): tf.TensorInfo {
  const adv = args.inputs.adv as tf.TensorInfo;
  const x0 = args.inputs.x0 as tf.TensorInfo;
  const n = adv.shape[0];
  const per = adv.shape.slice(1).reduce((a, b) => a * b, 1);
  const body = `
    let base = index * uniforms.per;
    var s = 0.0;
    for (var j = 0; j < uniforms.per; j++) {
      let d = f32(adv[base + j]) - f32(x0[base + j]);
      s += d * d;
    }
    setOutputAtIndex(index, s);`;
  return runProgram(args, flatProgram('probeCwL2', [n], ['adv', 'x0'], 'per : i32,', body), [adv, x0], [{ type: 'int32', data: [per] }]);
}

interface SeedAttrs {
  negKappa: number;
  targeted: boolean;
}

/** Per row: shifted = Z − labelMask, other = max shifted, real = Σ Z ⊙ onehot, margin. */
const MARGIN = `
  fn probeMargin(row : i32, k : i32) -> vec2<f32> {
    let base = row * k;
    var other = f32(z[base]) - f32(labelMask[base]);
    for (var j = 1; j < k; j++) { other = max(other, f32(z[base + j]) - f32(labelMask[base + j])); }
    var real = 0.0;
    for (var j = 0; j < k; j++) { real += f32(z[base + j]) * f32(oneHot[base + j]); }
    let margin = select(real - other, other - real, uniforms.targeted != 0);
    return vec2<f32>(margin, other);
  }`;
const SEED_UNIFORMS = 'negKappa : f32, targeted : i32,';
const seedUniforms = (a: SeedAttrs): { type: 'float32' | 'int32'; data: number[] }[] => [
  { type: 'float32', data: [a.negKappa] },
  { type: 'int32', data: [a.targeted ? 1 : 0] },
];

function seedKernel(args: KernelArgs): tf.TensorInfo {
  const { z, oneHot, labelMask, c } = args.inputs as Record<'z' | 'oneHot' | 'labelMask' | 'c', tf.TensorInfo>;
  const body = `
    let k = uniforms.zShape[1];
    let row = index / k;
    let mo = probeMargin(row, k);
    let otherMask = select(0.0, 1.0, f32(z[index]) - f32(labelMask[index]) == mo.y);
    let dm = select(f32(oneHot[index]) - otherMask, otherMask - f32(oneHot[index]), uniforms.targeted != 0);
    let act = select(0.0, 1.0, mo.x >= uniforms.negKappa);
    setOutputAtIndex(index, dm * (f32(c[row]) * act));`;
  const p = withHelpers(flatProgram('probeCwSeed', z.shape, ['z', 'oneHot', 'labelMask', 'c'], SEED_UNIFORMS, body), MARGIN);
  return runProgram(args, p, [z, oneHot, labelMask, c], seedUniforms(args.attrs as unknown as SeedAttrs));
}

function marginKernel(args: KernelArgs): tf.TensorInfo {
  const { z, oneHot, labelMask } = args.inputs as Record<'z' | 'oneHot' | 'labelMask', tf.TensorInfo>;
  const p = withHelpers(flatProgram('probeCwMargin', [z.shape[0]], ['z', 'oneHot', 'labelMask'], SEED_UNIFORMS, 'setOutputAtIndex(index, probeMargin(index, uniforms.zShape[1]).x);'), MARGIN);
  return runProgram(args, p, [z, oneHot, labelMask], seedUniforms(args.attrs as unknown as SeedAttrs));
}

interface AdamAttrs extends CwBox {
  b1: number;
  b2: number;
  eps: number;
  it: number;
  /** Which output this program writes. */
  out: 'w' | 'm' | 'v';
}

function adamKernel(args: KernelArgs): tf.TensorInfo {
  const { w, x0, g, m, v, lr } = args.inputs as Record<'w' | 'x0' | 'g' | 'm' | 'v' | 'lr', tf.TensorInfo>;
  const a = args.attrs as unknown as AdamAttrs;
  const result = a.out === 'w' ? 'f32(w[index]) - (mj / (sqrt(vj) + uniforms.eps)) * f32(lr[uniforms.it])' : a.out === 'm' ? 'mj' : 'vj';
  // The op path's order: dA = 2(x′ − x₀) + g; through the clip and the tanh; then Adam (bias correction in lr).
  const body = `
    let t = probeTanh(f32(w[index]));
    let u = probeU(t);
    let d = clamp(u, uniforms.lo, uniforms.hi) - f32(x0[index]);
    let dA = d * 2.0 + f32(g[index]);
    let inBox = u >= uniforms.lo && u <= uniforms.hi;
    let grad = select(0.0, dA * uniforms.scale * (1.0 - t * t), inBox);
    let mj = f32(m[index]) * uniforms.b1 + grad * uniforms.b1c;
    let vj = f32(v[index]) * uniforms.b2 + grad * grad * uniforms.b2c;
    _ = f32(lr[uniforms.it]); // every variant reads every input (WebGPU's layout drops unused bindings)
    setOutputAtIndex(index, ${result});`;
  const p = withHelpers(
    flatProgram(`probeCwAdam_${a.out}`, w.shape, ['w', 'x0', 'g', 'm', 'v', 'lr'], `${BOX_UNIFORMS} b1 : f32, b1c : f32, b2 : f32, b2c : f32, eps : f32, it : i32,`, body),
    TANH_AND_U,
  );
  return runProgram(args, p, [w, x0, g, m, v, lr], [
    ...boxUniforms(a),
    // 1 − β as the op path's constants (rounded from the double, not 1 − float32(β)).
    { type: 'float32', data: [a.b1] },
    { type: 'float32', data: [1 - a.b1] },
    { type: 'float32', data: [a.b2] },
    { type: 'float32', data: [1 - a.b2] },
    { type: 'float32', data: [a.eps] },
    { type: 'int32', data: [a.it] },
  ]);
}

interface BestAttrs {
  negKappa: number;
  /** Which output this program writes. */
  out: 'bestL2' | 'bestAdv' | 'stepSucc';
}

/**
 * The bookkeeping after an iteration, from the margin and ‖x′ − x₀‖² of the pre-update point:
 * succ = margin < −κ, improved = succ ∧ l2 < bestL2; bestL2 and bestAdv take l2 and x′ where improved,
 * stepSucc ∨= succ (bool).
 */
function bestKernel(args: KernelArgs): tf.TensorInfo {
  const { margin, l2, bestL2, adv, bestAdv, stepSucc } = args.inputs as Record<'margin' | 'l2' | 'bestL2' | 'adv' | 'bestAdv' | 'stepSucc', tf.TensorInfo>;
  const { negKappa, out } = args.attrs as unknown as BestAttrs;
  const row = out === 'bestAdv' ? 'index / uniforms.per' : 'index';
  const value =
    out === 'bestL2' ? 'select(f32(bestL2[r]), f32(l2[r]), improved)'
    : out === 'bestAdv' ? 'select(f32(bestAdv[index]), f32(adv[index]), improved)'
    : 'select(0.0, 1.0, succ || f32(stepSucc[r]) != 0.0)';
  // Every variant reads every input (WebGPU's layout drops unused bindings).
  const body = `
    let r = ${row};
    let succ = f32(margin[r]) < uniforms.negKappa;
    let improved = succ && f32(l2[r]) < f32(bestL2[r]);
    _ = f32(adv[0]) + f32(bestAdv[0]) + f32(stepSucc[0]);
    setOutputAtIndex(index, ${value});`;
  const shape = out === 'bestAdv' ? adv.shape : [adv.shape[0]];
  const per = adv.shape.slice(1).reduce((a, b) => a * b, 1);
  const p = flatProgram(`probeCwBest_${out}`, shape, ['margin', 'l2', 'bestL2', 'adv', 'bestAdv', 'stepSucc'], 'negKappa : f32, per : i32,', body);
  return runProgram(args, p, [margin, l2, bestL2, adv, bestAdv, stepSucc], [
    { type: 'float32', data: [negKappa] },
    { type: 'int32', data: [per] },
  ], out === 'stepSucc' ? 'bool' : 'float32');
}

let registered = false;
function register(): void {
  if (registered) return;
  registerWebGpuKernels([
    [K_ADV, advKernel],
    [K_L2, l2Kernel],
    [K_SEED, seedKernel],
    [K_MARGIN, marginKernel],
    [K_ADAM, adamKernel],
    [K_BEST, bestKernel],
  ]);
  registerWebGlCwKernels({ adv: K_ADV, l2: K_L2, seed: K_SEED, margin: K_MARGIN, adam: K_ADAM, best: K_BEST });
  registered = true;
}

/** Whether CW-L2 runs the kernels of this file (webgpu, or webgl through cw-webgl.ts; fused kernels on: kernels/fused.ts). */
export function cwGpuAvailable(): boolean {
  return fusedKernelsActive();
}

/** Runs a kernel of this file (its programs read every input through f32(), as kernels/fused.ts says why). */
const run = (name: string, inputs: Record<string, tf.Tensor>, attrs: object = {}): tf.Tensor => {
  register();
  return runKernel(name, inputs, attrs);
};

/** x′ = clip((tanh w + 1)·scale + lo, lo, hi). */
export const cwAdv = (w: tf.Tensor4D, box: CwBox): tf.Tensor4D => run(K_ADV, { w }, box) as tf.Tensor4D;

/** ‖x′ − x₀‖² per image. */
export const cwL2 = (adv: tf.Tensor4D, x0: tf.Tensor4D): tf.Tensor1D => run(K_L2, { adv, x0 }) as tf.Tensor1D;

/** The logits' cotangent c·1[margin ≥ −κ]·∂margin/∂Z ([n, k]). `labelMask` = 1e10·onehot. */
export const cwSeed = (z: tf.Tensor2D, oneHot: tf.Tensor2D, labelMask: tf.Tensor2D, c: tf.Tensor1D, attrs: SeedAttrs): tf.Tensor2D =>
  run(K_SEED, { z, oneHot, labelMask, c }, attrs) as tf.Tensor2D;

/** Z_y − max_{i≠y} Z_i (targeted: max_{i≠t} Z_i − Z_t), per image. */
export const cwMargin = (z: tf.Tensor2D, oneHot: tf.Tensor2D, labelMask: tf.Tensor2D, attrs: SeedAttrs): tf.Tensor1D =>
  run(K_MARGIN, { z, oneHot, labelMask }, attrs) as tf.Tensor1D;

/** One Adam step: w, m and v (three programs). `g` = ∂(c·f)/∂x′; `lr` Adam's step size per iteration, `it` the index. */
export function cwAdam(
  s: { w: tf.Tensor4D; x0: tf.Tensor4D; g: tf.Tensor4D; m: tf.Tensor4D; v: tf.Tensor4D; lr: tf.Tensor1D },
  attrs: CwBox & { b1: number; b2: number; eps: number; it: number },
): { w: tf.Tensor4D; m: tf.Tensor4D; v: tf.Tensor4D } {
  const one = (out: 'w' | 'm' | 'v'): tf.Tensor4D => run(K_ADAM, s, { ...attrs, out }) as tf.Tensor4D;
  return { w: one('w'), m: one('m'), v: one('v') };
}

/**
 * The best-so-far bookkeeping of one iteration (three programs): with succ = margin < −κ and
 * improved = succ ∧ l2 < bestL2, bestL2 and bestAdv where improved, and stepSucc ∨ succ.
 */
export function cwBest(
  s: { margin: tf.Tensor1D; l2: tf.Tensor1D; bestL2: tf.Tensor1D; adv: tf.Tensor4D; bestAdv: tf.Tensor4D; stepSucc: tf.Tensor1D },
  negKappa: number,
): { bestL2: tf.Tensor1D; bestAdv: tf.Tensor4D; stepSucc: tf.Tensor1D } {
  const one = (out: BestAttrs['out']): tf.Tensor => run(K_BEST, s, { negKappa, out });
  return { bestL2: one('bestL2') as tf.Tensor1D, bestAdv: one('bestAdv') as tf.Tensor4D, stepSucc: one('stepSucc') as tf.Tensor1D };
}
