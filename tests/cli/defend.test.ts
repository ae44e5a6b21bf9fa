import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defendOptions, runDefend, type DefendResult } from '../../src/cli/defend';
import type { ConditionReport } from '../../src/core/defenses/evaluate';

/** The probe CLI as a user runs it (a real process), on a small n to stay quick. */
function probe(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync('npx', ['tsx', 'src/cli/probe.ts', ...args], { encoding: 'utf8', timeout: 300_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const lastJson = (stdout: string): DefendResult => JSON.parse(stdout.trim().split('\n').pop()!) as DefendResult;

/** Every rate of a condition block is a fraction in [0, 1]. */
function expectRates(c: ConditionReport | undefined): void {
  if (!c?.magnet || !c.gpdnn || !c.ensemble) throw new Error('a condition block lacks a defense');
  for (const v of [c.accuracy, c.magnet.detectionRate, c.magnet.reformedAccuracy, c.gpdnn.accuracy, c.gpdnn.unsureRate,
    c.ensemble.accuracy, c.ensemble.majorityAccuracy, c.ensemble.meanAgreement, c.ensemble.unanimousRate]) {
    expect(v).toBeGreaterThanOrEqual(0);
    expect(v).toBeLessThanOrEqual(1 + 1e-6);
  }
}

describe('probe defend', () => {
  it('--json: FGSM ε=0.3 on real test digits lowers accuracy and agreement and raises MagNet detections', () => {
    const r = probe('defend', '--model', 'mnist-lenet', '--attack', 'fgsm', '--eps', '0.3', '--n', '40', '--json');
    expect(r.code, r.stderr).toBe(0);
    const o = lastJson(r.stdout);
    expect(Object.keys(o).sort()).toEqual(['adversarial', 'attack', 'backend', 'clean', 'defenses', 'model', 'n', 'params', 'seconds'].sort());
    expect(o).toMatchObject({ model: 'mnist-lenet', attack: 'fgsm', n: 40, backend: 'wasm', params: { eps: 0.3, norm: 'inf' } });
    expect(o.defenses).toMatchObject({
      magnet: { vae: 'mnist-vae', reformer: 'mnist-lenet', metric: 'l1', fpr: 0.01 },
      gpdnn: { model: 'mnist-gpdnn', score: 'entropy', fpr: 0.01 },
      ensemble: { model: 'mnist-ensemble-5', members: 5 },
    });
    expectRates(o.clean);
    expectRates(o.adversarial);
    expect(o.clean.accuracy).toBeGreaterThan(0.9);
    expect(o.adversarial!.accuracy).toBeLessThan(o.clean.accuracy);
    expect(o.adversarial!.magnet!.detectionRate).toBeGreaterThan(o.clean.magnet!.detectionRate);
    expect(o.adversarial!.magnet!.fooled).toBeGreaterThan(0);
    expect(o.adversarial!.ensemble!.meanAgreement).toBeLessThan(o.clean.ensemble!.meanAgreement);
    expect(o.clean.magnet!.detectionRateOnFooled).toBeNull();
  }, 300_000);

  it('ε = 0 changes nothing: the adversarial rates equal the clean ones', () => {
    const r = probe('defend', '--model', 'mnist-softmax', '--eps', '0', '--n', '30', '--json');
    expect(r.code, r.stderr).toBe(0);
    const o = lastJson(r.stdout);
    expect(o.attack).toBe('fgsm');
    const { fooled: f1, detectionRateOnFooled: d1, ...cleanMagnet } = o.clean.magnet!;
    const { fooled: f2, detectionRateOnFooled: d2, ...advMagnet } = o.adversarial!.magnet!;
    expect(advMagnet).toEqual(cleanMagnet);
    expect([f1, f2, d1, d2]).toEqual([0, 0, null, null]);
    expect(o.adversarial!.accuracy).toBe(o.clean.accuracy);
    expect(o.adversarial!.ensemble).toEqual(o.clean.ensemble);
    expect(o.adversarial!.gpdnn!.unsureRate).toBe(o.clean.gpdnn!.unsureRate);
  }, 300_000);

  it.each([
    [['defend'], 'BAD_INPUT', 2],
    [['defend', '--model', 'nope'], 'MODEL_NOT_FOUND', 1],
  ])('%j fails with %s (exit %d)', (args, code, exit) => {
    const r = probe(...args);
    expect(r.code).toBe(exit);
    expect(JSON.parse(r.stderr.trim().split('\n')[0])).toMatchObject({ error: { code } });
  }, 300_000);
});

describe('defendOptions / runDefend', () => {
  const flags = (o: Record<string, string | true>) => new Map(Object.entries(o));

  it('reads the attack parameters and the defaults', () => {
    const o = defendOptions(flags({ model: 'mnist-lenet', attack: 'bim', eps: '0.2', steps: '5', 'step-size': '0.05' }));
    expect(o).toMatchObject({ model: 'mnist-lenet', n: 100, batch: 100, backend: 'wasm' });
    expect(o.attack.id).toBe('bim');
    expect(o.params).toMatchObject({ eps: 0.2, steps: 5, stepSize: 0.05 });
    expect(defendOptions(flags({ model: 'mnist-gpdnn' })).attack.id).toBe('fgsm');
  });

  it.each([
    [{}, 'BAD_INPUT'],
    [{ model: 'nope' }, 'MODEL_NOT_FOUND'],
    [{ model: 'fashion-cnn' }, 'BAD_INPUT'],
    [{ model: 'mnist-lenet', attack: 'vae-latent' }, 'BAD_INPUT'],
    [{ model: 'mnist-lenet', eps: 'abc' }, 'BAD_INPUT'],
    [{ model: 'mnist-lenet', eps: '2' }, 'BAD_INPUT'],
    [{ model: 'mnist-lr-3v7' }, 'BAD_INPUT'],
    [{ model: 'mnist-vae' }, 'BAD_INPUT'],
    [{ model: 'mnist-lenet', n: '0' }, 'BAD_INPUT'],
    [{ model: 'mnist-lenet', n: '10001' }, 'BAD_INPUT'],
    [{ model: 'mnist-lenet', backend: 'tpu' }, 'BAD_INPUT'],
    [{ model: 'mnist-lenet', bogus: '1' }, 'BAD_INPUT'],
  ])('rejects %j with %s', (o, code) => {
    expect(() => defendOptions(flags(o))).toThrowError(expect.objectContaining({ code }));
  });

  it('a models folder without the calibration files is MODEL_LOAD_FAILED', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'defend-'));
    try {
      await expect(runDefend(defendOptions(flags({ model: 'mnist-lenet' })), dir)).rejects.toMatchObject({ code: 'MODEL_LOAD_FAILED' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
