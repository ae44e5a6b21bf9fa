import { describe, expect, it } from 'vitest';
import { linearScale, niceTicks, SWEEP_BOX, sweepChart, transferBars, transferRate, TRANSFER_BOX } from '../../src/popup/charts';

describe('chart geometry (pure)', () => {
  it('linearScale maps the domain ends onto the range ends, a degenerate domain onto the middle', () => {
    const s = linearScale(-1, 1, 10, 110);
    expect(s(-1)).toBe(10);
    expect(s(1)).toBe(110);
    expect(s(0)).toBe(60);
    expect(linearScale(2, 2, 0, 10)(5)).toBe(5);
  });

  it('niceTicks gives round steps covering the range', () => {
    expect(niceTicks(0, 10, 5)).toEqual([0, 2, 4, 6, 8, 10]);
    expect(niceTicks(-3.2, 7.9, 4)).toEqual([0, 5]); // raw step 11.1/4 ≈ 2.8 → 5
    expect(niceTicks(-3.2, 7.9, 6)).toEqual([-2, 0, 2, 4, 6]);
    expect(niceTicks(1, 1)).toEqual([1]);
    expect(niceTicks(Number.NaN, 1)).toEqual([]);
  });

  it('sweepChart: one path per class through every point, shaded regions exactly where the label is predicted', () => {
    const eps = [-1, -0.5, 0, 0.5, 1];
    // class 0 falls, class 1 rises: 0 predicted for ε ≤ 0 (three points), 1 after.
    const logits = eps.map((e) => [-e, e, -5]);
    const predicted = logits.map((r) => r.indexOf(Math.max(...r)));
    predicted[2] = 0; // tie at ε = 0 broken towards the label
    const m = sweepChart(eps, logits, predicted, 0);
    expect(m.lines).toHaveLength(3);
    expect(m.lines[0].correct).toBe(true);
    expect(m.lines[1].correct).toBe(false);
    for (const l of m.lines) expect(l.d.split(/[ML]/).filter(Boolean)).toHaveLength(5);
    const { x0, x1, y0, y1 } = m.plot;
    expect(x0).toBe(SWEEP_BOX.left);
    expect(x1).toBe(SWEEP_BOX.width - SWEEP_BOX.right);
    // The first point of class 0 (ε = −1) is at the left edge; every y is inside the plot.
    expect(m.lines[0].d.startsWith(`M${x0.toFixed(1)},`)).toBe(true);
    for (const l of m.lines) for (const [, y] of l.d.split(/[ML]/).filter(Boolean).map((p) => p.split(',').map(Number))) expect(y >= y0 && y <= y1).toBe(true);
    expect(m.regions).toHaveLength(1);
    const r = m.regions[0];
    expect(r.eps0).toBe(-1);
    expect(r.eps1).toBe(0);
    // From the left edge to half-way between ε = 0 and ε = 0.5.
    const sx = linearScale(-1, 1, x0, x1);
    expect(r.x).toBeCloseTo(x0, 9);
    expect(r.x + r.width).toBeCloseTo((sx(0) + sx(0.5)) / 2, 9);
    expect(m.zeroX).toBeCloseTo(sx(0), 9);
    expect(m.xTicks.map((t) => t.label)).toEqual(['-1', '0', '1']);
    expect(m.yTicks.length).toBeGreaterThan(1);
  });

  it('sweepChart: no correct point gives no region; non-finite logits are skipped; empty input is empty', () => {
    const m = sweepChart([-1, 0, 1], [[0, 1], [Number.NaN, 2], [0, 3]], [1, 1, 1], 0);
    expect(m.regions).toEqual([]);
    expect(m.lines[0].d.split(/[ML]/).filter(Boolean)).toHaveLength(2);
    expect(sweepChart([], [], [], 0).lines).toEqual([]);
  });

  it('transferBars: bar length is confidence × track width, rows stacked; transferRate leaves out the source model', () => {
    const rows = [
      { advConfidence: 0.5, fooled: true, source: true },
      { advConfidence: 1.2, fooled: false, source: false },
      { advConfidence: Number.NaN, fooled: true, source: false },
    ];
    const { bars, height } = transferBars(rows);
    const track = TRANSFER_BOX.width - TRANSFER_BOX.labelWidth - TRANSFER_BOX.valueWidth;
    expect(bars.map((b) => b.barWidth)).toEqual([0.5 * track, track, 0]);
    expect(bars[1].y - bars[0].y).toBe(TRANSFER_BOX.rowHeight + TRANSFER_BOX.gap);
    expect(height).toBe(3 * TRANSFER_BOX.rowHeight + 2 * TRANSFER_BOX.gap);
    expect(transferRate(rows)).toEqual({ fooled: 1, total: 2 });
  });
});
