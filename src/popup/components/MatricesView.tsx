import { useState } from 'preact/hooks';
import { POPUP_SALIENCIES, type PopupMatrices, type PopupMatrix } from '../../core/metrics/popup-matrices';
import type { JsmaSaliency } from '../../core/attacks/jsma';
import { HEATMAP_BOX, heatmapCells } from '../heatmap';
import { formatPercent } from '../format';

/** The matrices the view can show, with how their values read. */
export const MATRIX_KINDS = [
  { key: 'hardness', label: 'Hardness H(s, t)', note: 'area under the success-vs-distortion curve over the Υ grid: higher = harder to reach t from s', fmt: (v: number) => v.toFixed(3).replace(/^0/, '') },
  { key: 'adversarialDistance', label: 'Adversarial distance A', note: 'mean A(X, t) over the pair’s sources: higher = more robust', fmt: (v: number) => v.toFixed(2).replace(/^0/, '') },
  { key: 'successRate', label: 'Success rate', note: 'fraction of JSMA runs classified as the target at the largest Υ', fmt: (v: number) => String(Math.round(v * 100)) },
  { key: 'distortionSuccessful', label: 'Distortion', note: 'mean fraction of pixels changed, successful runs (%)', fmt: (v: number) => (v * 100).toFixed(1) },
] as const;

export type MatrixKind = (typeof MATRIX_KINDS)[number]['key'];

export interface MatricesViewProps {
  readonly data: PopupMatrices;
  /** The current image's source class name (its row is highlighted), or null. */
  readonly sourceClass: string | null;
}

/** One heatmap: rows = source class s, columns = target t; the highlighted row is the current image's class. */
export function Heatmap({ m, classNames, highlight, fmt, label }: { readonly m: PopupMatrix; readonly classNames: readonly string[]; readonly highlight: number; readonly fmt: (v: number) => string; readonly label: string }) {
  const { cells, side, range } = heatmapCells(m, fmt);
  const c = HEATMAP_BOX.cell;
  return (
    <svg viewBox={`0 0 ${side + 2} ${side + 2}`} width={side + 2} height={side + 2} role="img" aria-label={label} data-testid="heatmap-svg" class="heatmap">
      <defs>
        <pattern id="heat-none" width="4" height="4" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">
          <rect width="4" height="4" fill="#f3f4f6" />
          <line x1="0" y1="0" x2="0" y2="4" stroke="#d1d5db" stroke-width="1.5" />
        </pattern>
      </defs>
      {classNames.map((n, i) => (
        <g key={`l${i}`}>
          <text class="tick" x={HEATMAP_BOX.left + i * c + c / 2} y={HEATMAP_BOX.top - 5} text-anchor="middle">
            {n}
          </text>
          <text class={`tick${i === highlight ? ' source' : ''}`} x={HEATMAP_BOX.left - 4} y={HEATMAP_BOX.top + i * c + c / 2 + 4} text-anchor="end">
            {n}
          </text>
        </g>
      ))}
      {cells.map((cell) => (
        <g key={`${cell.s}-${cell.t}`} data-testid="heat-cell" data-s={cell.s} data-t={cell.t} data-value={cell.value === null ? '' : String(cell.value)}>
          <title>{`${classNames[cell.s]} → ${classNames[cell.t]}: ${cell.value === null ? 'no value' : cell.label}`}</title>
          <rect x={cell.x} y={cell.y} width={c - 1} height={c - 1} fill={cell.fill} />
          <text class={`cell-text${cell.dark ? ' dark' : ''}`} x={cell.x + (c - 1) / 2} y={cell.y + c / 2 + 3} text-anchor="middle">
            {cell.label}
          </text>
        </g>
      ))}
      {highlight >= 0 && highlight < classNames.length && (
        <rect class="heat-row" data-testid="heat-row" x={HEATMAP_BOX.left - 1} y={HEATMAP_BOX.top + highlight * c - 1} width={classNames.length * c + 1} height={c + 1} fill="none" />
      )}
      {range === null && (
        <text class="tick" x={side / 2} y={side / 2} text-anchor="middle">
          no values
        </text>
      )}
    </svg>
  );
}

/**
 * Papernot et al.'s dataset-level matrices from reproduction/popup-matrices.json: hardness H(s, t), mean
 * adversarial distance, per-pair success and distortion, for either saliency map; the current image's
 * source class row outlined.
 */
export function MatricesView({ data, sourceClass }: MatricesViewProps) {
  const [kind, setKind] = useState<MatrixKind>('hardness');
  const [saliency, setSaliency] = useState<JsmaSaliency>('logits');
  const spec = MATRIX_KINDS.find((k) => k.key === kind) ?? MATRIX_KINDS[0];
  const m = data.saliency[saliency];
  const highlight = sourceClass === null ? -1 : data.classNames.indexOf(sourceClass);
  const row = highlight >= 0 ? m[kind][highlight] : null;
  const rowValues = row ? row.map((v, t) => ({ v, t })).filter((e): e is { v: number; t: number } => e.v !== null) : [];
  const hardest = rowValues.length > 0 ? rowValues.reduce((a, b) => (b.v > a.v ? b : a)) : null;
  const easiest = rowValues.length > 0 ? rowValues.reduce((a, b) => (b.v < a.v ? b : a)) : null;
  return (
    <figure class="matrices" data-testid="matrices" data-kind={kind} data-saliency={saliency}>
      <div class="control-row">
        <label for="matrix-kind">matrix</label>
        <select id="matrix-kind" data-testid="matrix-kind" value={kind} onChange={(e) => setKind(e.currentTarget.value as MatrixKind)}>
          {MATRIX_KINDS.map((k) => (
            <option key={k.key} value={k.key}>
              {k.label}
            </option>
          ))}
        </select>
        <label for="matrix-saliency">saliency</label>
        <select id="matrix-saliency" data-testid="matrix-saliency" value={saliency} onChange={(e) => setSaliency(e.currentTarget.value as JsmaSaliency)}>
          {POPUP_SALIENCIES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </div>
      <Heatmap m={m[kind]} classNames={data.classNames} highlight={highlight} fmt={spec.fmt} label={`${spec.label}, ${saliency} saliency, rows source class, columns target class`} />
      <p class="small" data-testid="matrices-row">
        {highlight >= 0 && hardest && easiest
          ? `Row of this image's class ${data.classNames[highlight]}: highest towards ${data.classNames[hardest.t]} (${spec.fmt(hardest.v)}), lowest towards ${data.classNames[easiest.t]} (${spec.fmt(easiest.v)}).`
          : highlight >= 0
            ? `No values for this image's class ${data.classNames[highlight]} in this run.`
            : `This image's class is not one of ${data.model}'s.`}
      </p>
      <figcaption class="muted small">
        {spec.note}. {data.model}, JSMA θ = {data.theta > 0 ? '+1' : '−1'}, Υ ≤ {formatPercent(data.maxDistortion)}, {data.sources} source images, {data.runs} runs per saliency map; R(F) = {m.robustness.toFixed(3)}.
        Rows: source s; columns: target t. From <code>{data.command}</code>.
      </figcaption>
    </figure>
  );
}
