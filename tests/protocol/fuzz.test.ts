import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProbeError } from '../../src/core/errors';
import { BENCH_IMAGES, MAX_BADGE_SIDE, parseMessage, SENDERS, type MessageType } from '../../src/protocol/messages';
import { bytesToBase64 } from '../../src/protocol/base64';

/**
 * Property-based fuzzing of every message type (reliability checklist row 20): whatever arrives, the
 * validator returns a typed envelope that validates again to itself, or throws BAD_MESSAGE; it never
 * throws anything else and never lets a malformed field through.
 */
const TYPES = Object.keys(SENDERS) as MessageType[];

const VALID: { [T in MessageType]: Record<string, unknown> } = {
  'probe/get-state': { tabId: 3 },
  'probe/run-attack': { tabId: 1, modelId: 'mnist-lenet', attack: 'cw-l2', params: { confidence: 1, warmStart: false }, target: 2 },
  'probe/cancel': { tabId: null },
  'probe/retry': { tabId: 5 },
  'probe/list-models': {},
  'probe/bench': {
    workloads: ['classify-1'],
    runs: 2,
    imagesBase64: bytesToBase64(new Uint8Array(BENCH_IMAGES * 784)),
    labels: Array.from({ length: BENCH_IMAGES }, (_, i) => i % 10),
  },
  'probe/get-backend': {},
  'probe/set-backend': { backend: 'webgl' },
  'probe/defenses': { tabId: 4 },
  'probe/sweep': { tabId: 2, maxEps: 0.5, points: 41 },
  'probe/transfer': { tabId: null },
  'probe/lab-progress': { tabId: 9 },
  'probe/lab-cancel': { tabId: 1 },
  'probe/export': { tabId: 2 },
  'probe/adv-training': { tabId: null },
  'probe/user-model': {
    tabId: 1,
    source: { kind: 'url', url: 'http://127.0.0.1:8080/m/model.json', spec: { id: 'user:m', format: 'layers', inputShape: [28, 28, 1], inputRange: { min: 0, max: 1 }, classNames: ['a', 'b'], output: 'logits', classOffset: 0, preprocess: 'mnist' } },
  },
  'probe/user-export': {
    tabId: 1,
    source: { kind: 'files', key: '0123456789abcdef0123456789abcdef', name: 'model.json', spec: { id: 'user:m', format: 'graph', inputShape: [32, 32, 3], inputRange: { min: -1, max: 1 }, classNames: ['a', 'b'], output: 'logits', classOffset: 0, preprocess: 'resize' } },
  },
  'probe/saliency': { tabId: 2, target: 3 },
  'probe/diagnostics': {},
  'content/capture': { srcUrl: 'http://127.0.0.1/a.png', maxSide: 64 },
  'browse/get-site': { tabId: 5 },
  'browse/set-site': { tabId: 5, enabled: true },
  'browse/classify': { srcUrl: 'http://127.0.0.1/d0.png', image: { width: 2, height: 3, naturalWidth: 28, naturalHeight: 42, rgbaBase64: bytesToBase64(new Uint8Array(2 * 3 * 4)) } },
  'browse/open': { srcUrl: 'http://127.0.0.1/d0.png' },
  'content/browse': { enabled: false },
};

/** Hostile values: NaN, ±∞, negative and huge numbers, long strings, wrong types, nesting, prototype keys. */
const hostile = fc.oneof(
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -1, -0, 1e308, 2 ** 53, 0.5, null, undefined, true, '', '__proto__'),
  fc.string({ maxLength: 40 }),
  fc.string({ minLength: 9000, maxLength: 9001 }),
  fc.integer(),
  fc.double(),
  fc.array(fc.anything(), { maxLength: 5 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.anything(), { maxKeys: 5 }),
  fc.anything(),
);

function outcome(raw: unknown): 'ok' | 'bad' {
  try {
    const env = parseMessage(raw);
    // A validated payload validates again to the same thing (nothing half-checked slips through).
    expect(parseMessage(JSON.parse(JSON.stringify(env)))).toEqual(env);
    return 'ok';
  } catch (e) {
    if (e instanceof ProbeError && e.code === 'BAD_MESSAGE') return 'bad';
    throw e;
  }
}

describe('message validation under fuzzing', () => {
  it('probe/sweep: any accepted request has an odd point count and a finite ε bound in range', () => {
    fc.assert(fc.property(hostile, hostile, (maxEps, points) => {
      const raw = { type: 'probe/sweep', payload: { tabId: 1, maxEps, points } };
      if (outcome(raw) === 'ok') {
        const p = parseMessage(raw).payload as { maxEps: number; points: number };
        expect(p.maxEps > 0 && p.maxEps <= 2 && Number.isFinite(p.maxEps)).toBe(true);
        expect(Number.isInteger(p.points) && p.points % 2 === 1 && p.points >= 3 && p.points <= 101).toBe(true);
      }
    }), { numRuns: 300, seed: 17 });
    expect(outcome({ type: 'probe/sweep', payload: { tabId: 1, maxEps: 0.5, points: 40 } })).toBe('bad');
    expect(outcome({ type: 'probe/sweep', payload: { tabId: 1, maxEps: 0, points: 41 } })).toBe('bad');
  });

  it('probe/saliency: any accepted request has a non-negative integer target class', () => {
    fc.assert(fc.property(hostile, hostile, (tabId, target) => {
      const raw = { type: 'probe/saliency', payload: { tabId, target } };
      if (outcome(raw) === 'ok') {
        const p = parseMessage(raw).payload as { target: number };
        expect(Number.isInteger(p.target) && p.target >= 0 && p.target <= 999 && !Object.is(p.target, -0)).toBe(true);
      }
    }), { numRuns: 300, seed: 23 });
    expect(outcome({ type: 'probe/saliency', payload: { tabId: 1, target: 2.5 } })).toBe('bad');
    expect(outcome({ type: 'probe/saliency', payload: { tabId: 1 } })).toBe('bad');
    expect(outcome({ type: 'probe/saliency', payload: { tabId: 1, target: 4, extra: 1 } })).toBe('bad');
    expect(outcome({ type: 'probe/saliency', payload: { tabId: 1, target: 4 } })).toBe('ok');
  });

  it('browse/classify: any accepted image carries exactly width × height RGBA pixels within the badge size limit', () => {
    const ok = VALID['browse/classify'] as { srcUrl: string; image: Record<string, unknown> };
    fc.assert(fc.property(fc.constantFrom('width', 'height', 'naturalWidth', 'naturalHeight', 'rgbaBase64', 'extra'), hostile, (key, value) => {
      const raw = { type: 'browse/classify', payload: { srcUrl: ok.srcUrl, image: { ...ok.image, [key]: value } } };
      if (outcome(raw) === 'ok') {
        const { image } = parseMessage(raw).payload as { image: { width: number; height: number; rgbaBase64: string } };
        expect(image.width >= 1 && image.width <= MAX_BADGE_SIDE && image.height >= 1 && image.height <= MAX_BADGE_SIDE).toBe(true);
        expect(image.rgbaBase64.length).toBe(Math.ceil((image.width * image.height * 4) / 3) * 4);
      }
    }), { numRuns: 300, seed: 19 });
    expect(outcome({ type: 'browse/classify', payload: { srcUrl: ok.srcUrl, image: { ...ok.image, width: MAX_BADGE_SIDE + 1 } } })).toBe('bad');
    expect(outcome({ type: 'browse/set-site', payload: { tabId: null, enabled: true } })).toBe('bad');
    expect(outcome({ type: 'browse/get-site', payload: { tabId: 3 } })).toBe('ok');
  });

  it('arbitrary values as a whole message: BAD_MESSAGE or a valid envelope, nothing else', () => {
    fc.assert(fc.property(fc.anything(), (raw) => {
      outcome(raw);
    }), { numRuns: 500, seed: 7 });
  });

  it.each(TYPES)('%s: arbitrary payloads are rejected cleanly or accepted consistently', (type) => {
    fc.assert(fc.property(fc.oneof(hostile, fc.dictionary(fc.string({ maxLength: 12 }), hostile, { maxKeys: 6 })), (payload) => {
      outcome({ type, payload });
    }), { numRuns: 300, seed: 11 });
  });

  it.each(TYPES)('%s: one field of a valid payload replaced by a hostile value', (type) => {
    const valid = VALID[type];
    expect(outcome({ type, payload: valid })).toBe('ok');
    const keys = Object.keys(valid);
    if (keys.length === 0) {
      // No field to break: any extra field is rejected.
      fc.assert(fc.property(fc.string({ minLength: 1, maxLength: 10 }), hostile, (k, v) => {
        expect(outcome({ type, payload: { [k]: v } })).toBe('bad');
      }), { numRuns: 100, seed: 3 });
      return;
    }
    fc.assert(fc.property(fc.constantFrom(...keys), hostile, (key, value) => {
      const payload = { ...valid, [key]: value };
      const r = outcome({ type, payload });
      // Non-finite numbers, NaN and over-long strings never pass in any field.
      if (typeof value === 'number' && !Number.isFinite(value)) expect(r).toBe('bad');
      if (typeof value === 'string' && value.length > 8192) expect(r).toBe('bad');
    }), { numRuns: 300, seed: 5 });
  });

  it('attack parameters: hostile values for every parameter are rejected or resolved to valid numbers', () => {
    fc.assert(fc.property(fc.constantFrom('fgsm', 'bim', 'jsma', 'cw-l2', 'lbfgs', 'vae-latent'), fc.string({ maxLength: 16 }), hostile, (attack, key, value) => {
      const r = outcome({ type: 'probe/run-attack', payload: { tabId: null, modelId: 'mnist-lenet', attack, params: { [key]: value }, target: null } });
      if (r === 'ok') {
        const env = parseMessage({ type: 'probe/run-attack', payload: { tabId: null, modelId: 'mnist-lenet', attack, params: { [key]: value }, target: null } });
        for (const v of Object.values((env.payload as { params: Record<string, unknown> }).params)) {
          if (typeof v === 'number') expect(Number.isFinite(v)).toBe(true);
        }
      }
    }), { numRuns: 400, seed: 13 });
  });
});
