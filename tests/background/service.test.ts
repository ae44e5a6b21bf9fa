import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ProbeService, type ServiceDeps } from '../../src/background/service';
import { ProbeError } from '../../src/core/errors';
import type { Classifier } from '../../src/core/models/types';
import { loadMnist } from '../../src/cli/data';
import { LIGHT, renderDigit } from '../../src/cli/png';
import type { ProbeState } from '../../src/protocol/types';
import { tinyClassifier } from '../helpers/tiny';

let model: Classifier;
const test = loadMnist('test');

beforeAll(async () => {
  await tf.setBackend('cpu');
  model = tinyClassifier(2);
});

function deps(over: Partial<ServiceDeps> = {}): ServiceDeps & { persisted: ProbeState[]; captured: string[] } {
  const persisted: ProbeState[] = [];
  const captured: string[] = [];
  return {
    persisted,
    captured,
    async capture({ srcUrl, pageUrl }) {
      captured.push(srcUrl);
      const i = Number(srcUrl.match(/d(\d+)/)?.[1] ?? 0);
      const image = renderDigit(test.images.subarray(i * 784, (i + 1) * 784), 2, LIGHT.ink, LIGHT.paper, 4);
      return { image, source: { srcUrl, pageUrl, naturalWidth: image.width, naturalHeight: image.height, capturedBy: 'page' } };
    },
    model: async () => model,
    backend: async () => 'cpu',
    persist: (_tab, s) => persisted.push(s),
    now: () => 1000,
    ...over,
  };
}

describe('ProbeService', () => {
  it('probes an image: running, then a done state with prediction, FGSM outcome and distances', async () => {
    const d = deps();
    const svc = new ProbeService(d);
    const before = tf.memory().numTensors;
    const p = svc.probeImage({ tabId: 5, frameId: 0, srcUrl: 'http://127.0.0.1/d0.png', pageUrl: 'http://127.0.0.1/' });
    expect(svc.getState(5).status).toBe('running');
    const st = await p;
    expect(st.status).toBe('done');
    expect(st.job).toBe(1);
    const r = st.result!;
    expect(r.input.pixels).toHaveLength(784);
    expect(r.preprocess.inverted).toBe(true);
    expect(r.prediction.probs.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
    expect(r.fgsm.params).toEqual({ eps: 0.25, target: null });
    expect(r.fgsm.distances.linf).toBeLessThanOrEqual(0.25 + 1e-6);
    expect(r.fgsm.success).toBe(r.fgsm.prediction.label !== r.prediction.label);
    expect(tf.memory().numTensors).toBe(before);
    expect(d.persisted.map((s) => s.status)).toEqual(['running', 'running', 'running', 'done']);
  });

  it('re-runs FGSM with new parameters on the same input (targeted too)', async () => {
    const svc = new ProbeService(deps());
    const first = await svc.probeImage({ tabId: 1, frameId: 0, srcUrl: 'http://x/d3.png', pageUrl: '' });
    const zero = await svc.rerunFgsm(1, 'mnist-lenet', { eps: 0, target: null });
    expect(zero.result!.fgsm.distances.l0).toBe(0);
    expect(zero.result!.fgsm.success).toBe(false);
    expect(zero.result!.input.pixels).toEqual(first.result!.input.pixels);
    const target = (first.result!.prediction.label + 1) % 10;
    const t = await svc.rerunFgsm(1, 'mnist-lenet', { eps: 0.3, target });
    expect(t.result!.fgsm.params.target).toBe(target);
    expect(t.result!.fgsm.success).toBe(t.result!.fgsm.prediction.label === target);
  });

  it('a capture failure becomes an error state with its stable code', async () => {
    const svc = new ProbeService(
      deps({
        capture: async () => {
          throw new ProbeError('FETCH_FAILED', 'The image could not be loaded (HTTP 404).');
        },
      }),
    );
    const st = await svc.probeImage({ tabId: 2, frameId: 0, srcUrl: 'http://x/missing.png', pageUrl: '' });
    expect(st.status).toBe('error');
    expect(st.error).toEqual({ code: 'FETCH_FAILED', message: 'The image could not be loaded (HTTP 404).' });
  });

  it('a blank image is BLANK_IMAGE, an unknown model MODEL_NOT_FOUND, a re-run before any probe NO_RESULT', async () => {
    const blank = new ProbeService(
      deps({
        capture: async ({ srcUrl }) => ({
          image: { width: 10, height: 10, data: new Uint8Array(400).fill(255) },
          source: { srcUrl, pageUrl: '', naturalWidth: 10, naturalHeight: 10, capturedBy: 'page' },
        }),
      }),
    );
    expect((await blank.probeImage({ tabId: 1, frameId: 0, srcUrl: 'http://x/w.png', pageUrl: '' })).error?.code).toBe('BLANK_IMAGE');
    const svc = new ProbeService(deps());
    expect((await svc.probeImage({ tabId: 1, frameId: 0, srcUrl: 'http://x/d1.png', pageUrl: '', modelId: 'nope' })).error?.code).toBe('MODEL_NOT_FOUND');
    await expect(new ProbeService(deps()).rerunFgsm(9, 'mnist-lenet', { eps: 0.1, target: null })).rejects.toMatchObject({ code: 'NO_RESULT' });
  });

  it('runs jobs one at a time in FIFO order and gives each tab its own result', async () => {
    const order: string[] = [];
    const d = deps();
    const svc = new ProbeService({
      ...d,
      capture: async (req) => {
        order.push(`start ${req.tabId}`);
        await new Promise((r) => setTimeout(r, req.tabId === 1 ? 30 : 0));
        const out = await d.capture(req);
        order.push(`end ${req.tabId}`);
        return out;
      },
    });
    const [a, b] = await Promise.all([
      svc.probeImage({ tabId: 1, frameId: 0, srcUrl: 'http://x/d0.png', pageUrl: '' }),
      svc.probeImage({ tabId: 2, frameId: 0, srcUrl: 'http://x/d1.png', pageUrl: '' }),
    ]);
    expect(order).toEqual(['start 1', 'end 1', 'start 2', 'end 2']);
    expect(a.result!.source.srcUrl).toBe('http://x/d0.png');
    expect(b.result!.source.srcUrl).toBe('http://x/d1.png');
    expect(svc.getState(1).result!.source.srcUrl).toBe('http://x/d0.png');
    expect(svc.getState(null).tabId).toBe(2);
  });

  it('restores a persisted state after a restart; a job cut off mid-run becomes CANCELLED', async () => {
    const svc = new ProbeService(deps());
    const done = await svc.probeImage({ tabId: 3, frameId: 0, srcUrl: 'http://x/d2.png', pageUrl: '' });
    const fresh = new ProbeService(deps());
    fresh.restore(3, done);
    expect(fresh.getState(3).result!.prediction).toEqual(done.result!.prediction);
    const again = await fresh.rerunFgsm(3, 'mnist-lenet', { eps: 0.1, target: null });
    expect(again.job).toBeGreaterThan(done.job);
    const cut = new ProbeService(deps());
    cut.restore(4, { ...done, status: 'running', result: null });
    expect(cut.getState(4).status).toBe('error');
    expect(cut.getState(4).error?.code).toBe('CANCELLED');
  });
});
