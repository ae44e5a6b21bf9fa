import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ProbeService, type ServiceDeps } from '../../src/background/service';
import { ProbeError } from '../../src/core/errors';
import { AccessError } from '../../src/background/access';
import type { Classifier } from '../../src/core/models/types';
import type { ProbeState } from '../../src/protocol/types';
import { tinyClassifier } from '../helpers/tiny';
import { captureDigit } from '../helpers/service';

let model: Classifier;

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
    async capture(req) {
      captured.push(req.srcUrl);
      return captureDigit(req);
    },
    model: async () => model,
    backend: async () => 'cpu',
    persist: (_tab, s) => persisted.push(s),
    now: () => 1000,
    ...over,
  };
}

describe('ProbeService', () => {
  it('tells onEnqueue about every queued job (the worker keeps itself alive while the queue is not empty)', async () => {
    let queued = 0;
    let busyAtEnqueue = -1;
    const svc = new ProbeService(
      deps({
        onEnqueue: () => {
          queued++;
          busyAtEnqueue = svc.queueStats().queued;
        },
      }),
    );
    await svc.probeImage({ tabId: 8, frameId: 0, srcUrl: 'http://127.0.0.1/d1.png', pageUrl: 'http://127.0.0.1/' });
    expect(queued).toBe(1);
    // Counted before the hook runs, so a keep-alive started from it sees the work.
    expect(busyAtEnqueue).toBe(1);
    expect(svc.queueStats().queued).toBe(0);
  });

  it('NO_ACCESS names the hosts to allow; retry probes the same image again and clears them', async () => {
    let allowed = false;
    const d = deps({
      async capture(req) {
        if (!allowed) throw new AccessError('The extension may not read cdn.example yet.', ['https://cdn.example/*']);
        return captureDigit(req);
      },
    });
    const svc = new ProbeService(d);
    await expect(svc.retry(3)).rejects.toMatchObject({ code: 'NO_RESULT' });
    const denied = await svc.probeImage({ tabId: 3, frameId: 2, srcUrl: 'https://cdn.example/d4.png', pageUrl: 'https://shop.example/', frameUrl: 'https://shop.example/f' });
    expect(denied.status).toBe('error');
    expect(denied.error?.code).toBe('NO_ACCESS');
    expect(denied.needsAccess).toEqual(['https://cdn.example/*']);
    expect(svc.waitingForAccess()).toEqual([{ tabId: 3, origins: ['https://cdn.example/*'] }]);
    allowed = true;
    const again = await svc.retry(3);
    expect(svc.waitingForAccess()).toEqual([]);
    expect(again.status).toBe('done');
    expect(again.needsAccess).toBeUndefined();
    expect(again.result?.source.srcUrl).toBe('https://cdn.example/d4.png');
    // Another error is not an access error: no hosts named.
    const other = new ProbeService(deps({ capture: async () => Promise.reject(new ProbeError('FETCH_FAILED', 'gone')) }));
    const st = await other.probeImage({ tabId: 1, frameId: 0, srcUrl: 'https://a.example/x.png', pageUrl: 'https://a.example/' });
    expect(st.error?.code).toBe('FETCH_FAILED');
    expect(st.needsAccess).toBeUndefined();
  });

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
    expect(r.attack.choice).toEqual({ attack: 'fgsm', params: { eps: 0.25, norm: 'inf' }, target: null });
    expect(r.attack.distances.linf).toBeLessThanOrEqual(0.25 + 1e-6);
    expect(r.attack.success).toBe(r.attack.prediction.label !== r.prediction.label);
    expect(r.attack.vae).toBeNull();
    expect(tf.memory().numTensors).toBe(before);
    expect(d.persisted.map((s) => s.status)).toEqual(['running', 'running', 'running', 'done']);
  });

  it('re-runs FGSM with new parameters on the same input (targeted too)', async () => {
    const svc = new ProbeService(deps());
    const first = await svc.probeImage({ tabId: 1, frameId: 0, srcUrl: 'http://x/d3.png', pageUrl: '' });
    const zero = await svc.rerunAttack(1, 'mnist-lenet', { attack: 'fgsm', params: { eps: 0 }, target: null });
    expect(zero.result!.attack.distances.l0).toBe(0);
    expect(zero.result!.attack.success).toBe(false);
    expect(zero.result!.input.pixels).toEqual(first.result!.input.pixels);
    const target = (first.result!.prediction.label + 1) % 10;
    const t = await svc.rerunAttack(1, 'mnist-lenet', { attack: 'fgsm', params: { eps: 0.3 }, target });
    expect(t.result!.attack.choice.target).toBe(target);
    expect(t.result!.attack.success).toBe(t.result!.attack.prediction.label === target);
  });

  it('runs an iterative attack with progress in the state, and a cancel brings back the previous result', async () => {
    let clock = 0;
    const d = deps({ now: () => (clock += 200) });
    const svc = new ProbeService(d);
    const first = await svc.probeImage({ tabId: 7, frameId: 0, srcUrl: 'http://x/d4.png', pageUrl: '' });
    const bim = await svc.rerunAttack(7, 'mnist-lenet', { attack: 'bim', params: { eps: 0.2, steps: 20, stepSize: 0.02 }, target: null });
    expect(bim.status).toBe('done');
    expect(bim.result!.attack.choice.params).toMatchObject({ eps: 0.2, steps: 20, stepSize: 0.02 });
    expect(bim.result!.attack.distances.linf).toBeLessThanOrEqual(0.2 + 1e-6);
    const progress = d.persisted.map((s) => s.progress).filter((p) => p !== null);
    expect(progress.length).toBeGreaterThan(3);
    expect(progress.at(-1)!.total).toBe(20);
    expect(bim.progress).toBeNull();

    const before = tf.memory().numTensors;
    const running = svc.rerunAttack(7, 'mnist-lenet', { attack: 'bim', params: { eps: 0.2, steps: 1000, stepSize: 0.001 }, target: null });
    // Cancel once the attack has reported progress.
    while (svc.getState(7).progress === null) await new Promise((r) => setTimeout(r, 5));
    svc.cancel(7);
    const cancelled = await running;
    expect(cancelled.status).toBe('done');
    expect(cancelled.error?.code).toBe('CANCELLED');
    expect(cancelled.result!.attack.choice.attack).toBe('bim');
    expect(cancelled.result!.attack.choice.params.steps).toBe(20);
    expect(cancelled.result!.prediction).toEqual(first.result!.prediction);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a targeted-only attack without a target aims at the runner-up class', async () => {
    const svc = new ProbeService(deps());
    const first = await svc.probeImage({ tabId: 10, frameId: 0, srcUrl: 'http://x/d7.png', pageUrl: '' });
    const probs = first.result!.prediction.probs;
    const runnerUp = probs.map((p, i) => [p, i] as const).filter(([, i]) => i !== first.result!.prediction.label).sort((a, b) => b[0] - a[0])[0][1];
    const st = await svc.rerunAttack(10, 'mnist-lenet', { attack: 'jsma', params: {}, target: null });
    expect(st.result!.attack.choice.target).toBe(runnerUp);
    expect(st.result!.attack.success).toBe(st.result!.attack.prediction.label === runnerUp);
  });

  it('a newer request replaces a queued one of the same tab', async () => {
    const svc = new ProbeService(deps());
    await svc.probeImage({ tabId: 8, frameId: 0, srcUrl: 'http://x/d5.png', pageUrl: '' });
    const a = svc.rerunAttack(8, 'mnist-lenet', { attack: 'bim', params: { steps: 500 }, target: null });
    const b = svc.rerunAttack(8, 'mnist-lenet', { attack: 'fgsm', params: { eps: 0.1 }, target: null });
    const [ra, rb] = await Promise.all([a, b]);
    expect(rb.status).toBe('done');
    expect(rb.result!.attack.choice.attack).toBe('fgsm');
    expect(ra.job).toBe(rb.job);
    expect(svc.getState(8).result!.attack.choice.attack).toBe('fgsm');
  });

  it('VAE attacks without the VAE models are MODEL_NOT_FOUND; bad params are BAD_INPUT', async () => {
    const svc = new ProbeService(deps());
    await svc.probeImage({ tabId: 9, frameId: 0, srcUrl: 'http://x/d6.png', pageUrl: '' });
    expect((await svc.rerunAttack(9, 'mnist-lenet', { attack: 'vae-latent', params: {}, target: 3 })).error?.code).toBe('MODEL_NOT_FOUND');
    expect((await svc.rerunAttack(9, 'fashion-cnn', { attack: 'vae-latent', params: {}, target: 3 })).error).toMatchObject({ code: 'BAD_INPUT', message: expect.stringMatching(/MNIST/) });
    expect((await svc.rerunAttack(9, 'mnist-lenet', { attack: 'bim', params: { steps: -1 }, target: null })).error?.code).toBe('BAD_INPUT');
    expect((await svc.rerunAttack(9, 'mnist-lenet', { attack: 'fgsm', params: {}, target: 42 })).error?.code).toBe('BAD_INPUT');
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
    await expect(new ProbeService(deps()).rerunAttack(9, 'mnist-lenet', { attack: 'fgsm', params: { eps: 0.1 }, target: null })).rejects.toMatchObject({ code: 'NO_RESULT' });
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
    const again = await fresh.rerunAttack(3, 'mnist-lenet', { attack: 'fgsm', params: { eps: 0.1 }, target: null });
    expect(again.job).toBeGreaterThan(done.job);
    const cut = new ProbeService(deps());
    cut.restore(4, { ...done, status: 'running', result: null });
    expect(cut.getState(4).status).toBe('error');
    expect(cut.getState(4).error?.code).toBe('CANCELLED');
  });
});
