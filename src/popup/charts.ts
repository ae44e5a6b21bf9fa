/**
 * Geometry of the lab's SVG charts as small pure functions (no chart library, no DOM): the ε-sweep
 * (Goodfellow et al. fig. 4) and the transfer bars. Components only draw what these return.
 */
import { correctRuns } from '../core/lab/sweep-common';

/** A linear map from [d0, d1] to [r0, r1] (a degenerate domain maps to the middle of the range). */
export function linearScale(d0: number, d1: number, r0: number, r1: number): (v: number) => number {
  if (!(d1 > d0)) return () => (r0 + r1) / 2;
  const k = (r1 - r0) / (d1 - d0);
  return (v) => r0 + (v - d0) * k;
}

/** About `count` round tick values covering [lo, hi] (steps of 1, 2 or 5 × 10^k). */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  if (hi < lo) [lo, hi] = [hi, lo];
  if (hi === lo) return [lo];
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : Number(v.toPrecision(12)));
  return out;
}

export interface ChartBox {
  readonly width: number;
  readonly height: number;
  readonly left: number;
  readonly right: number;
  readonly top: number;
  readonly bottom: number;
}

export const SWEEP_BOX: ChartBox = { width: 340, height: 190, left: 34, right: 8, top: 8, bottom: 24 };

/** What the sweep chart draws. */
export interface SweepChartModel {
  /** One polyline per class: its SVG path, and whether it is the correct (original) class. */
  readonly lines: { readonly cls: number; readonly d: string; readonly correct: boolean }[];
  /** Shaded x-ranges where the predicted class is the correct one. */
  readonly regions: { readonly x: number; readonly width: number; readonly eps0: number; readonly eps1: number }[];
  readonly xTicks: { readonly x: number; readonly label: string }[];
  readonly yTicks: { readonly y: number; readonly label: string }[];
  /** x of ε = 0 (null when 0 is outside the sweep). */
  readonly zeroX: number | null;
  readonly plot: { readonly x0: number; readonly x1: number; readonly y0: number; readonly y1: number };
}

const fmt = (v: number): string => (Math.abs(v) < 1e-12 ? '0' : Number(v.toPrecision(3)).toString());

/**
 * The sweep chart's geometry: logits[i][c] at eps[i] as one line per class, the ε ranges where
 * predicted[i] === label shaded (each point owns the half-way interval to its neighbours), ticks.
 */
export function sweepChart(eps: readonly number[], logits: readonly (readonly number[])[], predicted: readonly number[], label: number, box: ChartBox = SWEEP_BOX): SweepChartModel {
  const n = Math.min(eps.length, logits.length, predicted.length);
  const x0 = box.left;
  const x1 = box.width - box.right;
  const y0 = box.top;
  const y1 = box.height - box.bottom;
  const plot = { x0, x1, y0, y1 };
  if (n === 0) return { lines: [], regions: [], xTicks: [], yTicks: [], zeroX: null, plot };
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < n; i++) for (const v of logits[i]) if (Number.isFinite(v)) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
  if (!Number.isFinite(lo)) [lo, hi] = [0, 1];
  const pad = (hi - lo) * 0.04 || 1;
  lo -= pad;
  hi += pad;
  const sx = linearScale(eps[0], eps[n - 1], x0, x1);
  const sy = linearScale(lo, hi, y1, y0);
  const classes = logits[0].length;
  const lines = Array.from({ length: classes }, (_, c) => {
    const parts: string[] = [];
    for (let i = 0; i < n; i++) {
      const v = logits[i][c];
      if (!Number.isFinite(v)) continue;
      parts.push(`${parts.length === 0 ? 'M' : 'L'}${sx(eps[i]).toFixed(1)},${sy(v).toFixed(1)}`);
    }
    return { cls: c, d: parts.join(' '), correct: c === label };
  });
  const edge = (i: number, side: -1 | 1): number => {
    const j = i + side;
    if (j < 0 || j >= n) return sx(eps[i]);
    return (sx(eps[i]) + sx(eps[j])) / 2;
  };
  const regions = correctRuns(predicted.slice(0, n), label).map(([a, b]) => {
    const xa = edge(a, -1);
    const xb = edge(b, 1);
    return { x: xa, width: Math.max(1, xb - xa), eps0: eps[a], eps1: eps[b] };
  });
  const xTicks = [eps[0], 0, eps[n - 1]].filter((v, i, a) => a.indexOf(v) === i && v >= eps[0] && v <= eps[n - 1]).map((v) => ({ x: sx(v), label: fmt(v) }));
  const yTicks = niceTicks(lo, hi, 4).map((v) => ({ y: sy(v), label: fmt(v) }));
  const zeroX = eps[0] <= 0 && eps[n - 1] >= 0 ? sx(0) : null;
  return { lines, regions, xTicks, yTicks, zeroX, plot };
}

export const TRANSFER_BOX = { width: 340, labelWidth: 132, valueWidth: 74, rowHeight: 18, gap: 4 } as const;

/** One bar of the transfer chart. */
export interface TransferBar {
  readonly y: number;
  readonly barX: number;
  /** Bar length: the adversarial prediction's confidence times the bar area width. */
  readonly barWidth: number;
  readonly trackWidth: number;
  readonly fooled: boolean;
}

/** Bars (confidence of each model's prediction on the adversarial), one row each, and the chart's height. */
export function transferBars(rows: readonly { readonly advConfidence: number; readonly fooled: boolean }[], box = TRANSFER_BOX): { bars: TransferBar[]; height: number } {
  const trackWidth = box.width - box.labelWidth - box.valueWidth;
  const bars = rows.map((r, i) => {
    const c = Number.isFinite(r.advConfidence) ? Math.min(1, Math.max(0, r.advConfidence)) : 0;
    return { y: i * (box.rowHeight + box.gap), barX: box.labelWidth, barWidth: c * trackWidth, trackWidth, fooled: r.fooled };
  });
  return { bars, height: Math.max(0, rows.length * (box.rowHeight + box.gap) - box.gap) };
}

/** Fooled models over all models, excluding the source model (the transfer rate). */
export function transferRate(rows: readonly { readonly fooled: boolean; readonly source: boolean }[]): { fooled: number; total: number } {
  const others = rows.filter((r) => !r.source);
  return { fooled: others.filter((r) => r.fooled).length, total: others.length };
}
