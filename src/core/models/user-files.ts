/**
 * A model the user brings as files (issue 6, "Bring your own model … by URL or file"): the files picked
 * in the popup — a tfjs model.json and its weight shards — checked and turned into tfjs ModelArtifacts,
 * then into an IOHandler that loadUserClassifier (user-model.ts) takes like a URL. Every problem is a
 * BAD_INPUT naming the file or the numbers that do not fit. Pure TS + tfjs: no DOM.
 */
import * as tf from '@tensorflow/tfjs';
import { formatOfModelJson } from '../lab/user-source';
import { ProbeError } from '../errors';

/** One picked file: its name (a base name; any folder part is ignored) and its bytes. */
export interface ModelFile {
  readonly name: string;
  readonly bytes: Uint8Array;
}

/** At most this many files in a model (model.json and its weight shards). */
export const MAX_MODEL_FILES = 64;
/** At most this many bytes in a model, all files together. */
export const MAX_MODEL_FILES_BYTES = 128 * 1024 * 1024;

/** Caps on the files of one model (defaults: MAX_MODEL_FILES, MAX_MODEL_FILES_BYTES). */
export interface ModelFilesLimits {
  readonly maxFiles: number;
  readonly maxBytes: number;
}

type Rec = Record<string, unknown>;

const isRecord = (v: unknown): v is Rec => typeof v === 'object' && v !== null && !Array.isArray(v);

const bad = (message: string): never => {
  throw new ProbeError('BAD_INPUT', message);
};

/** The part of a path after its last '/'. */
const baseName = (path: string): string => path.slice(path.lastIndexOf('/') + 1);

const isJsonName = (name: string): boolean => /\.json$/i.test(name);

/** Bytes as "1,234 bytes", with megabytes added when large. */
function size(n: number): string {
  const b = `${n.toLocaleString('en-US')} bytes`;
  return n >= 2 ** 20 ? `${b} (${(n / 2 ** 20).toFixed(1)} MB)` : b;
}

const DTYPE_BYTES: Readonly<Record<string, number>> = { float32: 4, int32: 4, bool: 1 };
const QUANT_BYTES: Readonly<Record<string, number>> = { uint8: 1, uint16: 2, float16: 2 };

/** The picked files, checked for shape, count and total size; returns the .json file and the others. */
function checkFiles(files: readonly ModelFile[], limits: Partial<ModelFilesLimits>): { json: ModelFile; weights: Map<string, ModelFile> } {
  const maxFiles = limits.maxFiles ?? MAX_MODEL_FILES;
  const maxBytes = limits.maxBytes ?? MAX_MODEL_FILES_BYTES;
  if (!Array.isArray(files) || files.length === 0) return bad('Pick the model.json file and its weight files (.bin) together.');
  if (files.length > maxFiles) bad(`At most ${maxFiles} files can make a model: got ${files.length}.`);
  let total = 0;
  for (const f of files as readonly unknown[]) {
    if (!isRecord(f) || typeof f.name !== 'string' || baseName(f.name) === '' || !(f.bytes instanceof Uint8Array)) {
      return bad('Each picked file needs a name and its bytes.');
    }
    total += f.bytes.byteLength;
  }
  if (total > maxBytes) bad(`The picked files hold ${size(total)}; at most ${size(maxBytes)} can be loaded from files.`);
  const jsons = files.filter((f) => isJsonName(baseName(f.name)));
  if (jsons.length !== 1) {
    bad(jsons.length === 0 ? 'No .json file among the picked files: pick the model.json with its weight files.' : `Pick one model.json, not ${jsons.length} .json files (${jsons.map((f) => `"${baseName(f.name)}"`).join(', ')}).`);
  }
  const weights = new Map<string, ModelFile>();
  for (const f of files) {
    if (f === jsons[0]) continue;
    const name = baseName(f.name);
    if (weights.has(name)) bad(`Two picked files are named "${name}".`);
    weights.set(name, f);
  }
  return { json: jsons[0], weights };
}

/** The parsed model.json, BAD_INPUT unless it is JSON with modelTopology and weightsManifest. */
function parseModelJson(file: ModelFile): Rec {
  const name = baseName(file.name);
  let j: unknown;
  try {
    j = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(file.bytes));
  } catch {
    return bad(`"${name}" is not JSON: pick the model.json that tfjs wrote.`);
  }
  if (!isRecord(j) || !isRecord(j.modelTopology) || !Array.isArray(j.weightsManifest)) {
    return bad(`"${name}" is not a tfjs model.json (it needs modelTopology and weightsManifest).`);
  }
  return j;
}

/** Bytes that one manifest weight takes in the weight files; BAD_INPUT if its entry is malformed or its dtype unsupported. */
function weightBytes(w: unknown, where: string): number {
  if (!isRecord(w) || typeof w.name !== 'string' || !Array.isArray(w.shape)) return bad(`${where}: each weight needs a name and a shape.`);
  const label = `${where}: weight "${w.name}"`;
  let count = 1;
  for (const d of w.shape as unknown[]) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) bad(`${label} has a bad shape ${JSON.stringify(w.shape)}.`);
    count *= d as number;
  }
  if (typeof w.dtype !== 'string') return bad(`${label} has no dtype.`);
  if (w.dtype === 'string') bad(`${label} holds strings, which models loaded from files cannot have.`);
  let per = DTYPE_BYTES[w.dtype];
  if (per === undefined) return bad(`${label} has dtype "${w.dtype}"; float32, int32 and bool are supported.`);
  if (w.quantization !== undefined) {
    const q = w.quantization;
    if (!isRecord(q) || typeof q.dtype !== 'string' || QUANT_BYTES[q.dtype] === undefined) {
      return bad(`${label} has an unknown quantization ${JSON.stringify(q)}; uint8, uint16 and float16 are supported.`);
    }
    per = QUANT_BYTES[q.dtype];
  }
  return count * per;
}

/**
 * Checks the picked files and builds tfjs ModelArtifacts: exactly one .json that is a tfjs model.json
 * (modelTopology + weightsManifest); every weightsManifest path present among the files by base name
 * (the part after the last '/', case-sensitive); no extra file; the bytes of each manifest group's
 * files equal to what its weight specs describe (dtype or quantization × shape); caps on file count and
 * total size (`limits`, default MAX_MODEL_FILES and MAX_MODEL_FILES_BYTES). The weight data is the
 * files' bytes concatenated in manifest order. BAD_INPUT naming the file or numbers otherwise.
 */
export function artifactsFromFiles(files: readonly ModelFile[], limits: Partial<ModelFilesLimits> = {}): tf.io.ModelArtifacts {
  const { json, weights: byName } = checkFiles(files, limits);
  const model = parseModelJson(json);
  const manifest = model.weightsManifest as unknown[];
  const used = new Set<string>();
  const shards: Uint8Array[] = [];
  manifest.forEach((group, gi) => {
    const where = `Weight group ${gi + 1} of "${baseName(json.name)}"`;
    if (!isRecord(group) || !Array.isArray(group.paths) || !Array.isArray(group.weights)) return bad(`${where} needs "paths" and "weights" lists.`);
    const paths = group.paths as unknown[];
    const names: string[] = [];
    let have = 0;
    for (const p of paths) {
      if (typeof p !== 'string' || baseName(p) === '') return bad(`${where} lists a bad file path ${JSON.stringify(p)}.`);
      const name = baseName(p);
      if (used.has(name)) bad(`"${name}" is listed twice in the weights manifest.`);
      const f = byName.get(name);
      if (!f) return bad(`The weight file "${name}" is missing: pick it together with the model.json.`);
      used.add(name);
      names.push(name);
      shards.push(f.bytes);
      have += f.bytes.byteLength;
    }
    const need = (group.weights as unknown[]).reduce<number>((s, w) => s + weightBytes(w, where), 0);
    if (have !== need) {
      const list = names.map((n) => `"${n}"`).join(' + ') || 'no file';
      bad(`Weight size mismatch: ${list} ${names.length > 1 ? 'hold' : 'holds'} ${size(have)}, but the weights listed for ${names.length > 1 ? 'them' : 'it'} need ${size(need)}.`);
    }
  });
  const extra = [...byName.keys()].filter((n) => !used.has(n));
  if (extra.length > 0) bad(`Extra file${extra.length > 1 ? 's' : ''} not listed in the model.json: ${extra.map((n) => `"${n}"`).join(', ')}.`);
  const total = shards.reduce((s, b) => s + b.byteLength, 0);
  const data = new Uint8Array(total);
  let at = 0;
  for (const b of shards) {
    data.set(b, at);
    at += b.byteLength;
  }
  const weightSpecs = tf.io.getWeightSpecs(manifest as tf.io.WeightsManifestConfig);
  return tf.io.getModelArtifactsForJSONSync(model as unknown as tf.io.ModelJSON, weightSpecs, data.buffer);
}

/**
 * 'layers' or 'graph' from the picked model.json: its format field ('layers-model', 'graph-model'),
 * else its modelTopology's shape (a Keras class_name/config: layers; a node list: graph). Null when it
 * cannot tell, including when there is no single readable tfjs model.json (artifactsFromFiles says why).
 */
export function modelFormatOf(files: readonly ModelFile[]): 'layers' | 'graph' | null {
  if (!Array.isArray(files)) return null;
  const jsons = files.filter((f) => isRecord(f) && typeof f.name === 'string' && f.bytes instanceof Uint8Array && isJsonName(baseName(f.name)));
  if (jsons.length !== 1) return null;
  try {
    return formatOfModelJson(new TextDecoder().decode(jsons[0].bytes));
  } catch {
    return null;
  }
}

/** An IOHandler whose load() gives artifactsFromFiles(files, limits); its errors reject the promise. */
export function filesHandler(files: readonly ModelFile[], limits: Partial<ModelFilesLimits> = {}): tf.io.IOHandler {
  return {
    load: async () => artifactsFromFiles(files, limits),
  };
}
