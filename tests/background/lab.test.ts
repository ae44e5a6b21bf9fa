import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useNodeBackend } from '../../src/cli/backend';
import { loadMnist } from '../../src/cli/data';
import { dirModelFiles, loadShippedClassifier, loadShippedVae, MODELS_DIR } from '../../src/cli/models';
import { ProbeService, transferModelIds, type DefenseAssets, type ServiceDeps } from '../../src/background/service';
import { parseMagnetCalibrationFile, parseUncertaintyCalibrationFile } from '../../src/core/defenses/calibration';
import { loadEnsemble } from '../../src/core/defenses/ensemble';
import { correctRuns } from '../../src/core/lab/sweep';
import type { Classifier, Uncertain } from '../../src/core/models/types';
import { ProbeError } from '../../src/core/errors';
import { captureDigit } from '../helpers/service';

/**
 * The lab computations of the service (defenses panel, ε-sweep, transfer) on the real shipped models
 * and calibration files, on real MNIST test digits, wasm backend.
 */
const test = loadMnist('test');
const cache = new Map<string, Promise<Classifier>>();
let assets: DefenseAssets;

const json = (p: string): unknown => JSON.parse(readFileSync(p, 'utf8')) as unknown;

beforeAll(async () => {
  await useNodeBackend('wasm');
  const [vae, gpdnn, ensemble] = await Promise.all([
    loadShippedVae('mnist-vae'),
    loadShippedClassifier('mnist-gpdnn'),
    loadEnsemble('mnist-ensemble-5', dirModelFiles(join(MODELS_DIR, 'mnist-ensemble-5'))),
  ]);
  assets = {
    vae, gpdnn: gpdnn as Uncertain, ensemble,
    magnetFile: parseMagnetCalibrationFile(json(join(MODELS_DIR, 'mnist-vae', 'magnet.json'))),
    uncertaintyFile: parseUncertaintyCalibrationFile(json(join(MODELS_DIR, 'mnist-gpdnn', 'uncertainty.json'))),
  };
}, 120_000);

afterAll(async () => {
  for (const p of cache.values()) (await p).dispose();
  assets.vae.dispose();
  assets.gpdnn.dispose();
  assets.ensemble.dispose();
});

function model(id: string): Promise<Classifier> {
  let p = cache.get(id);
  if (!p) {
    p = loadShippedClassifier(id);
    cache.set(id, p);
  }
  return p;
}

function deps(over: Partial<ServiceDeps> = {}): ServiceDeps {
  return {
    capture: captureDigit,
    model,
    defenses: async () => assets,
    backend: async () => 'wasm',
    persist: () => undefined,
    now: () => 1000,
    ...over,
  };
}

describe('ProbeService lab computations (real shipped models)', () => {
  it('defenses: MagNet, GPDNN and ensemble on the clean image and the FGSM adversarial, numbers consistent with the calibration files', async () => {
    const svc = new ProbeService(deps());
    const st = await svc.probeImage({ tabId: 3, frameId: 0, srcUrl: 'http://x/d0.png', pageUrl: '' });
    const before = tf.memory().numTensors;
    const r = await svc.defend(3);
    expect(tf.memory().numTensors).toBe(before);
    expect(r.resultId).toBe(st.result!.id);
    expect(r.modelId).toBe('mnist-lenet');
    // Calibration numbers come from the files, the clean test rate from the file's own check.
    expect(r.magnet.threshold).toBe(assets.magnetFile.threshold);
    expect(r.magnet.cleanTestRate).toBeCloseTo(assets.magnetFile.cleanTestCheck.flagged / assets.magnetFile.cleanTestCheck.n, 12);
    expect(r.gp.fpr).toBe(assets.uncertaintyFile.fpr);
    expect(r.gp.consistent).toBe(assets.uncertaintyFile.cleanTestCheck.consistent);
    for (const side of [r.clean, r.adversarial]) {
      expect(side.magnet.flagged).toBe(side.magnet.score > r.magnet.threshold);
      expect(side.magnet.reformed.probs.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
      expect(side.gp.probs).toHaveLength(10);
      expect(side.gp.variance.every((v) => v >= 0)).toBe(true);
      const h = -side.gp.probs.reduce((a, p) => a + (p > 1e-12 ? p * Math.log(p) : 0), 0);
      expect(side.gp.entropy).toBeCloseTo(h, 4);
      expect(side.gp.unsure).toBe(side.gp.entropy > r.gp.threshold);
      expect(side.ensemble.votes.reduce((a, b) => a + b, 0)).toBe(side.ensemble.members);
      expect(side.ensemble.agreement).toBeCloseTo(side.ensemble.votes[side.ensemble.majority] / side.ensemble.members, 12);
    }
    // A clean, correctly classified test digit: the ensemble agrees with LeNet and MagNet does not flag it.
    expect(r.clean.ensemble.majority).toBe(test.labels[0]);
    expect(r.clean.magnet.flagged).toBe(false);
    // FGSM at ε = 0.25 moves the reconstruction error up (calibration file: 100% flagged at ε 0.25).
    expect(r.adversarial.magnet.score).toBeGreaterThan(r.clean.magnet.score);
  }, 120_000);

  it('ε-sweep: 41 points from −max to +max, the ε = 0 point is the clean prediction, and no tensors leak', async () => {
    const svc = new ProbeService(deps());
    const st = await svc.probeImage({ tabId: 4, frameId: 0, srcUrl: 'http://x/d1.png', pageUrl: '' });
    const before = tf.memory().numTensors;
    const s = await svc.sweep(4, 0.5, 41);
    expect(tf.memory().numTensors).toBe(before);
    expect(s.eps).toHaveLength(41);
    expect(s.eps[0]).toBeCloseTo(-0.5, 12);
    expect(s.eps[40]).toBeCloseTo(0.5, 12);
    expect(s.eps[20]).toBe(0);
    expect(s.logits.every((row) => row.length === 10)).toBe(true);
    expect(s.label).toBe(st.result!.prediction.label);
    expect(s.predicted[20]).toBe(s.label);
    // The middle logits are the model's logits on the clean input: their softmax is the clean prediction.
    const z = s.logits[20];
    const m = Math.max(...z);
    const e = z.map((v) => Math.exp(v - m));
    const sum = e.reduce((a, b) => a + b, 0);
    e.forEach((v, k) => expect(v / sum).toBeCloseTo(st.result!.prediction.probs[k], 4));
    // Positive ε is the FGSM direction: at +0.5 LeNet no longer predicts the clean class; the correct region contains ε = 0.
    expect(s.predicted[40]).not.toBe(s.label);
    expect(correctRuns(s.predicted, s.label).some(([a, b]) => a <= 20 && b >= 20)).toBe(true);
    expect(s.strip.length).toBeGreaterThanOrEqual(3);
    expect(s.strip[0].eps).toBeCloseTo(-0.5, 12);
    expect(s.strip[0].image.pixels).toHaveLength(784);
  }, 60_000);

  it('transfer: every shipped MNIST classifier classifies the adversarial; the source row is the attacked model and its verdict matches the probe', async () => {
    const svc = new ProbeService(deps());
    const st = await svc.probeImage({ tabId: 5, frameId: 0, srcUrl: 'http://x/d2.png', pageUrl: '' });
    // The first run loads the models (their weights stay cached); the second must leave nothing behind.
    const progress: number[] = [];
    const first = svc.transfer(5);
    const timer = setInterval(() => progress.push(svc.labProgress(5).done), 1);
    await first.finally(() => clearInterval(timer));
    const before = tf.memory().numTensors;
    const t = await svc.transfer(5);
    expect(tf.memory().numTensors).toBe(before);
    expect(t.rows.map((r) => r.modelId)).toEqual(transferModelIds());
    expect(t.rows.some((r) => r.modelId === 'fashion-cnn')).toBe(false);
    expect(t.rows).toEqual((await first).rows);
    // Progress never goes backwards.
    expect(progress.every((d, i) => i === 0 || d >= progress[i - 1])).toBe(true);
    const src = t.rows.filter((r) => r.source);
    expect(src).toHaveLength(1);
    expect(src[0].modelId).toBe('mnist-lenet');
    expect(src[0].fooled).toBe(st.result!.attack.success);
    expect(src[0].advClass).toBe(st.result!.attack.prediction.className);
    for (const r of t.rows) {
      expect(r.advConfidence).toBeGreaterThan(0);
      expect(r.advConfidence).toBeLessThanOrEqual(1);
      expect(r.fooled).toBe(r.advClass !== r.cleanClass);
    }
  }, 180_000);

  it('cancel: a queued lab job fails with CANCELLED and its progress goes back to none; bad input gets stable codes', async () => {
    const svc = new ProbeService(deps());
    await expect(svc.defend(9)).rejects.toMatchObject({ code: 'NO_RESULT' });
    await svc.probeImage({ tabId: 6, frameId: 0, srcUrl: 'http://x/d3.png', pageUrl: '' });
    const p = svc.transfer(6);
    expect(svc.labProgress(6)).toMatchObject({ kind: 'transfer', done: 0, total: transferModelIds().length });
    expect(svc.cancelLab(6).phase).toBe('cancelling');
    await expect(p).rejects.toBeInstanceOf(ProbeError);
    await expect(p).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(svc.labProgress(6).kind).toBeNull();
    await expect(svc.sweep(6, 0.5, 40)).rejects.toMatchObject({ code: 'BAD_INPUT' });
    const noDefenses = new ProbeService(deps({ defenses: undefined }));
    await noDefenses.probeImage({ tabId: 1, frameId: 0, srcUrl: 'http://x/d3.png', pageUrl: '' });
    await expect(noDefenses.defend(1)).rejects.toMatchObject({ code: 'MODEL_NOT_FOUND' });
  }, 60_000);
});
