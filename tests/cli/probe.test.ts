import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parseArgs } from '../../src/cli/probe';

/** The probe CLI as a user runs it (a real process), on a small n to stay quick. */
function probe(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync('npx', ['tsx', 'src/cli/probe.ts', ...args], { encoding: 'utf8', timeout: 300_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('probe CLI', () => {
  it('attack --json prints the documented fields with consistent values', () => {
    const r = probe('attack', '--model', 'mnist-lenet', '--attack', 'fgsm', '--eps', '0.2', '--n', '200', '--json');
    expect(r.code, r.stderr).toBe(0);
    const o = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(Object.keys(o).sort()).toEqual(
      ['attack', 'attacked', 'backend', 'cleanAccuracy', 'meanAdvConfidence', 'meanAdvConfidenceSuccessful', 'meanL0', 'meanL0Fraction',
        'meanL0FractionSuccessful', 'meanL0Successful', 'meanL2', 'meanL2Successful', 'meanLinf', 'meanLinfSuccessful', 'model',
        'msPerImage', 'n', 'params', 'seconds', 'successRate', 'targets'].sort(),
    );
    expect(o).toMatchObject({ model: 'mnist-lenet', attack: 'fgsm', n: 200, backend: 'wasm', params: { eps: 0.2, norm: 'inf' } });
    expect(o.cleanAccuracy).toBeGreaterThan(0.97);
    expect(o.successRate).toBeGreaterThan(0);
    expect(o.successRate).toBeLessThanOrEqual(1);
    expect(o.meanLinf).toBeLessThanOrEqual(0.2 + 1e-6);
    expect(o.meanLinf).toBeGreaterThan(0.19);
    expect(o.meanL2).toBeGreaterThan(0);
    expect(o.meanL0).toBeGreaterThan(0);
    expect(o.meanL0).toBeLessThanOrEqual(784);
    expect(o.meanAdvConfidence).toBeGreaterThan(0.1);
    expect(o.msPerImage).toBeGreaterThan(0);
    expect(o.meanL0Fraction).toBeCloseTo(o.meanL0 / 784, 6);
    expect(o.targets).toBe('none');
  }, 300_000);

  it('targeted runs (--targets next) report per-pair matrices and meet the target more often with more steps', () => {
    const run = (steps: string) => {
      const r = probe('attack', '--model', 'mnist-lenet', '--attack', 'bim', '--targets', 'next', '--eps', '0.3', '--step-size', '0.05',
        '--steps', steps, '--n', '60', '--json');
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout.trim().split('\n').pop()!);
    };
    const one = run('1');
    const many = run('15');
    expect(many.params).toMatchObject({ eps: 0.3, stepSize: 0.05, steps: 15, norm: 'inf', randomStart: false });
    expect(many.targets).toBe('next');
    expect(many.pairs.count.flat().reduce((a: number, b: number) => a + b, 0)).toBe(many.attacked);
    // (label + 1) mod 10 only: the diagonal above the main one.
    expect(many.pairs.count[3][4]).toBeGreaterThan(0);
    expect(many.pairs.count[3][5]).toBe(0);
    expect(many.successRate).toBeGreaterThan(one.successRate);
    expect(many.successRate).toBeGreaterThan(0.8);
    expect(many.meanLinf).toBeLessThanOrEqual(0.3 + 1e-6);
  }, 300_000);

  it('a VAE attack (Kos et al.) reports AS_target / AS_ignore-target and their 10×10 matrices', () => {
    const r = probe('attack', '--attack', 'vae-classifier', '--targets', 'next', '--n', '20', '--json');
    expect(r.code, r.stderr).toBe(0);
    const o = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(o).toMatchObject({ attack: 'vae-classifier', targets: 'next', n: 20, attacked: 20, backend: 'wasm' });
    expect(o.params).toMatchObject({ method: 'l2', lambda: 0.25, steps: 150 });
    expect(o.asTargetMatrix).toHaveLength(10);
    expect(o.counts.flat().reduce((a: number, b: number) => a + b, 0)).toBe(20);
    expect(o.asTarget).toBeGreaterThan(0.6);
    expect(o.asIgnoreTarget).toBeGreaterThanOrEqual(o.asTarget);
    expect(o.meanL2).toBeGreaterThan(0);
  }, 300_000);

  it('eps 0 changes nothing: success rate 0 and zero distortion', () => {
    const r = probe('attack', '--model', 'mnist-lenet', '--eps', '0', '--n', '100', '--json');
    expect(r.code, r.stderr).toBe(0);
    const o = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(o.successRate).toBe(0);
    expect(o.meanL2).toBe(0);
  }, 300_000);

  it.each([
    [['attack', '--model', 'nope'], 'MODEL_NOT_FOUND', 1],
    [['attack', '--model', 'mnist-lenet', '--eps', 'abc'], 'BAD_INPUT', 2],
    [['attack', '--model', 'mnist-lenet', '--n', '0'], 'BAD_INPUT', 2],
    [['attack', '--model', 'mnist-lenet', '--attack', 'xyz'], 'BAD_INPUT', 2],
    [['attack', '--model', 'mnist-lenet', '--attack', 'bim', '--steps', '2.5'], 'BAD_INPUT', 2],
    [['attack', '--model', 'mnist-lenet', '--attack', 'fgsm', '--bogus', '1'], 'BAD_INPUT', 2],
    [['attack', '--model', 'mnist-lenet', '--targets', 'sideways'], 'BAD_INPUT', 2],
    [['frobnicate'], 'BAD_INPUT', 2],
  ] as const)('bad input %j gives a JSON error with code %s', (args, code, exit) => {
    const r = probe(...args);
    expect(r.code).toBe(exit);
    const line = r.stderr.split('\n').find((l) => l.startsWith('{"error"'));
    expect(line, r.stderr).toBeDefined();
    expect(JSON.parse(line!).error.code).toBe(code);
  }, 120_000);

  it('parses flags', () => {
    const a = parseArgs(['attack', '--eps', '0.1', '--json']);
    expect(a.command).toBe('attack');
    expect(a.flags.get('eps')).toBe('0.1');
    expect(a.flags.get('json')).toBe(true);
    expect(() => parseArgs(['attack', 'stray'])).toThrow(/unexpected/);
  });
});
