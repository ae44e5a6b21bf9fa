/**
 * The fused kernels of kernels/fused.ts on the webgl backend: the same four computations, each one
 * GLSL program (tfjs-backend-webgl 4.22's GPGPUProgram interface, `runWebGLProgram`), so that an
 * attack step on WebGL runs as few programs as on WebGPU. Each draw call costs host time whatever its
 * size, as a WebGPU dispatch does. The programs read their inputs by coordinates (`getX(b, r, c, d)`,
 * `get…AtOutCoords()`), with the shapes baked into the source (tfjs caches a compiled program per
 * source and input shapes); the step sizes and bounds of signStep are uniforms, so an ε-sweep compiles
 * no new program per ε. The max-pool gradient routes a window's gradient to its last maximum, as
 * tfjs's webgl MaxPoolGrad does ('>=' in its positions program) and as the WebGPU kernel does.
 * Correctness against the op path on WebGL and against the cpu backend:
 * tests/e2e/webgl-kernels.test.ts (headless Chromium, SwiftShader's WebGL 2).
 */
import * as tf from '@tensorflow/tfjs';
import type { KernelArgs } from './fused';

const BACKEND = 'webgl';

/** A program of tfjs-backend-webgl (4.22: its GPGPUProgram, the fields used here). */
export interface GlProgram {
  variableNames: string[];
  outputShape: number[];
  userCode: string;
  customUniforms?: { name: string; type: 'float' | 'int' }[];
}
interface WebGlBackendLike {
  runWebGLProgram(program: GlProgram, inputs: tf.TensorInfo[], outputDtype: tf.DataType, customUniformValues?: number[][]): tf.TensorInfo;
}

/** Starts the source of every program of this file and of cw-webgl.ts (a test counts them by it). */
export const WEBGL_FUSED_MARK = '// probe fused kernel';

/** Runs `program` on the kernel's (webgl) backend, with its custom uniforms' values in order; one output. */
export function runGlProgram(args: KernelArgs, program: GlProgram, inputs: tf.TensorInfo[], uniforms?: number[][], dtype: tf.DataType = 'float32'): tf.TensorInfo {
  const marked = { ...program, userCode: `${WEBGL_FUSED_MARK}\n${program.userCode}` };
  return (args.backend as unknown as WebGlBackendLike).runWebGLProgram(marked, inputs, dtype, uniforms);
}

/** Registers kernels on the webgl backend where they are not yet (needs no WebGL context). */
export function registerWebGlKernels(kernels: readonly [string, (a: KernelArgs) => tf.TensorInfo][]): void {
  for (const [kernelName, kernelFunc] of kernels) {
    if (!tf.getKernel(kernelName, BACKEND)) tf.registerKernel({ kernelName, backendName: BACKEND, kernelFunc: kernelFunc as tf.KernelFunc });
  }
}

const run = runGlProgram;

function crossEntropyDzKernel(args: KernelArgs): tf.TensorInfo {
  const z = args.inputs.z as tf.TensorInfo;
  const labels = args.inputs.labels as tf.TensorInfo | undefined;
  const k = z.shape[1];
  // As the WebGPU kernel: row max, y (the label, or the first index of the max), Σ exp(z − max), Σ_{j≠y} p_j.
  const userCode = `
    void main() {
      ivec2 coords = getOutputCoords();
      int row = coords.x;
      int col = coords.y;
      float m = getZ(row, 0);
      int am = 0;
      for (int j = 1; j < ${k}; j++) {
        float v = getZ(row, j);
        if (v > m) { m = v; am = j; }
      }
      int y = ${labels ? 'int(floor(getLabels(row) + 0.5))' : 'am'};
      float s = 0.0;
      for (int j = 0; j < ${k}; j++) { s += exp(getZ(row, j) - m); }
      if (col != y) {
        setOutput(exp(getZ(row, col) - m) / s);
      } else {
        float others = 0.0;
        for (int j = 0; j < ${k}; j++) {
          if (j != y) { others += exp(getZ(row, j) - m) / s; }
        }
        setOutput(-others);
      }
    }`;
  return run(args, { variableNames: labels ? ['z', 'labels'] : ['z'], outputShape: [z.shape[0], k], userCode }, labels ? [z, labels] : [z]);
}

function reluGradKernel(args: KernelArgs): tf.TensorInfo {
  const dy = args.inputs.dy as tf.TensorInfo;
  const y = args.inputs.y as tf.TensorInfo;
  const userCode = `
    void main() {
      setOutput(getYAtOutCoords() > 0.0 ? getDyAtOutCoords() : 0.0);
    }`;
  return run(args, { variableNames: ['dy', 'y'], outputShape: dy.shape, userCode }, [dy, y]);
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
  const [fh, fw, sh, sw] = [info.filterHeight, info.filterWidth, info.strideHeight, info.strideWidth];
  const [, h, w] = x.shape;
  const [, oh, ow] = dy.shape;
  // Windows that can hold one pixel, per axis: the loops have constant bounds.
  const ny = Math.ceil(fh / sh);
  const nx = Math.ceil(fw / sw);
  // As the WebGPU kernel: for the pixel (b, r, c, d), every window that holds it and in each the last maximum
  // (row-major, >=, in-bounds pixels only); the window's dy goes to it if it is this pixel. No negative integer
  // is divided (GLSL ES leaves that undefined).
  const userCode = `
    void main() {
      ivec4 coords = getOutputCoords();
      int b = coords[0];
      int r = coords[1];
      int c = coords[2];
      int d = coords[3];
      float acc = 0.0;
      if (${relu ? 'getX(b, r, c, d) > 0.0' : 'true'}) {
        int rp = r + ${info.padInfo.top};
        int cp = c + ${info.padInfo.left};
        int ny0 = rp - ${fh} + ${sh};
        int nx0 = cp - ${fw} + ${sw};
        int oy0 = ny0 > 0 ? ny0 / ${sh} : 0;
        int oy1 = min(${oh - 1}, rp / ${sh});
        int ox0 = nx0 > 0 ? nx0 / ${sw} : 0;
        int ox1 = min(${ow - 1}, cp / ${sw});
        for (int iy = 0; iy < ${ny}; iy++) {
          int oy = oy0 + iy;
          if (oy > oy1) { break; }
          for (int ix = 0; ix < ${nx}; ix++) {
            int ox = ox0 + ix;
            if (ox > ox1) { break; }
            int r0 = oy * ${sh} - ${info.padInfo.top};
            int c0 = ox * ${sw} - ${info.padInfo.left};
            float best = 0.0;
            bool found = false;
            int br = -1;
            int bc = -1;
            for (int i = 0; i < ${fh}; i++) {
              int rr = r0 + i;
              if (rr < 0 || rr >= ${h}) { continue; }
              for (int j = 0; j < ${fw}; j++) {
                int cc = c0 + j;
                if (cc < 0 || cc >= ${w}) { continue; }
                float v = getX(b, rr, cc, d);
                if (!found || v >= best) { best = v; found = true; br = rr; bc = cc; }
              }
            }
            if (br == r && bc == c) { acc += getDy(b, oy, ox, d); }
          }
        }
      }
      setOutput(acc);
    }`;
  return run(args, { variableNames: ['dy', 'x'], outputShape: x.shape, userCode }, [dy, x]);
}

interface StepAttrs {
  step: number;
  lo: number;
  hi: number;
  radius: number | null;
}

const STEP_UNIFORMS: GlProgram['customUniforms'] = [
  { name: 'stepSize', type: 'float' },
  { name: 'loVal', type: 'float' },
  { name: 'hiVal', type: 'float' },
  { name: 'radiusVal', type: 'float' },
];

function signStepKernel(args: KernelArgs): tf.TensorInfo {
  const x = args.inputs.x as tf.TensorInfo;
  const g = args.inputs.g as tf.TensorInfo;
  const x0 = args.inputs.x0 as tf.TensorInfo | undefined;
  const { step, lo, hi, radius } = args.attrs as unknown as StepAttrs;
  // The same float32 operations, in the same order, as the op path (fused.ts signStep).
  const userCode = x0
    ? `
    void main() {
      float moved = getXAtOutCoords() + sign(getGAtOutCoords()) * stepSize;
      float delta = clamp(moved - getX0AtOutCoords(), -radiusVal, radiusVal);
      setOutput(clamp(getX0AtOutCoords() + delta, loVal, hiVal));
    }`
    : `
    void main() {
      setOutput(clamp(getXAtOutCoords() + sign(getGAtOutCoords()) * stepSize, loVal, hiVal));
    }`;
  const program: GlProgram = { variableNames: x0 ? ['x', 'g', 'x0'] : ['x', 'g'], outputShape: x.shape, userCode, customUniforms: STEP_UNIFORMS };
  return run(args, program, x0 ? [x, g, x0] : [x, g], [[step], [lo], [hi], [radius ?? 0]]);
}

let registered = false;
/** Registers the WebGL versions of fused.ts's kernels under the same names (idempotent; needs no WebGL context). */
export function registerWebGlFusedKernels(names: { ce: string; relu: string; pool: string; step: string }): void {
  if (registered) return;
  registerWebGlKernels([
    [names.ce, crossEntropyDzKernel],
    [names.relu, reluGradKernel],
    [names.pool, maxPoolGradKernel],
    [names.step, signStepKernel],
  ]);
  registered = true;
}
