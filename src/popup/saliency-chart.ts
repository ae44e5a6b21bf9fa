/**
 * Geometry of the lab's "JSMA saliency map for this image" view: pure functions, no DOM. The map is a grid
 * of cells coloured by √(S / max S) on the matrices' ramp (zero: white; the root keeps the many small values visible
 * beside a few large ones); A(X, t) per target is a bar.
 */
import { rampColour } from './heatmap';

export const SALIENCY_BOX = { cell: 8, barsWidth: 300, labelWidth: 28, valueWidth: 52, rowHeight: 18, gap: 4 } as const;

/** One cell of the saliency heatmap. */
export interface SaliencyCell {
  readonly i: number;
  readonly x: number;
  readonly y: number;
  readonly fill: string;
}

/**
 * The non-zero cells of a width×height map (zero cells are the white background), coloured by √(value / max),
 * and the largest value (0 for an all-zero map). Non-finite and negative values count as zero.
 */
export function saliencyCells(map: readonly number[], width: number, height: number, cell: number = SALIENCY_BOX.cell): { cells: SaliencyCell[]; max: number; side: { width: number; height: number } } {
  let max = 0;
  for (const v of map) if (Number.isFinite(v) && v > max) max = v;
  const cells: SaliencyCell[] = [];
  const n = Math.min(map.length, width * height);
  for (let i = 0; i < n; i++) {
    const v = map[i];
    if (!(Number.isFinite(v) && v > 0) || max <= 0) continue;
    cells.push({ i, x: (i % width) * cell, y: Math.floor(i / width) * cell, fill: rampColour(Math.sqrt(v / max)) });
  }
  return { cells, max, side: { width: width * cell, height: height * cell } };
}

/** One bar of the adversarial-distance chart: A(X, t) ∈ [0, 1] times the track width. */
export interface DistanceBar {
  readonly target: number;
  readonly y: number;
  readonly barX: number;
  readonly barWidth: number;
  readonly trackWidth: number;
}

/** Bars for A(X, t), one row per target, and the chart's height. */
export function distanceBars(rows: readonly { readonly target: number; readonly distance: number }[], box = SALIENCY_BOX): { bars: DistanceBar[]; height: number } {
  const trackWidth = box.barsWidth - box.labelWidth - box.valueWidth;
  const bars = rows.map((r, k) => {
    const d = Number.isFinite(r.distance) ? Math.min(1, Math.max(0, r.distance)) : 0;
    return { target: r.target, y: k * (box.rowHeight + box.gap), barX: box.labelWidth, barWidth: d * trackWidth, trackWidth };
  });
  return { bars, height: Math.max(0, rows.length * (box.rowHeight + box.gap) - box.gap) };
}
