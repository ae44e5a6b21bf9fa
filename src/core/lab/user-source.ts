/**
 * Where a user model comes from, as the 'probe/user-model' message carries it: a URL with the user's
 * description, or MobileNet v2 with the user's consent. Checked here without TensorFlow.js (the message
 * validator runs in every context, the content script included); the background checks the description
 * again before loading. The description's rules are validateUserModelSpec's (src/core/models/user-spec.ts,
 * TensorFlow-free), used here as they are.
 */
import { ProbeError, type ErrorCode } from '../errors';
import { validateUserModelSpec, type UserModelSpec } from '../models/user-spec';

export const MAX_MODEL_URL = 2048;

/** The description as sent: the shape of UserModelSpec, checked by the same validateUserModelSpec. */
export type UserModelWireSpec = UserModelSpec;

export type UserModelSource =
  | { readonly kind: 'url'; readonly url: string; readonly spec: UserModelWireSpec }
  /** Files the user picked in the popup (model.json and its weight shards), kept in the extension's IndexedDB under `key` (src/protocol/model-files.ts). */
  | { readonly kind: 'files'; readonly key: string; readonly name: string; readonly spec: UserModelWireSpec }
  | { readonly kind: 'mobilenet'; readonly consent: true };

/** The form of a stored file set's key: 16 to 64 lower-case hex digits. */
export const MODEL_FILES_KEY = /^[0-9a-f]{16,64}$/;
/** Longest display name of a file set (the model.json's file name). */
export const MAX_FILES_NAME = 200;

/** A model URL: absolute http(s), no credentials, at most MAX_MODEL_URL characters; `code` (default BAD_INPUT) otherwise. */
export function checkModelUrl(raw: unknown, code: ErrorCode = 'BAD_INPUT'): string {
  const fail = (m: string): never => {
    throw new ProbeError(code, `Model URL: ${m}`);
  };
  if (typeof raw !== 'string') return fail('give the address of the model.json file.');
  const s = raw.trim();
  if (s === '') fail('give the address of the model.json file.');
  if (s.length > MAX_MODEL_URL) fail(`at most ${MAX_MODEL_URL} characters.`);
  let u: URL | null = null;
  try {
    u = new URL(s);
  } catch {
    fail('not a valid absolute address (it should start with https://).');
  }
  if (u!.protocol !== 'https:' && u!.protocol !== 'http:') fail('only http and https addresses can be loaded.');
  if (u!.username || u!.password) fail('an address with a user name or password is not accepted.');
  if (u!.href.length > MAX_MODEL_URL) fail(`at most ${MAX_MODEL_URL} characters.`);
  return u!.href;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The wire description, rebuilt field by field (nothing else passes), or `code` naming the problem. */
export function checkWireSpec(raw: unknown, code: ErrorCode = 'BAD_INPUT'): UserModelWireSpec {
  return validateUserModelSpec(raw, code);
}

/** The message's `source` field, or `code` (the validator passes BAD_MESSAGE). MobileNet needs `consent: true`. */
export function checkUserModelSource(raw: unknown, code: ErrorCode = 'BAD_INPUT'): UserModelSource {
  if (!isRecord(raw)) throw new ProbeError(code, 'source must be an object');
  if (raw.kind === 'mobilenet') {
    for (const k of Object.keys(raw)) if (k !== 'kind' && k !== 'consent') throw new ProbeError(code, `unexpected field "${k}"`);
    if (raw.consent !== true) throw new ProbeError(code, 'MobileNet v2 is downloaded only after the user agrees (consent: true)');
    return { kind: 'mobilenet', consent: true };
  }
  if (raw.kind === 'url') {
    for (const k of Object.keys(raw)) if (!['kind', 'url', 'spec'].includes(k)) throw new ProbeError(code, `unexpected field "${k}"`);
    return { kind: 'url', url: checkModelUrl(raw.url, code), spec: checkWireSpec(raw.spec, code) };
  }
  if (raw.kind === 'files') {
    for (const k of Object.keys(raw)) if (!['kind', 'key', 'name', 'spec'].includes(k)) throw new ProbeError(code, `unexpected field "${k}"`);
    if (typeof raw.key !== 'string' || !MODEL_FILES_KEY.test(raw.key)) throw new ProbeError(code, 'source.key must be the key of stored model files (hex)');
    if (typeof raw.name !== 'string' || raw.name.trim() === '' || raw.name.length > MAX_FILES_NAME) throw new ProbeError(code, `source.name must be a file name of at most ${MAX_FILES_NAME} characters`);
    return { kind: 'files', key: raw.key, name: raw.name, spec: checkWireSpec(raw.spec, code) };
  }
  throw new ProbeError(code, 'source.kind must be "url", "files" or "mobilenet"');
}

/** At most this many files in a picked model (model.json and its weight shards). */
export const MAX_PICKED_FILES = 64;
/** At most this many bytes in a picked model, all files together. */
export const MAX_PICKED_BYTES = 128 * 1024 * 1024;

/**
 * The first check of files a user picks, before anything is read (the popup; the background checks
 * the contents with artifactsFromFiles): one to MAX_PICKED_FILES files, exactly one .json, at most
 * MAX_PICKED_BYTES. Returns the .json's name; BAD_INPUT saying what is wrong.
 */
export function checkPickedFiles(files: readonly { readonly name: string; readonly size: number }[]): string {
  if (files.length === 0) throw new ProbeError('BAD_INPUT', 'Pick the model.json file and its weight files (.bin) together.');
  if (files.length > MAX_PICKED_FILES) throw new ProbeError('BAD_INPUT', `At most ${MAX_PICKED_FILES} files: got ${files.length}.`);
  const json = files.filter((f) => /\.json$/i.test(f.name));
  if (json.length !== 1) throw new ProbeError('BAD_INPUT', json.length === 0 ? 'No model.json among the picked files: pick it with its weight files.' : `Pick one model.json, not ${json.length} .json files.`);
  const total = files.reduce((a, f) => a + f.size, 0);
  if (total > MAX_PICKED_BYTES) throw new ProbeError('BAD_INPUT', `The files hold ${(total / 2 ** 20).toFixed(1)} MB; at most ${MAX_PICKED_BYTES / 2 ** 20} MB can be loaded from files.`);
  return json[0].name;
}

/** 'layers' or 'graph' from a model.json's text (its format field, else the topology's shape), null when it cannot tell; BAD_INPUT when it is not a tfjs model.json. */
export function formatOfModelJson(text: string): 'layers' | 'graph' | null {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch {
    throw new ProbeError('BAD_INPUT', 'The .json file is not JSON: pick the model.json that tfjs wrote.');
  }
  if (!isRecord(j) || !isRecord(j.modelTopology) || !Array.isArray(j.weightsManifest)) {
    throw new ProbeError('BAD_INPUT', 'The .json file is not a tfjs model.json (it needs modelTopology and weightsManifest).');
  }
  if (j.format === 'layers-model') return 'layers';
  if (j.format === 'graph-model') return 'graph';
  const t = j.modelTopology;
  if (Array.isArray(t.node)) return 'graph';
  if ((typeof t.class_name === 'string' && isRecord(t.config)) || isRecord(t.model_config)) return 'layers';
  return null;
}
