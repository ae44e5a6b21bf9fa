/**
 * Geometry and colours of the lab's matrix heatmaps (Papernot et al.'s per-pair matrices): pure
 * functions, no DOM. A cell's colour is a light-to-dark blue ramp over the matrix's own range; cells
 * without a value (null: the diagonal, pairs without runs) are drawn hatched grey.
 */
import type { PopupMatrix } from '../core/metrics/popup-matrices';

export const HEATMAP_BOX = { cell: 26, left: 18, top: 18 } as const;

/** One cell: its position, value, fill and the text shown in it. */
export interface HeatCell {
  readonly s: number;
  readonly t: number;
  readonly x: number;
  readonly y: number;
  readonly value: number | null;
  readonly fill: string;
  readonly label: string;
  /** Dark cells get light text. */
  readonly dark: boolean;
}

/** Smallest and largest non-null values of a matrix (null when it has none). */
export function matrixRange(m: PopupMatrix): { lo: number; hi: number } | null {
  let lo = Infinity;
  let hi = -Infinity;
  for (const row of m) for (const v of row) if (v !== null && Number.isFinite(v)) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
  return Number.isFinite(lo) ? { lo, hi } : null;
}

/** The ramp's colour for u in [0, 1] (light at 0, dark at 1). */
export function rampColour(u: number): string {
  const k = Math.min(1, Math.max(0, Number.isFinite(u) ? u : 0));
  const from = [239, 246, 255];
  const to = [30, 64, 175];
  const c = from.map((f, i) => Math.round(f + (to[i] - f) * k));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

/** The cells of a C×C matrix with `format` for the shown values; the side of the drawing. */
export function heatmapCells(m: PopupMatrix, format: (v: number) => string, box = HEATMAP_BOX): { cells: HeatCell[]; side: number; range: { lo: number; hi: number } | null } {
  const range = matrixRange(m);
  const cells: HeatCell[] = [];
  m.forEach((row, s) =>
    row.forEach((v, t) => {
      const u = v === null || !range ? 0 : range.hi > range.lo ? (v - range.lo) / (range.hi - range.lo) : 0.5;
      cells.push({
        s, t, x: box.left + t * box.cell, y: box.top + s * box.cell, value: v,
        fill: v === null ? 'url(#heat-none)' : rampColour(u), label: v === null ? '' : format(v), dark: v !== null && u > 0.55,
      });
    }),
  );
  return { cells, side: box.left + m.length * box.cell, range };
}
