import type { SaliencyView } from '../../protocol/types';
import { formatPercent } from '../format';
import { distanceBars, SALIENCY_BOX, saliencyCells } from '../saliency-chart';

/** Papernot et al.'s saliency map S(X, t) of the current image as a heatmap, and A(X, t) per target as bars. */
export function SaliencyChart({ view }: { readonly view: SaliencyView }) {
  const { cells, side } = saliencyCells(view.map, view.width, view.height);
  const { bars, height } = distanceBars(view.distances);
  const rowH = SALIENCY_BOX.rowHeight;
  const name = (c: number): string => view.classNames[c] ?? String(c);
  const n = view.map.length;
  return (
    <figure class="saliency" data-testid="saliency" data-target={view.target}>
      <p class="small" data-testid="saliency-summary">
        S(X, t) toward <strong>{name(view.target)}</strong> (from {name(view.label)}): <strong data-testid="saliency-positive">{view.positive}</strong> of {n} pixels
        can push toward it ({formatPercent(n > 0 ? view.positive / n : Number.NaN)}).
      </p>
      <div class="saliency-row">
        <svg viewBox={`0 0 ${side.width} ${side.height}`} width={side.width} height={side.height} role="img" aria-label={`saliency map toward ${name(view.target)}`} data-testid="saliency-map">
          <rect class="saliency-bg" x={0} y={0} width={side.width} height={side.height} fill="#ffffff" stroke="#98a2b3" />
          {cells.map((c) => (
            <rect key={c.i} x={c.x} y={c.y} width={SALIENCY_BOX.cell} height={SALIENCY_BOX.cell} fill={c.fill} />
          ))}
        </svg>
        <svg viewBox={`0 0 ${SALIENCY_BOX.barsWidth} ${height}`} width={SALIENCY_BOX.barsWidth} height={height} role="img" aria-label="adversarial distance per target class" data-testid="saliency-distances">
          {view.distances.map((d, k) => {
            const b = bars[k];
            return (
              <g key={d.target} data-testid={`distance-${d.target}`} data-value={d.distance} class={d.target === view.target ? 'chosen' : undefined}>
                <title>{`A(X, ${name(d.target)}) = ${d.distance.toFixed(3)}`}</title>
                <text class="tick" x={0} y={b.y + rowH - 5}>
                  {name(d.target)}
                </text>
                <rect class="track" x={b.barX} y={b.y + 2} width={b.trackWidth} height={rowH - 4} />
                <rect class={`bar${d.target === view.target ? ' chosen' : ''}`} x={b.barX} y={b.y + 2} width={b.barWidth} height={rowH - 4} />
                <text class="tick" x={b.barX + b.trackWidth + 4} y={b.y + rowH - 5}>
                  {d.distance.toFixed(3)}
                </text>
              </g>
            );
          })}
        </svg>
      </div>
      <p class="muted small">
        Left: S(X, t) = ∂Z<sub>t</sub>/∂x · |Σ<sub>c≠t</sub> ∂Z<sub>c</sub>/∂x| where the target's logit rises and the others' fall (θ = +1), darker = more salient (colour ∝ √S). Right: adversarial
        distance A(X, t), the share of pixels with S = 0 (Papernot et al.): nearer 1, harder to reach.
      </p>
    </figure>
  );
}
