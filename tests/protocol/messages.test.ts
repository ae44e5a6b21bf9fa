import { describe, expect, it } from 'vitest';
import { BENCH_IMAGES, contentMayAccept, parseMessage, senderAllowed, SENDERS, type MessageType } from '../../src/protocol/messages';
import { base64ToBytes, bytesToBase64 } from '../../src/protocol/base64';

const ID = 'abcdefghijklmnopabcdefghijklmnop';
const ORIGIN = `chrome-extension://${ID}/`;
const popup = { id: ID, url: `${ORIGIN}src/popup/index.html` };

describe('parseMessage', () => {
  it('accepts every well-formed message and returns a typed copy', () => {
    expect(parseMessage({ type: 'probe/get-state', payload: { tabId: 3 } })).toEqual({ type: 'probe/get-state', payload: { tabId: 3 } });
    expect(parseMessage({ type: 'probe/get-state', payload: {} })).toEqual({ type: 'probe/get-state', payload: { tabId: null } });
    expect(parseMessage({ type: 'probe/run-attack', payload: { tabId: null, modelId: 'mnist-lenet', attack: 'fgsm', params: { eps: 0.1 }, target: 3 } }).payload).toEqual({
      tabId: null,
      modelId: 'mnist-lenet',
      attack: 'fgsm',
      // Parameters come back complete: defaults filled in.
      params: { eps: 0.1, norm: 'inf' },
      target: 3,
    });
    expect(parseMessage({ type: 'probe/run-attack', payload: { tabId: 2, modelId: 'mnist-lenet', attack: 'jsma', params: {}, target: null } }).payload)
      .toMatchObject({ attack: 'jsma', params: { theta: '+1', maxDistortion: 0.145 } });
    expect(parseMessage({ type: 'probe/cancel', payload: { tabId: 2 } }).payload).toEqual({ tabId: 2 });
    expect(parseMessage({ type: 'probe/list-models', payload: {} }).type).toBe('probe/list-models');
    expect(parseMessage({ type: 'content/capture', payload: { srcUrl: 'http://x/a.png', maxSide: 64 } }).type).toBe('content/capture');
  });

  const bad: [string, unknown][] = [
    ['null', null],
    ['a string', 'probe/get-state'],
    ['an array', [1]],
    ['unknown type', { type: 'probe/explode', payload: {} }],
    ['prototype key as type', { type: 'toString', payload: {} }],
    ['missing payload', { type: 'probe/get-state' }],
    ['NaN eps', { type: 'probe/run-attack', payload: { tabId: 1, modelId: 'mnist-lenet', attack: 'fgsm', params: { eps: Number.NaN }, target: null } }],
    ['negative eps', { type: 'probe/run-attack', payload: { tabId: 1, modelId: 'mnist-lenet', attack: 'fgsm', params: { eps: -0.1 }, target: null } }],
    ['huge eps', { type: 'probe/run-attack', payload: { tabId: 1, modelId: 'mnist-lenet', attack: 'fgsm', params: { eps: 1e9 }, target: null } }],
    ['string eps', { type: 'probe/run-attack', payload: { tabId: 1, modelId: 'mnist-lenet', attack: 'fgsm', params: { eps: '0.1' }, target: null } }],
    ['fractional target', { type: 'probe/run-attack', payload: { tabId: 1, modelId: 'mnist-lenet', attack: 'fgsm', params: { eps: 0.1 }, target: 1.5 } }],
    ['unknown attack', { type: 'probe/run-attack', payload: { tabId: 1, modelId: 'mnist-lenet', attack: 'rowhammer', params: {}, target: null } }],
    ['unknown param', { type: 'probe/run-attack', payload: { tabId: 1, modelId: 'mnist-lenet', attack: 'bim', params: { stepz: 3 }, target: null } }],
    ['fractional steps', { type: 'probe/run-attack', payload: { tabId: 1, modelId: 'mnist-lenet', attack: 'bim', params: { steps: 2.5 }, target: null } }],
    ['unknown choice', { type: 'probe/run-attack', payload: { tabId: 1, modelId: 'mnist-lenet', attack: 'jsma', params: { theta: '0' }, target: null } }],
    ['object param', { type: 'probe/run-attack', payload: { tabId: 1, modelId: 'mnist-lenet', attack: 'fgsm', params: { eps: { valueOf: 1 } }, target: null } }],
    ['array params', { type: 'probe/run-attack', payload: { tabId: 1, modelId: 'mnist-lenet', attack: 'fgsm', params: [0.1], target: null } }],
    ['string boolean', { type: 'probe/run-attack', payload: { tabId: 1, modelId: 'mnist-lenet', attack: 'bim', params: { randomStart: 'true' }, target: null } }],
    ['cancel with extra', { type: 'probe/cancel', payload: { tabId: 1, all: true } }],
    ['negative tab', { type: 'probe/get-state', payload: { tabId: -4 } }],
    ['bad model id', { type: 'probe/run-attack', payload: { tabId: 1, modelId: '../../etc/passwd', attack: 'fgsm', params: { eps: 0.1 }, target: null } }],
    ['huge model id', { type: 'probe/run-attack', payload: { tabId: 1, modelId: 'a'.repeat(10_000), attack: 'fgsm', params: { eps: 0.1 }, target: null } }],
    ['extra field', { type: 'probe/get-state', payload: { tabId: 1, evil: true } }],
    ['huge url', { type: 'content/capture', payload: { srcUrl: 'x'.repeat(100_000), maxSide: 64 } }],
    ['zero side', { type: 'content/capture', payload: { srcUrl: 'http://x/a.png', maxSide: 0 } }],
  ];
  it.each(bad)('rejects %s with BAD_MESSAGE', (_name, raw) => {
    expect(() => parseMessage(raw)).toThrow(expect.objectContaining({ code: 'BAD_MESSAGE' }));
  });

  it('never throws anything but BAD_MESSAGE on random junk', () => {
    let seed = 42;
    const rnd = (): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const junk = (depth: number): unknown => {
      const r = rnd();
      if (depth > 2 || r < 0.3) return [null, undefined, 0, -1, 1e308, Number.NaN, '', 'x', true, {}, []][Math.floor(rnd() * 11)];
      if (r < 0.6) return Object.fromEntries([['type', Object.keys(SENDERS)[Math.floor(rnd() * Object.keys(SENDERS).length)]], ['payload', junk(depth + 1)]]);
      return { tabId: junk(depth + 1), modelId: junk(depth + 1), attack: junk(depth + 1), params: junk(depth + 1), target: junk(depth + 1), srcUrl: junk(depth + 1), maxSide: junk(depth + 1) };
    };
    for (let i = 0; i < 2000; i++) {
      const raw = junk(0);
      try {
        parseMessage(raw);
      } catch (e) {
        expect((e as { code?: string }).code).toBe('BAD_MESSAGE');
      }
    }
  });
});

describe("'probe/bench'", () => {
  const images = bytesToBase64(Uint8Array.from({ length: BENCH_IMAGES * 784 }, (_, i) => i & 255));
  const labels = Array.from({ length: BENCH_IMAGES }, (_, i) => i % 10);
  const ok = { workloads: ['classify-1', 'fgsm-1'], runs: 3, imagesBase64: images, labels };
  it('accepts known workloads, 100 images and their labels', () => {
    expect(parseMessage({ type: 'probe/bench', payload: ok }).payload).toEqual(ok);
    expect(parseMessage({ type: 'probe/bench', payload: { ...ok, runs: null } }).payload).toMatchObject({ runs: null });
  });
  it.each([
    ['an unknown workload', { ...ok, workloads: ['classify-1', 'rm -rf'] }],
    ['no workload', { ...ok, workloads: [] }],
    ['0 runs', { ...ok, runs: 0 }],
    ['fractional runs', { ...ok, runs: 2.5 }],
    ['99 images', { ...ok, imagesBase64: bytesToBase64(new Uint8Array(99 * 784)) }],
    ['not base64', { ...ok, imagesBase64: `${images.slice(0, -4)}!!!!` }],
    ['a label of 10', { ...ok, labels: [...labels.slice(1), 10] }],
    ['99 labels', { ...ok, labels: labels.slice(1) }],
    ['an extra field', { ...ok, extra: 1 }],
    ['an unknown backend', { ...ok, backend: 'tpu' }],
    ['a null backend', { ...ok, backend: null }],
  ])('rejects %s with BAD_MESSAGE', (_, payload) => {
    expect(() => parseMessage({ type: 'probe/bench', payload })).toThrow(expect.objectContaining({ code: 'BAD_MESSAGE' }));
  });
  it('takes a backend to run on (the CLI\'s --backend webgl / extension:NAME)', () => {
    expect(parseMessage({ type: 'probe/bench', payload: { ...ok, backend: 'webgl' } }).payload).toMatchObject({ backend: 'webgl' });
    expect(parseMessage({ type: 'probe/bench', payload: ok }).payload).not.toHaveProperty('backend');
  });
});

describe("'probe/set-backend'", () => {
  it('takes a backend name or null (automatic), nothing else', () => {
    for (const backend of ['webgpu', 'webgl', 'wasm', 'cpu', null]) {
      expect(parseMessage({ type: 'probe/set-backend', payload: { backend } }).payload).toEqual({ backend });
    }
    for (const payload of [{}, { backend: 'auto' }, { backend: 'WEBGL' }, { backend: 1 }, { backend: 'wasm', extra: true }]) {
      expect(() => parseMessage({ type: 'probe/set-backend', payload })).toThrow(expect.objectContaining({ code: 'BAD_MESSAGE' }));
    }
  });
});

describe('sender checks', () => {
  const popupOnly: MessageType[] = ['probe/get-state', 'probe/run-attack', 'probe/cancel', 'probe/list-models', 'probe/bench', 'probe/get-backend', 'probe/set-backend', 'probe/defenses', 'probe/sweep', 'probe/transfer', 'probe/lab-progress', 'probe/lab-cancel'];
  it.each(popupOnly)('%s: only extension pages of this extension', (type) => {
    expect(senderAllowed(type, popup, ID, ORIGIN)).toBe(true);
    expect(senderAllowed(type, { ...popup, id: 'other' }, ID, ORIGIN)).toBe(false);
    // A content script in a web page has our id but a web URL and a tab.
    expect(senderAllowed(type, { id: ID, url: 'https://evil.example/', tab: { id: 4 } }, ID, ORIGIN)).toBe(false);
    expect(senderAllowed(type, { id: ID }, ID, ORIGIN)).toBe(false);
  });
  it('content/capture is never accepted by the background', () => {
    expect(senderAllowed('content/capture', popup, ID, ORIGIN)).toBe(false);
  });
  it('content scripts accept only the background (no tab)', () => {
    expect(contentMayAccept({ id: ID }, ID)).toBe(true);
    expect(contentMayAccept({ id: ID, tab: { id: 1 } }, ID)).toBe(false);
    expect(contentMayAccept({ id: 'x' }, ID)).toBe(false);
  });
});

describe('base64', () => {
  it('round-trips bytes, including large buffers', () => {
    const b = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 31) & 255);
    expect(base64ToBytes(bytesToBase64(b))).toEqual(b);
  });
});
