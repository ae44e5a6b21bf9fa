import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { GPU_REPORT, renderGpuReport } from '../../bench/gpu-report';

describe('bench/results/gpu/REPORT.md', () => {
  it('is generated from the raw GPU run outputs beside it (npx tsx bench/gpu-report.ts)', () => {
    const report = renderGpuReport();
    expect(report).toContain('| fgsm-100 |');
    expect(readFileSync(GPU_REPORT, 'utf8')).toBe(report);
  });
});

describe('renderGpuReport: medians per card and build', () => {
  let root = '';
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  /** One run folder: a build, a card, the two target micro-workloads and PyTorch's figures for them. */
  const run = (name: string, build: string | null, card: string, web: [number, number], torch: [number, number]): void => {
    const dir = join(root, name);
    mkdirSync(dir, { recursive: true });
    if (build) writeFileSync(join(dir, 'build.txt'), `${build}\n`);
    writeFileSync(join(dir, 'nvidia-smi.csv'), `name, driver_version\n${card}, 1.0\n`);
    const line = (o: object): string => `${JSON.stringify(o)}\n`;
    writeFileSync(join(dir, 'webgpu.jsonl'), line({ kind: 'micro', workload: 'fgsm-100', medianMs: web[0] }) + line({ kind: 'micro', workload: 'cw-step-900', medianMs: web[1] }));
    writeFileSync(join(dir, 'torch.jsonl'), line({ kind: 'torch', workload: 'fgsm-100', medianMs: torch[0] }) + line({ kind: 'torch', workload: 'cw-step-900', medianMs: torch[1] }));
  };
  const rowsOf = (report: string): string[] => report.split('\n').filter((l) => /^\| (Card|Other)/.test(l));

  it('groups samples by card and build, takes medians and judges the 3× targets', () => {
    root = mkdtempSync(join(tmpdir(), 'gpu-report-'));
    // Card A, build x: fgsm ratios 2, 2.5, 3.5 (median 2.5, worst 3.5); cw 2.85 ms each (1× gpu.md).
    run('a1', 'x', 'Card A', [2.0, 2.85], [1.0, 2.0]);
    run('a2', 'x', 'Card A', [2.5, 2.85], [1.0, 2.0]);
    run('a3', 'x', 'Card A', [3.5, 2.85], [1.0, 2.0]);
    // Card A, build y: cw 10 ms, over 3× of gpu.md's 2.85 ms.
    run('b1', 'y', 'Card A', [2.0, 10], [1.0, 2.0]);
    // Other card, build x; and a run without build.txt, left out of the medians.
    run('c1', 'x', 'Other', [1.0, 3.0], [1.0, 2.0]);
    run('d1', null, 'Card A', [100, 100], [1.0, 1.0]);
    const rows = rowsOf(renderGpuReport(root));
    expect(rows).toEqual([
      '| Card A | x | 3 | 2.50 | 2.50× (3.50×) | 1.85× | 2.85 | 1.43× (1.43×) | 1.00× | met |',
      '| Card A | y | 1 | 2.00 | 2.00× (2.00×) | 1.48× | 10.0 | 5.00× (5.00×) | 3.51× | not met |',
      '| Other | x | 1 | 1.00 | 1.00× (1.00×) | 0.74× | 3.00 | 1.50× (1.50×) | 1.05× | met |',
    ]);
  });
});
