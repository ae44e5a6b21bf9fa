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
  | { readonly kind: 'mobilenet'; readonly consent: true };

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
  throw new ProbeError(code, 'source.kind must be "url" or "mobilenet"');
}
