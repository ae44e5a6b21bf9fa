import { describe, expect, it } from 'vitest';
import { checkLayersWeights, expectedGroupBytes } from '../../src/background/model-check';

const manifest = [{ paths: ['a.bin', 'b.bin'], weights: [{ name: 'k', shape: [5, 5, 1, 4], dtype: 'float32' }, { name: 'b', shape: [4], dtype: 'float32' }] }];
const want = (5 * 5 * 4 + 4) * 4;

function fetcher(files: Record<string, unknown>, calls: string[] = []): (url: string) => Promise<Response> {
  return async (url) => {
    calls.push(url);
    const name = url.slice(url.lastIndexOf('/') + 1);
    const f = files[name];
    if (f === undefined) return new Response('no', { status: 404 });
    return new Response(f instanceof Uint8Array ? new Blob([f.slice().buffer as ArrayBuffer]) : JSON.stringify(f));
  };
}

describe('weights check before tfjs builds a model (checklist row 26)', () => {
  it('expectedGroupBytes sums shape × dtype bytes, quantized dtypes included, and gives up on unknown dtypes', () => {
    expect(expectedGroupBytes(manifest[0].weights)).toBe(want);
    expect(expectedGroupBytes([{ shape: [10], dtype: 'float32', quantization: { dtype: 'uint8' } }])).toBe(10);
    expect(expectedGroupBytes([{ shape: [10], dtype: 'string' }])).toBeNull();
  });

  it('passes whole files, refuses truncated or missing ones with MODEL_LOAD_FAILED, skips folders without a layers model.json', async () => {
    const half = want / 2;
    const whole = { 'model.json': { weightsManifest: manifest }, 'a.bin': new Uint8Array(half), 'b.bin': new Uint8Array(want - half) };
    const calls: string[] = [];
    await expect(checkLayersWeights('m', 'chrome-extension://x/models/m', fetcher(whole, calls))).resolves.toBeUndefined();
    expect(calls).toEqual(['chrome-extension://x/models/m/model.json', 'chrome-extension://x/models/m/a.bin', 'chrome-extension://x/models/m/b.bin']);
    await expect(checkLayersWeights('m', 'u/', fetcher({ ...whole, 'b.bin': new Uint8Array(3) }))).rejects.toMatchObject({ code: 'MODEL_LOAD_FAILED', message: expect.stringMatching(/hold \d+ bytes, the manifest declares 416/) });
    await expect(checkLayersWeights('m', 'u/', fetcher({ 'model.json': whole['model.json'], 'a.bin': whole['a.bin'] }))).rejects.toMatchObject({ code: 'MODEL_LOAD_FAILED', message: expect.stringContaining('b.bin is missing') });
    await expect(checkLayersWeights('gp', 'u/', fetcher({ 'gp.json': {} }))).resolves.toBeUndefined();
    await expect(checkLayersWeights('m', 'u/', fetcher({ 'model.json': { weightsManifest: [{ paths: 'x' }] } }))).rejects.toMatchObject({ code: 'MODEL_LOAD_FAILED' });
  });
});
