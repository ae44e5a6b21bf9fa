import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { machineOf, pairWithRef, resolveRef, rowOf, runBenchAgainst, type BenchSpawner } from '../../bench/against';
import { withMachine } from '../../bench/workloads';
import type { BenchResult } from '../../src/core/bench';

const row = (workload: BenchResult['workload'], medianMs: number, extra: object = {}): BenchResult => ({
  workload, backend: 'wasm', model: 'mnist-lenet', runs: 5, medianMs, minMs: medianMs, maxMs: medianMs, what: 'w', ...extra,
});
const head = (): string => execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
const worktrees = (): string => execFileSync('git', ['worktree', 'list', '--porcelain'], { encoding: 'utf8' });

describe('probe bench --against: two builds timed side by side', () => {
  it('pairs a row with REF\'s: ratioToRef = this median / REF\'s; the ratio to a saved release is dropped', () => {
    const r = pairWithRef(row('cw-l2-1', 900, { ratioToLast: 2.1, lastMachine: 'other' }), row('cw-l2-1', 1200), 'abc1234', 'M');
    expect(r).toMatchObject({ workload: 'cw-l2-1', medianMs: 900, ref: 'abc1234', refMedianMs: 1200, ratioToRef: 0.75, machine: 'M' });
    expect(r).not.toHaveProperty('ratioToLast');
    expect(r).not.toHaveProperty('lastMachine');
    expect(() => pairWithRef(row('fgsm-1', 1), row('jsma-1', 1), 'x', 'M')).toThrow(/paired/);
  });

  it('reads the workload\'s line out of a benchmark\'s output, whatever else it printed', () => {
    const out = ['npm noise', '{not json', JSON.stringify({ error: { code: 'X' } }), JSON.stringify(row('fgsm-1', 3)), JSON.stringify(row('jsma-1', 50))].join('\n');
    expect(rowOf(out, 'jsma-1').medianMs).toBe(50);
    expect(() => rowOf(out, 'cw-l2-1')).toThrow(expect.objectContaining({ code: 'INTERNAL' }));
    expect(() => rowOf(JSON.stringify(row('cw-l2-1', 0)), 'cw-l2-1')).toThrow(/no result line/);
  });

  it('REF must be a commit of this checkout (BAD_INPUT otherwise); HEAD resolves to its full id', () => {
    expect(resolveRef('HEAD')).toBe(head());
    expect(() => resolveRef('no-such-branch-xyz')).toThrow(expect.objectContaining({ code: 'BAD_INPUT', message: expect.stringContaining('not a commit') }));
    expect(() => resolveRef('HEAD; rm -rf /')).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }));
  });

  it('runs REF\'s build, then this one, workload by workload, in a worktree of REF that is removed afterwards', async () => {
    const calls: { cwd: string; args: readonly string[]; refHead: string; hasModels: boolean }[] = [];
    const spawner: BenchSpawner = async (cwd, args) => {
      calls.push({ cwd, args, refHead: execFileSync('git', ['rev-parse', 'HEAD'], { cwd, encoding: 'utf8' }).trim(), hasModels: existsSync(join(cwd, 'models', 'mnist-lenet', 'model.json')) });
      const w = args[args.indexOf('--workloads') + 1] as BenchResult['workload'];
      return `${JSON.stringify(row(w, cwd === process.cwd() ? 10 : 20))}\n`;
    };
    const seen: string[] = [];
    const got = await runBenchAgainst({ ref: 'HEAD', backendFlag: 'wasm', workloads: ['fgsm-1', 'jsma-1'], runs: 3, spawnBench: spawner, onResult: (r) => seen.push(r.workload) });
    expect(got.map((r) => [r.workload, r.ratioToRef, r.ref])).toEqual([['fgsm-1', 0.5, head().slice(0, 7)], ['jsma-1', 0.5, head().slice(0, 7)]]);
    expect(seen).toEqual(['fgsm-1', 'jsma-1']);
    expect(calls.map((c) => (c.cwd === process.cwd() ? 'this' : 'ref'))).toEqual(['ref', 'this', 'ref', 'this']);
    const refDir = calls[0].cwd;
    expect(calls[0]).toMatchObject({ refHead: head(), hasModels: true });
    expect(calls[0].args).toEqual(['bench', '--backend', 'wasm', '--workloads', 'fgsm-1', '--json', '--runs', '3']);
    expect(existsSync(refDir)).toBe(false);
    expect(worktrees()).not.toContain(refDir);
  });

  it('removes the worktree when a run fails, and says which', async () => {
    let refDir = '';
    const failing: BenchSpawner = async (cwd) => {
      refDir = cwd;
      throw new Error('boom');
    };
    await expect(runBenchAgainst({ ref: 'HEAD', backendFlag: 'wasm', workloads: ['fgsm-1'], spawnBench: failing })).rejects.toThrow('boom');
    expect(refDir).not.toBe('');
    expect(existsSync(refDir)).toBe(false);
    expect(worktrees()).not.toContain(refDir);
  });

  it('the CLI: a real run of both builds (HEAD against HEAD, classify-1), and its flag errors', () => {
    const probe = (...args: string[]) => spawnSync('npx', ['tsx', 'src/cli/probe.ts', 'bench', ...args], { encoding: 'utf8', timeout: 300_000 });
    const r = probe('--against', 'HEAD', '--workloads', 'classify-1', '--runs', '3', '--json');
    expect(r.status, r.stderr).toBe(0);
    const o = JSON.parse(r.stdout.trim().split('\n').pop() as string) as Record<string, unknown>;
    expect(o).toMatchObject({ workload: 'classify-1', backend: 'wasm', runs: 3, ref: head().slice(0, 7), machine: machineOf() });
    expect(o.ratioToRef).toBeCloseTo((o.medianMs as number) / (o.refMedianMs as number), 1);
    expect(o.refMedianMs).toBeGreaterThan(0);
    const bad = probe('--against', 'HEAD', '--save', 'x');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--save keeps one');
    expect(probe('--against', 'nope-not-a-ref', '--workloads', 'classify-1').stderr).toContain('not a commit');
  }, 300_000);
});

describe('saved benchmark rows name their machine', () => {
  it('lastMachine where the release compared with ran on another machine or did not say', () => {
    const last = new Map([
      ['fgsm-1', { medianMs: 2, machine: 'A' }],
      ['jsma-1', { medianMs: 50, machine: 'B' }],
      ['cw-l2-1', { medianMs: 900 }],
    ]);
    expect(withMachine(row('fgsm-1', 2), last, 'A')).toEqual({ ...row('fgsm-1', 2), machine: 'A' });
    expect(withMachine(row('jsma-1', 50), last, 'A')).toMatchObject({ machine: 'A', lastMachine: 'B' });
    expect(withMachine(row('cw-l2-1', 900), last, 'A')).toMatchObject({ machine: 'A', lastMachine: 'not recorded' });
    expect(withMachine(row('bim-1', 9), last, 'A')).not.toHaveProperty('lastMachine');
    expect(machineOf()).toMatch(/×\d+$/);
    expect(readFileSync('/proc/cpuinfo', 'utf8').length > 0 ? machineOf() : '').toContain('MHz');
  });
});
