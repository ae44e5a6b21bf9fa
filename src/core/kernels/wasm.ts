/**
 * Kernel patches for the tfjs wasm backend (tfjs 4.22).
 *
 * - `Conv2DBackpropFilter` is not shipped for wasm, so conv nets cannot train there.
 *   We register one composed from kernels wasm does have (transpose, pad, slice, conv2d).
 * - `Sign` in wasm returns 0 for |x| below about 1e-6 (tfjs 4.22), which zeroes FGSM steps
 *   wherever the loss gradient is small (confident examples): replaced by an exact sign.
 *
 * Speedups (on by default), which make an input gradient of a LeNet about 4× faster at batch 1:
 * - `BatchMatMul` with a transposed operand runs a slow scalar loop in wasm; we transpose
 *   explicitly and call the fast (untransposed, XNNPACK) path. Every dense-layer gradient uses it.
 * - `Conv2DBackpropInput` is a naive loop in wasm; for NHWC we compute it as one fast matMul,
 *   columns = dy [N·OH·OW, Co] × filterᵀ [Co, KH·KW·Ci], then sum the columns into dx (col2im, JS).
 * - `MaxPoolGrad` (shipped, C++) is slow; replaced by a JS loop with exactly its semantics.
 * - `Identity` copies the data; replaced by one that shares it (as on cpu and webgl). The engine
 *   clones every tensor it saves for a backward pass, the weights included.
 *
 * Weight layouts (a transposed matrix, the filter as [Co, KH·KW·Ci]) are cached per source data
 * id from its second use on: the attacks run the same model's backward pass thousands of times,
 * and XNNPACK also keeps its packed weights per data id, so a cached layout saves both the
 * transpose and the repacking. A data id's contents never change (Variable.assign moves the
 * variable to the new value's data id), so an entry cannot go stale; it is freed once its source
 * is disposed (checked at every patched call), when the cache exceeds its budget (LRU), or by
 * `clearWasmKernelCache()`. Entries are backend data outside the engine (tf.memory() does not
 * count them). No caching while the `IS_TEST` flag is set: the engine's per-kernel leak check
 * would report the retained data ids.
 *
 * Pure tfjs: this file is bundled into the browser extension too.
 * `patchWasmKernels()` must run before `tf.setBackend('wasm')`, because the engine calls
 * each kernel's `setupFunc` when the backend is selected.
 */
import * as tf from '@tensorflow/tfjs';
// Side effect: registers the shipped wasm kernels, which we then replace.
import '@tensorflow/tfjs-backend-wasm';
import { wrap } from './wrap';

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

// ---------------------------------------------------------------------------------------------
// Direct access to the wasm heap: the kernels below read their inputs and write their outputs in
// place, and call shipped kernels with bare TensorInfos (no engine tensors, no tidy).

/** The parts of tfjs-backend-wasm's BackendWasm used here. */
interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): tf.TypedArray;
  disposeData(dataId: tf.DataId, force?: boolean): boolean;
  refCount(dataId: tf.DataId): number;
  incRef(dataId: tf.DataId): void;
}

function heapBackend(backend: unknown): WasmHeapBackend {
  return backend as WasmHeapBackend;
}

/** A float32 view of `info`'s data. Take views only after the last allocation (memory growth detaches them). */
function f32(backend: WasmHeapBackend, info: tf.TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(info) as Float32Array;
}

function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

// ---------------------------------------------------------------------------------------------
// Cache of derived weight layouts (see the file comment).

/** Cache budget: the bytes of derived layouts kept per backend (least recently used go first). */
const CACHE_BUDGET_BYTES = 64 * 1024 * 1024;

interface CacheEntry {
  readonly source: tf.DataId;
  readonly info: tf.TensorInfo;
  readonly bytes: number;
  /** The kernel call that last used it (never evicted during that call). */
  call: number;
}

class DerivedCache {
  /** Insertion order = recency (a hit moves its entry to the end). */
  private readonly entries = new Map<string, CacheEntry>();
  private readonly ids = new WeakMap<tf.DataId, number>();
  private nextId = 1;
  /** Keys derived once (not cached yet), per source data id. */
  private readonly seen = new WeakMap<tf.DataId, Set<string>>();
  private call = 0;
  bytes = 0;
  hits = 0;
  misses = 0;

  constructor(private readonly backend: WasmHeapBackend) {}

  get size(): number {
    return this.entries.size;
  }

  private fullKey(source: tf.DataId, key: string): string {
    let id = this.ids.get(source);
    if (id === undefined) {
      id = this.nextId++;
      this.ids.set(source, id);
    }
    return `${id}|${key}`;
  }

  /** At the start of each patched kernel call: frees the entries whose source data is gone (disposed, or moved to another backend). */
  beginCall(): void {
    this.call++;
    for (const [k, e] of this.entries) {
      if (this.backend.refCount(e.source) === 0) this.drop(k, e);
    }
  }

  get(source: tf.DataId, key: string): tf.TensorInfo | undefined {
    const k = this.fullKey(source, key);
    const e = this.entries.get(k);
    if (e === undefined) return undefined;
    this.entries.delete(k);
    this.entries.set(k, e);
    e.call = this.call;
    this.hits++;
    return e.info;
  }

  /**
   * Records a derivation and keeps it when this is the second use of this source and key (a
   * weight, not a one-off activation) and it fits in the budget after evicting least recently
   * used entries (not those of the current call).
   */
  offer(source: tf.DataId, key: string, info: tf.TensorInfo, bytes: number): boolean {
    this.misses++;
    if (tf.env().getBool('IS_TEST') || bytes > CACHE_BUDGET_BYTES) return false;
    let keys = this.seen.get(source);
    if (keys === undefined) {
      keys = new Set();
      this.seen.set(source, keys);
    }
    if (!keys.has(key)) {
      keys.add(key);
      return false;
    }
    for (const [k, e] of this.entries) {
      if (this.bytes + bytes <= CACHE_BUDGET_BYTES) break;
      if (e.call !== this.call) this.drop(k, e);
    }
    if (this.bytes + bytes > CACHE_BUDGET_BYTES) return false;
    this.entries.set(this.fullKey(source, key), { source, info, bytes, call: this.call });
    this.bytes += bytes;
    return true;
  }

  clear(): void {
    for (const [k, e] of this.entries) this.drop(k, e);
  }

  private drop(k: string, e: CacheEntry): void {
    this.entries.delete(k);
    this.bytes -= e.bytes;
    this.backend.disposeData(e.info.dataId, true);
  }
}

const caches = new WeakMap<object, DerivedCache>();

function cacheOf(backend: WasmHeapBackend): DerivedCache {
  let c = caches.get(backend);
  if (c === undefined) {
    c = new DerivedCache(backend);
    caches.set(backend, c);
  }
  return c;
}

/** The cache of the live wasm backend, if that backend exists (never initialises one). */
function liveCache(): DerivedCache | undefined {
  const backend = tf.engine().registry[BACKEND] as unknown;
  return backend == null ? undefined : caches.get(backend as object);
}

interface Derived {
  readonly info: tf.TensorInfo;
  /** Frees the layout unless the cache keeps it. */
  release(): void;
}

/**
 * `source` rearranged by `fill(src, dst)` into a new float32 tensor of `shape`: from the cache,
 * or computed (and kept from the second use of the same source data id and key on).
 */
function derive(
  backend: WasmHeapBackend,
  source: tf.TensorInfo,
  key: string,
  shape: number[],
  fill: (src: Float32Array, dst: Float32Array) => void,
): Derived {
  const cache = cacheOf(backend);
  const hit = cache.get(source.dataId, key);
  if (hit !== undefined) return { info: hit, release: () => {} };
  const out = backend.makeOutput(shape, 'float32');
  fill(f32(backend, source), f32(backend, out));
  if (cache.offer(source.dataId, key, out, 4 * sizeOf(shape))) return { info: out, release: () => {} };
  return { info: out, release: () => backend.disposeData(out.dataId) };
}

/** x [..., R, C] as [..., C, R]: a copy, cached per data id and shape (weights are used repeatedly). */
function transposedLastTwo(backend: WasmHeapBackend, x: tf.TensorInfo): Derived {
  const shape = x.shape;
  const rank = shape.length;
  const rows = shape[rank - 2];
  const cols = shape[rank - 1];
  const batch = sizeOf(shape.slice(0, rank - 2));
  const outShape = [...shape.slice(0, rank - 2), cols, rows];
  return derive(backend, x, `T:${shape.join(',')}`, outShape, (src, dst) => {
    for (let b = 0, base = 0; b < batch; b++, base += rows * cols) {
      for (let r = 0; r < rows; r++) {
        const s = base + r * cols;
        for (let c = 0, d = base + r; c < cols; c++, d += rows) dst[d] = src[s + c];
      }
    }
  });
}

/** x [..., R, C] with R or C = 1 as [..., C, R]: the same data. */
function swappedView(x: tf.TensorInfo): Derived {
  const r = x.shape.length;
  const shape = [...x.shape.slice(0, r - 2), x.shape[r - 1], x.shape[r - 2]];
  return { info: { dataId: x.dataId, shape, dtype: x.dtype }, release: () => {} };
}

function makeBatchMatMul(original: tf.KernelFunc): tf.KernelFunc {
  return (args: KernelArgs) => {
    const { transposeA, transposeB } = args.attrs as unknown as tf.BatchMatMulAttrs;
    if (!transposeA && !transposeB) return original(args);
    const a = args.inputs.a as tf.TensorInfo;
    const b = args.inputs.b as tf.TensorInfo;
    if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 || b.shape.length < 2 ||
        sizeOf(a.shape) === 0 || sizeOf(b.shape) === 0) {
      return original(args); // it reports any error
    }
    const backend = heapBackend(args.backend);
    cacheOf(backend).beginCall();
    // `b` is always a copy, never a reshaped view: XNNPACK caches its packed weights by the data
    // id of `b`. A vector `a` needs no copy (same layout either way).
    const aVector = a.shape[a.shape.length - 1] === 1 || a.shape[a.shape.length - 2] === 1;
    const at = !transposeA ? null : aVector ? swappedView(a) : transposedLastTwo(backend, a);
    const bt = transposeB ? transposedLastTwo(backend, b) : null;
    try {
      return original({
        inputs: { a: at ? at.info : a, b: bt ? bt.info : b },
        backend: args.backend,
        attrs: { ...args.attrs, transposeA: false, transposeB: false },
      });
    } finally {
      at?.release();
      bt?.release();
    }
  };
}

/** Most column floats (N·OH·OW·KH·KW·Ci) that Conv2DBackpropInput materialises at once (16 MiB). */
const COLS_CHUNK_FLOATS = 4 * 1024 * 1024;

/**
 * dx [N, H, W, Ci] from cols [N, OH, OW, KH, KW, Ci]: each dx element sums (in float64, rounded
 * once) the column entries of the output positions whose window covers it, in (ky, kx) order.
 */
function col2im(
  cols: Float32Array, dx: Float32Array, n: number, h: number, w: number, ci: number,
  oh: number, ow: number, kh: number, kw: number, sh: number, sw: number, top: number, left: number,
): void {
  if (sh === 1 && sw === 1) {
    col2imStride1(cols, dx, n, h, w, ci, oh, ow, kh, kw, top, left);
    return;
  }
  const acc = new Float64Array(ci);
  const k = kh * kw * ci;
  let d = 0;
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++, d += ci) {
        for (let c = 0; c < ci; c++) acc[c] = 0;
        for (let ky = 0; ky < kh; ky++) {
          const oyn = y + top - ky;
          if (oyn < 0) break;
          const oy = (oyn / sh) | 0;
          if (oy * sh !== oyn || oy >= oh) continue;
          const rowBase = (b * oh + oy) * ow;
          for (let kx = 0; kx < kw; kx++) {
            const oxn = x + left - kx;
            if (oxn < 0) break;
            const ox = (oxn / sw) | 0;
            if (ox * sw !== oxn || ox >= ow) continue;
            const s = (rowBase + ox) * k + (ky * kw + kx) * ci;
            for (let c = 0; c < ci; c++) acc[c] += cols[s + c];
          }
        }
        for (let c = 0; c < ci; c++) dx[d + c] = acc[c];
      }
    }
  }
}

/**
 * col2im for stride 1: output position (y + top − ky, x + left − kx) for tap (ky, kx). Channels four at a time in
 * local accumulators (registers, not loads and stores of an accumulator array), each still summed in float64 in (ky, kx) order.
 */
function col2imStride1(
  cols: Float32Array, dx: Float32Array, n: number, h: number, w: number, ci: number,
  oh: number, ow: number, kh: number, kw: number, top: number, left: number,
): void {
  const k = kh * kw * ci;
  const c4 = ci - (ci % 4);
  let d = 0;
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < h; y++) {
      const kyLo = Math.max(0, y + top - oh + 1);
      const kyHi = Math.min(kh - 1, y + top);
      for (let x = 0; x < w; x++, d += ci) {
        const kxLo = Math.max(0, x + left - ow + 1);
        const kxHi = Math.min(kw - 1, x + left);
        for (let c = 0; c < c4; c += 4) {
          let a0 = 0;
          let a1 = 0;
          let a2 = 0;
          let a3 = 0;
          for (let ky = kyLo; ky <= kyHi; ky++) {
            const rowBase = (b * oh + y + top - ky) * ow + x + left;
            for (let kx = kxLo; kx <= kxHi; kx++) {
              const s = (rowBase - kx) * k + (ky * kw + kx) * ci + c;
              a0 += cols[s];
              a1 += cols[s + 1];
              a2 += cols[s + 2];
              a3 += cols[s + 3];
            }
          }
          dx[d + c] = a0;
          dx[d + c + 1] = a1;
          dx[d + c + 2] = a2;
          dx[d + c + 3] = a3;
        }
        for (let c = c4; c < ci; c++) {
          let a = 0;
          for (let ky = kyLo; ky <= kyHi; ky++) {
            const rowBase = (b * oh + y + top - ky) * ow + x + left;
            for (let kx = kxLo; kx <= kxHi; kx++) a += cols[(rowBase - kx) * k + (ky * kw + kx) * ci + c];
          }
          dx[d + c] = a;
        }
      }
    }
  }
}

/**
 * dx of conv2d (NHWC, any stride and padding): cols = dy [N·OH·OW, Co] × W' [Co, KH·KW·Ci] on
 * the fast matMul path (W' = the filter [KH·KW·Ci, Co] transposed, cached), then col2im.
 */
function makeConv2DBackpropInput(original: tf.KernelFunc): tf.KernelFunc {
  return (args: KernelArgs) => {
    const { strides, pad, dataFormat, dimRoundingMode, inputShape } =
      args.attrs as unknown as tf.Conv2DBackpropInputAttrs;
    const dy = args.inputs.dy as tf.TensorInfo;
    const filter = args.inputs.filter as tf.TensorInfo;
    if (dataFormat === 'NCHW' || dy.dtype !== 'float32' || filter.dtype !== 'float32' ||
        filter.shape.length !== 4 || dy.shape.length !== 4 || sizeOf(dy.shape) === 0 || sizeOf(filter.shape) === 0) {
      return original(args);
    }
    const fShape = filter.shape as [number, number, number, number];
    const info = tf.backend_util.computeConv2DInfo(
      inputShape, fShape, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
    const { batchSize: n, inHeight: h, inWidth: w, inChannels: ci, outHeight: oh, outWidth: ow,
      outChannels: co, filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw,
      dilationHeight, dilationWidth, padInfo } = info;
    if (dy.shape[0] !== n || dy.shape[1] !== oh || dy.shape[2] !== ow || dy.shape[3] !== co ||
        dilationHeight !== 1 || dilationWidth !== 1 || fShape[2] !== ci) {
      return original(args);
    }
    const backend = heapBackend(args.backend);
    cacheOf(backend).beginCall();
    const k = kh * kw * ci;
    const matMul = tf.getKernel(tf.BatchMatMul, BACKEND)!.kernelFunc;
    const wt = derive(backend, filter, `convT:${fShape.join(',')}`, [1, co, k], (src, dst) => {
      for (let j = 0; j < k; j++) {
        for (let o = 0, s = j * co; o < co; o++) dst[o * k + j] = src[s + o];
      }
    });
    const dx = backend.makeOutput([n, h, w, ci], 'float32');
    const rowsPerImage = oh * ow;
    // Whole images per matMul, at most COLS_CHUNK_FLOATS of columns at a time (big training batches).
    const chunk = Math.max(1, Math.min(n, Math.floor(COLS_CHUNK_FLOATS / (rowsPerImage * k))));
    try {
      for (let b0 = 0; b0 < n; b0 += chunk) {
        const nb = Math.min(chunk, n - b0);
        let a: tf.TensorInfo = { dataId: dy.dataId, shape: [1, nb * rowsPerImage, co], dtype: 'float32' };
        if (nb < n) { // this chunk's rows of dy, copied
          a = backend.makeOutput([1, nb * rowsPerImage, co], 'float32');
          const from = b0 * rowsPerImage * co;
          f32(backend, a).set(f32(backend, dy).subarray(from, from + nb * rowsPerImage * co));
        }
        const cols = matMul({
          inputs: { a, b: wt.info },
          backend: args.backend,
          attrs: { transposeA: false, transposeB: false },
        }) as tf.TensorInfo;
        if (a.dataId !== dy.dataId) backend.disposeData(a.dataId);
        const dxv = f32(backend, dx).subarray(b0 * h * w * ci, (b0 + nb) * h * w * ci);
        col2im(f32(backend, cols), dxv, nb, h, w, ci, oh, ow, kh, kw, sh, sw, padInfo.top, padInfo.left);
        backend.disposeData(cols.dataId);
      }
    } finally {
      wt.release();
    }
    return dx;
  };
}

/**
 * Identity sharing the input's data (incRef), as the cpu and webgl backends (and wasm's own
 * Reshape) do, instead of copying it. The engine clones every tensor it saves for a backward pass
 * through Identity: the copies cost time, and gave the weights a new data id at every pass, which
 * also defeated the layout cache and XNNPACK's packed-weight cache. Data is never written in place,
 * so sharing is safe. Strings keep the shipped kernel.
 */
function makeIdentity(original: tf.KernelFunc): tf.KernelFunc {
  return (args: KernelArgs) => {
    const x = args.inputs.x as tf.TensorInfo;
    if (x.dtype === 'string') return original(args);
    heapBackend(args.backend).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
}

/** std::numeric_limits<float>::min(): the shipped kernel's initial running max (see maxPoolGrad). */
const FLT_MIN = 1.1754943508222875e-38;

/**
 * MaxPoolGrad with exactly the semantics of the shipped wasm kernel (tfjs 4.22), only faster:
 * - the max of a window is its LAST element (row-major) that is >= the running max, which starts
 *   at FLT_MIN (the smallest positive normal float) at flat offset 0: a window whose values are all
 *   below FLT_MIN (zeros, negatives, NaN) routes its gradient to element 0 of the whole input when
 *   the window contains it, else nowhere;
 * - dx = Σ over the windows containing the element, in row-major window order, of dy·[is max],
 *   in float32 (so a non-finite dy makes its whole window NaN, as 0·∞ = NaN).
 */
function makeMaxPoolGrad(original: tf.KernelFunc): tf.KernelFunc {
  return (args: KernelArgs) => {
    const { filterSize, strides, pad, dimRoundingMode } = args.attrs as unknown as tf.MaxPoolGradAttrs;
    const dy = args.inputs.dy as tf.TensorInfo;
    const input = args.inputs.input as tf.TensorInfo;
    if (input.dtype !== 'float32' || dy.dtype !== 'float32' || input.shape.length !== 4 || sizeOf(input.shape) === 0) {
      return original(args);
    }
    const info = tf.backend_util.computePool2DInfo(
      input.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
    const { batchSize: n, inHeight: h, inWidth: w, inChannels: ch, outHeight: oh, outWidth: ow,
      strideHeight: sh, strideWidth: sw, effectiveFilterHeight: fh, effectiveFilterWidth: fw,
      dilationHeight, dilationWidth, padInfo } = info;
    if (dilationHeight !== 1 || dilationWidth !== 1 || sizeOf(dy.shape) !== n * oh * ow * ch) return original(args);
    const backend = heapBackend(args.backend);
    const dx = backend.makeOutput(input.shape, 'float32');
    const xv = f32(backend, input);
    const dyv = f32(backend, dy);
    const dxv = f32(backend, dx);
    dxv.fill(0);
    const rowLen = w * ch;
    for (let b = 0; b < n; b++) {
      for (let oy = 0; oy < oh; oy++) {
        const yc = oy * sh - padInfo.top;
        const y0 = Math.max(yc, 0);
        const y1 = Math.min(h, yc + fh);
        for (let ox = 0; ox < ow; ox++) {
          const xc = ox * sw - padInfo.left;
          const x0 = Math.max(xc, 0);
          const x1 = Math.min(w, xc + fw);
          const dyBase = ((b * oh + oy) * ow + ox) * ch;
          const winBase = (b * h + y0) * rowLen + x0 * ch;
          // A whole 2×2 window (the usual pooling): the same scan, unrolled and branch-free.
          const quad = fh === 2 && fw === 2 && y1 - y0 === 2 && x1 - x0 === 2;
          // The window holds flat offset 0 (in channel 0).
          const hasOrigin = b === 0 && y0 === 0 && x0 === 0 && y1 > 0 && x1 > 0;
          for (let c = 0; c < ch; c++) {
            let at = -1; // flat offset of the max; −1: no element reached FLT_MIN
            if (quad) {
              const o0 = winBase + c;
              const o1 = o0 + ch;
              const o2 = o0 + rowLen;
              const o3 = o2 + ch;
              let best = FLT_MIN;
              let v = xv[o0];
              let t = v >= best;
              at = t ? o0 : at;
              best = t ? v : best;
              v = xv[o1];
              t = v >= best;
              at = t ? o1 : at;
              best = t ? v : best;
              v = xv[o2];
              t = v >= best;
              at = t ? o2 : at;
              best = t ? v : best;
              at = xv[o3] >= best ? o3 : at;
            } else {
              let best = FLT_MIN;
              for (let y = y0, row = winBase + c; y < y1; y++, row += rowLen) {
                for (let x = x0, o = row; x < x1; x++, o += ch) {
                  const v = xv[o];
                  if (v >= best) {
                    best = v;
                    at = o;
                  }
                }
              }
            }
            if (at < 0 && hasOrigin && c === 0) at = 0;
            const g = dyv[dyBase + c];
            if (g - g === 0) {
              // Finite: the other elements of the window get 0·g = ±0, and dx never holds −0.
              if (at >= 0) dxv[at] += g;
            } else {
              for (let y = y0, row = winBase + c; y < y1; y++, row += rowLen) {
                for (let x = x0, o = row; x < x1; x++, o += ch) dxv[o] += o === at ? g : NaN;
              }
            }
          }
        }
      }
    }
    return dx;
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

/** The shipped kernels that replaceKernel swapped out, by kernel name. */
const shipped = new Map<string, tf.KernelFunc>();

function replaceKernel(kernelName: string, make: (original: tf.KernelFunc) => tf.KernelFunc): void {
  if (isPatched(kernelName)) return;
  const original = tf.getKernel(kernelName, BACKEND);
  if (original == null) return; // nothing to speed up
  shipped.set(kernelName, original.kernelFunc);
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
  /** Also replace the slow BatchMatMul-with-transpose, Conv2DBackpropInput, MaxPoolGrad and copying Identity kernels (default true). */
  readonly speedups?: boolean;
}

/**
 * Registers wasm kernels needed to train conv nets (Conv2DBackpropFilter) and, by default,
 * faster equivalents of four slow shipped kernels. Idempotent. Call before `tf.setBackend('wasm')`.
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
  replaceKernel(tf.MaxPoolGrad, makeMaxPoolGrad);
  replaceKernel(tf.Identity, makeIdentity);
}

/**
 * The shipped wasm kernel that {@link patchWasmKernels} replaced (undefined when it replaced none
 * by that name in this module instance): for tests and benchmarks that compare against it.
 */
export function shippedWasmKernel(kernelName: string): tf.KernelFunc | undefined {
  return shipped.get(kernelName);
}

/** Size and use of the cached weight layouts of the wasm backend. */
export interface WasmKernelCacheInfo {
  readonly entries: number;
  readonly bytes: number;
  /** Derived layouts taken from the cache / computed, since the backend started. */
  readonly hits: number;
  readonly misses: number;
}

export function wasmKernelCacheInfo(): WasmKernelCacheInfo {
  const c = liveCache();
  return c ? { entries: c.size, bytes: c.bytes, hits: c.hits, misses: c.misses }
    : { entries: 0, bytes: 0, hits: 0, misses: 0 };
}

/**
 * Frees the cached weight layouts now (each is also freed at the first patched kernel call after
 * its weight is disposed). Their data ids are backend data outside the engine: call this before
 * comparing `tf.engine().backend.numDataIds()` across a workload.
 */
export function clearWasmKernelCache(): void {
  liveCache()?.clear();
}
