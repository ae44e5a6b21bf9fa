import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GPU_REPORT, renderGpuReport } from '../../bench/gpu-report';

describe('bench/results/gpu/REPORT.md', () => {
  it('is generated from the raw GPU run outputs beside it (npx tsx bench/gpu-report.ts)', () => {
    const report = renderGpuReport();
    expect(report).toContain('| fgsm-100 |');
    expect(readFileSync(GPU_REPORT, 'utf8')).toBe(report);
  });
});
