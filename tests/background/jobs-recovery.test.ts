import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { nonFiniteField, recoverInterrupted, RESTARTED_DURING_ATTACK, RESTARTED_DURING_PROBE, storedStates } from '../../src/background/jobs-recovery';
import { ProbeService, type ServiceDeps } from '../../src/background/service';
import type { Classifier } from '../../src/core/models/types';
import type { ProbeState } from '../../src/protocol/types';
import { tinyClassifier } from '../helpers/tiny';
import { captureDigit } from '../helpers/service';

let model: Classifier;

beforeAll(async () => {
  await tf.setBackend('cpu');
  model = tinyClassifier(3);
});

function deps(over: Partial<ServiceDeps> = {}): ServiceDeps & { persisted: { tabId: number; state: ProbeState }[] } {
  const persisted: { tabId: number; state: ProbeState }[] = [];
  return {
    persisted,
    capture: captureDigit,
    model: async () => model,
    backend: async () => 'cpu',
    persist: (tabId, state) => persisted.push({ tabId, state }),
    now: () => 1000,
    ...over,
  };
}

describe('jobs after a service-worker restart (checklist rows 27, 36)', () => {
  it('a running re-run comes back done with its previous result and a "run it again" notice; a running probe as a CANCELLED error', async () => {
    const svc = new ProbeService(deps());
    const done = await svc.probeImage({ tabId: 2, frameId: 0, srcUrl: 'http://x/d0.png', pageUrl: '' });
    const rerun: ProbeState = { ...done, status: 'running', job: done.job + 1, stage: 'attacking (cw-l2)', progress: { done: 5, total: 100, phase: null, info: null } };
    const r = recoverInterrupted(rerun);
    expect(r.status).toBe('done');
    expect(r.result).toBe(done.result);
    expect(r.job).toBe(rerun.job);
    expect(r.progress).toBeNull();
    expect(r.stage).toBeNull();
    expect(r.error).toEqual({ code: 'CANCELLED', message: RESTARTED_DURING_ATTACK });
    const probe: ProbeState = { ...rerun, result: null, stage: 'capturing the image' };
    const p = recoverInterrupted(probe);
    expect(p.status).toBe('error');
    expect(p.error).toEqual({ code: 'CANCELLED', message: RESTARTED_DURING_PROBE });
    // Finished states are left alone (same object).
    expect(recoverInterrupted(done)).toBe(done);
  });

  it('storedStates keeps only well-formed state:<tab> entries', () => {
    const ok = { status: 'done', job: 4 };
    const got = storedStates({ 'state:7': ok, 'state:x': ok, 'other:1': ok, 'state:8': { status: 'done', job: Number.NaN }, 'state:9': null, 'state:10': 'running' });
    expect(got.map((g) => g.tabId)).toEqual([7]);
  });

  it('a restored service persists the recovered state once and continues job numbers from the stored ones', async () => {
    const d = deps();
    const svc = new ProbeService(d);
    const stuck: ProbeState = { status: 'running', job: 41, tabId: 3, backend: 'cpu', modelId: 'mnist-lenet', result: null, error: null, stage: 'queued', progress: null };
    svc.restore(3, stuck);
    expect(svc.getState(3).status).toBe('error');
    expect(d.persisted).toHaveLength(1);
    expect(d.persisted[0].state.error?.code).toBe('CANCELLED');
    // A restore of another, finished tab writes nothing.
    svc.restore(4, { ...stuck, tabId: 4, job: 12, status: 'error', error: { code: 'NO_IMAGE', message: 'x' } });
    expect(d.persisted).toHaveLength(1);
    const next = await svc.probeImage({ tabId: 3, frameId: 0, srcUrl: 'http://x/d1.png', pageUrl: '' });
    expect(next.job).toBe(42);
    expect(svc.queueStats()).toMatchObject({ queued: 0, done: 1, merged: 0, lastJob: 42 });
  });
});

describe('job queue: merged probes and counters (rows 34, 35)', () => {
  it('a burst of probes in one tab runs only the newest; the older ones are merged, never shown as the newer job', async () => {
    const d = deps();
    const svc = new ProbeService(d);
    const before = tf.memory().numTensors;
    const runs = [0, 1, 2, 3].map((i) => svc.probeImage({ tabId: 9, frameId: 0, srcUrl: `http://x/d${i}.png`, pageUrl: '' }));
    expect(svc.queueStats().queued).toBe(4);
    const states = await Promise.all(runs);
    const final = svc.getState(9);
    expect(final.status).toBe('done');
    expect(final.job).toBe(4);
    expect(final.result?.source.srcUrl).toBe('http://x/d3.png');
    for (const s of states) expect(s.job).toBe(4);
    expect(svc.queueStats()).toMatchObject({ queued: 0, done: 4, merged: 3, lastJob: 4 });
    // No persisted "done" ever pairs a job number with another job's image.
    for (const { state } of d.persisted) if (state.status === 'done') expect(state.result?.source.srcUrl).toBe('http://x/d3.png');
    expect(tf.memory().numTensors).toBe(before);
  });

  it('two tabs: FIFO order, each result to its own tab', async () => {
    let clock = 0;
    const svc = new ProbeService(deps({ now: () => ++clock }));
    const a = svc.probeImage({ tabId: 1, frameId: 0, srcUrl: 'http://x/d5.png', pageUrl: 'http://a/' });
    const b = svc.probeImage({ tabId: 2, frameId: 0, srcUrl: 'http://x/d5.png', pageUrl: 'http://b/' });
    const [sa, sb] = await Promise.all([a, b]);
    expect(sa.result?.source.pageUrl).toBe('http://a/');
    expect(sb.result?.source.pageUrl).toBe('http://b/');
    expect(sa.result!.createdAt).toBeLessThan(sb.result!.createdAt);
  });
});

describe('non-finite numbers (row 25)', () => {
  it('nonFiniteField finds NaN or ∞ in any shown number and passes a clean result', async () => {
    const svc = new ProbeService(deps());
    const st = await svc.probeImage({ tabId: 1, frameId: 0, srcUrl: 'http://x/d2.png', pageUrl: '' });
    const r = st.result!;
    expect(nonFiniteField(r)).toBeNull();
    const pixels = [...r.attack.adversarial.pixels];
    pixels[17] = Number.NaN;
    expect(nonFiniteField({ ...r, attack: { ...r.attack, adversarial: { ...r.attack.adversarial, pixels } } })).toBe('attack.adversarial[17]');
    expect(nonFiniteField({ ...r, attack: { ...r.attack, distances: { ...r.attack.distances, l2: Number.POSITIVE_INFINITY } } })).toBe('attack.distances.l2');
  });

  it('a model whose logits overflow stops the job with a message and no result', async () => {
    const nanModel: Classifier = { ...model, logits: (x) => tf.tidy(() => model.logits(x).mul(Number.NaN)) };
    const svc = new ProbeService(deps({ model: async () => nanModel }));
    const before = tf.memory().numTensors;
    const st = await svc.probeImage({ tabId: 1, frameId: 0, srcUrl: 'http://x/d2.png', pageUrl: '' });
    expect(st.status).toBe('error');
    expect(st.result).toBeNull();
    expect(st.error?.message).toMatch(/non-finite|NaN/);
    expect(tf.memory().numTensors).toBe(before);
  });
});
