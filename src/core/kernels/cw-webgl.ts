/**
 * CW-L2's kernels of kernels/cw-webgpu.ts on the webgl backend, as GLSL programs (tfjs-backend-webgl
 * 4.22's GPGPUProgram interface): the same computations in the same float32 order, registered under the
 * same kernel names, so that attacks/cw.ts runs one code path on either GPU backend. tanh is
 * tfjs-backend-webgl's own formula (kernels/Tanh.js, the same as WebGPU's), so x′ matches the op path on
 * the device. Shapes are baked into the source; the box, κ, Adam's constants and the iteration index are
 * uniforms (no new program per iteration or per constant). Tests: tests/e2e/webgl-kernels.test.ts.
 */
import type * as tf from '@tensorflow/tfjs';
import type { KernelArgs } from './fused';
import { registerWebGlKernels, runGlProgram as run, type GlProgram } from './fused-webgl';

interface CwBox {
  lo: number;
  hi: number;
  scale: number;
}

const TANH_AND_U = `
  float probeTanh(float a) {
    float e2x = exp(-2.0 * abs(a));
    return sign(a) * (1.0 - e2x) / (1.0 + e2x);
  }
  float probeU(float t) {
    return (t + 1.0) * scaleVal + loVal;
  }`;
const BOX_UNIFORMS: GlProgram['customUniforms'] = [
  { name: 'loVal', type: 'float' },
  { name: 'hiVal', type: 'float' },
  { name: 'scaleVal', type: 'float' },
];
const boxValues = (b: CwBox): number[][] => [[b.lo], [b.hi], [b.scale]];

function advKernel(args: KernelArgs): tf.TensorInfo {
  const w = args.inputs.w as tf.TensorInfo;
  const userCode = `${TANH_AND_U}
    void main() {
      setOutput(clamp(probeU(probeTanh(getWAtOutCoords())), loVal, hiVal));
    }`;
  return run(args, { variableNames: ['w'], outputShape: w.shape, userCode, customUniforms: BOX_UNIFORMS }, [w], boxValues(args.attrs as unknown as CwBox));
}

function l2Kernel(args: KernelArgs): tf.TensorInfo {
  const adv = args.inputs.adv as tf.TensorInfo;
  const x0 = args.inputs.x0 as tf.TensorInfo;
  const [n, h, w, c] = adv.shape;
  // One output per image, summed in flat (row-major) order as the WebGPU kernel does.
  const userCode = `
    void main() {
      int b = getOutputCoords();
      float s = 0.0;
      for (int r = 0; r < ${h}; r++) {
        for (int col = 0; col < ${w}; col++) {
          for (int d = 0; d < ${c}; d++) {
            float diff = getAdv(b, r, col, d) - getX0(b, r, col, d);
            s += diff * diff;
          }
        }
      }
      setOutput(s);
    }`;
  return run(args, { variableNames: ['adv', 'x0'], outputShape: [n], userCode }, [adv, x0]);
}

interface SeedAttrs {
  negKappa: number;
  targeted: boolean;
}

/** Per row: other = max (Z − labelMask), real = Σ Z ⊙ onehot, margin. */
const marginFn = (k: number): string => `
  vec2 probeMargin(int row) {
    float other = getZ(row, 0) - getLabelMask(row, 0);
    for (int j = 1; j < ${k}; j++) { other = max(other, getZ(row, j) - getLabelMask(row, j)); }
    float real = 0.0;
    for (int j = 0; j < ${k}; j++) { real += getZ(row, j) * getOneHot(row, j); }
    float margin = targeted != 0 ? other - real : real - other;
    return vec2(margin, other);
  }`;
const SEED_UNIFORMS: GlProgram['customUniforms'] = [
  { name: 'negKappa', type: 'float' },
  { name: 'targeted', type: 'int' },
];
const seedValues = (a: SeedAttrs): number[][] => [[a.negKappa], [a.targeted ? 1 : 0]];

function seedKernel(args: KernelArgs): tf.TensorInfo {
  const { z, oneHot, labelMask, c } = args.inputs as Record<'z' | 'oneHot' | 'labelMask' | 'c', tf.TensorInfo>;
  const userCode = `${marginFn(z.shape[1])}
    void main() {
      ivec2 coords = getOutputCoords();
      int row = coords.x;
      int col = coords.y;
      vec2 mo = probeMargin(row);
      float otherMask = getZ(row, col) - getLabelMask(row, col) == mo.y ? 1.0 : 0.0;
      float dm = targeted != 0 ? otherMask - getOneHot(row, col) : getOneHot(row, col) - otherMask;
      float act = mo.x >= negKappa ? 1.0 : 0.0;
      setOutput(dm * (getC(row) * act));
    }`;
  const program = { variableNames: ['z', 'oneHot', 'labelMask', 'c'], outputShape: z.shape, userCode, customUniforms: SEED_UNIFORMS };
  return run(args, program, [z, oneHot, labelMask, c], seedValues(args.attrs as unknown as SeedAttrs));
}

function marginKernel(args: KernelArgs): tf.TensorInfo {
  const { z, oneHot, labelMask } = args.inputs as Record<'z' | 'oneHot' | 'labelMask', tf.TensorInfo>;
  const userCode = `${marginFn(z.shape[1])}
    void main() {
      setOutput(probeMargin(getOutputCoords()).x);
    }`;
  const program = { variableNames: ['z', 'oneHot', 'labelMask'], outputShape: [z.shape[0]], userCode, customUniforms: SEED_UNIFORMS };
  return run(args, program, [z, oneHot, labelMask], seedValues(args.attrs as unknown as SeedAttrs));
}

interface AdamAttrs extends CwBox {
  b1: number;
  b2: number;
  eps: number;
  it: number;
  out: 'w' | 'm' | 'v';
}

function adamKernel(args: KernelArgs): tf.TensorInfo {
  const { w, x0, g, m, v, lr } = args.inputs as Record<'w' | 'x0' | 'g' | 'm' | 'v' | 'lr', tf.TensorInfo>;
  const a = args.attrs as unknown as AdamAttrs;
  const result = a.out === 'w' ? 'getWAtOutCoords() - (mj / (sqrt(vj) + epsVal)) * getLr(it)' : a.out === 'm' ? 'mj' : 'vj';
  // The op path's order: dA = 2(x′ − x₀) + g; through the clip and the tanh; then Adam (bias correction in lr).
  const userCode = `${TANH_AND_U}
    void main() {
      float t = probeTanh(getWAtOutCoords());
      float u = probeU(t);
      float d = clamp(u, loVal, hiVal) - getX0AtOutCoords();
      float dA = d * 2.0 + getGAtOutCoords();
      bool inBox = u >= loVal && u <= hiVal;
      float grad = inBox ? dA * scaleVal * (1.0 - t * t) : 0.0;
      float mj = getMAtOutCoords() * b1 + grad * b1c;
      float vj = getVAtOutCoords() * b2 + grad * grad * b2c;
      setOutput(${result});
    }`;
  const uniforms: GlProgram['customUniforms'] = [
    ...(BOX_UNIFORMS ?? []),
    { name: 'b1', type: 'float' },
    { name: 'b1c', type: 'float' },
    { name: 'b2', type: 'float' },
    { name: 'b2c', type: 'float' },
    { name: 'epsVal', type: 'float' },
    { name: 'it', type: 'int' },
  ];
  const program = { variableNames: ['w', 'x0', 'g', 'm', 'v', 'lr'], outputShape: w.shape, userCode, customUniforms: uniforms };
  // 1 − β as the op path's constants (rounded from the double, not 1 − float32(β)).
  return run(args, program, [w, x0, g, m, v, lr], [...boxValues(a), [a.b1], [1 - a.b1], [a.b2], [1 - a.b2], [a.eps], [a.it]]);
}

interface BestAttrs {
  negKappa: number;
  out: 'bestL2' | 'bestAdv' | 'stepSucc';
}

function bestKernel(args: KernelArgs): tf.TensorInfo {
  const { margin, l2, bestL2, adv, bestAdv, stepSucc } = args.inputs as Record<'margin' | 'l2' | 'bestL2' | 'adv' | 'bestAdv' | 'stepSucc', tf.TensorInfo>;
  const { negKappa, out } = args.attrs as unknown as BestAttrs;
  const row = out === 'bestAdv' ? 'getOutputCoords()[0]' : 'getOutputCoords()';
  const value =
    out === 'bestL2' ? 'improved ? getL2(r) : getBestL2(r)'
    : out === 'bestAdv' ? 'improved ? getAdvAtOutCoords() : getBestAdvAtOutCoords()'
    : 'succ || getStepSucc(r) != 0.0 ? 1.0 : 0.0';
  const userCode = `
    void main() {
      int r = ${row};
      bool succ = getMargin(r) < negKappa;
      bool improved = succ && getL2(r) < getBestL2(r);
      setOutput(${value});
    }`;
  const shape = out === 'bestAdv' ? adv.shape : [adv.shape[0]];
  const program = { variableNames: ['margin', 'l2', 'bestL2', 'adv', 'bestAdv', 'stepSucc'], outputShape: shape, userCode, customUniforms: [{ name: 'negKappa', type: 'float' as const }] };
  return run(args, program, [margin, l2, bestL2, adv, bestAdv, stepSucc], [[negKappa]], out === 'stepSucc' ? 'bool' : 'float32');
}

let registered = false;
/** Registers the WebGL versions of cw-webgpu.ts's kernels under the same names (idempotent; needs no WebGL context). */
export function registerWebGlCwKernels(names: { adv: string; l2: string; seed: string; margin: string; adam: string; best: string }): void {
  if (registered) return;
  registerWebGlKernels([
    [names.adv, advKernel],
    [names.l2, l2Kernel],
    [names.seed, seedKernel],
    [names.margin, marginKernel],
    [names.adam, adamKernel],
    [names.best, bestKernel],
  ]);
  registered = true;
}
