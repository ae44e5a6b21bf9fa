import type { SweepView } from '../../protocol/types';
import { SWEEP_BOX, sweepChart } from '../charts';
import { formatNumber } from '../format';
import { ImageView } from './ImageView';

/** Goodfellow et al. fig. 4: the logits along sign(∇ₓJ), the correct region shaded, and images along the sweep. */
export function SweepChart({ view }: { readonly view: SweepView }) {
  const m = sweepChart(view.eps, view.logits, view.predicted, view.label);
  const { x0, x1, y0, y1 } = m.plot;
  const correctName = view.classNames[view.label] ?? String(view.label);
  const ranges = m.regions.map((r) => `${formatNumber(r.eps0)} to ${formatNumber(r.eps1)}`).join(', ');
  return (
    <figure class="sweep" data-testid="sweep">
      <svg
        viewBox={`0 0 ${SWEEP_BOX.width} ${SWEEP_BOX.height}`}
        width={SWEEP_BOX.width}
        height={SWEEP_BOX.height}
        role="img"
        aria-label={`logits of the ${view.classNames.length} classes for ε from ${formatNumber(view.eps[0])} to ${formatNumber(view.eps[view.eps.length - 1])}; ${correctName} is predicted for ε in ${ranges || 'no range'}`}
        data-testid="sweep-svg"
      >
        {m.regions.map((r, i) => (
          <rect key={i} class="sweep-correct" data-testid="sweep-correct" x={r.x} y={y0} width={r.width} height={y1 - y0} />
        ))}
        <line class="axis" x1={x0} y1={y1} x2={x1} y2={y1} />
        <line class="axis" x1={x0} y1={y0} x2={x0} y2={y1} />
        {m.zeroX !== null && <line class="zero" x1={m.zeroX} y1={y0} x2={m.zeroX} y2={y1} />}
        {m.yTicks.map((t) => (
          <text key={`y${t.label}`} class="tick" x={x0 - 3} y={t.y + 3} text-anchor="end">
            {t.label}
          </text>
        ))}
        {m.xTicks.map((t) => (
          <text key={`x${t.label}`} class="tick" x={t.x} y={y1 + 12} text-anchor="middle">
            {t.label}
          </text>
        ))}
        <text class="tick" x={(x0 + x1) / 2} y={SWEEP_BOX.height - 2} text-anchor="middle">
          ε
        </text>
        {m.lines.map((l) => (
          <path key={l.cls} class={`sweep-line c${l.cls}${l.correct ? ' correct' : ''}`} data-testid={`sweep-line-${l.cls}`} d={l.d} />
        ))}
      </svg>
      <figcaption class="small">
        <ul class="legend" aria-label="classes">
          {view.classNames.map((name, c) => (
            <li key={c} class={c === view.label ? 'correct' : undefined}>
              <span class={`swatch-line c${c}`} aria-hidden="true" />
              {name}
            </li>
          ))}
        </ul>
        <span class="muted">
          {view.modelId}: logits along sign(∇ₓJ), {view.eps.length} points in one batch; shaded: predicted {correctName} (the original class); not clipped to the
          pixel range, as in the paper.
        </span>
      </figcaption>
      <div class="sweep-strip" data-testid="sweep-strip">
        {view.strip.map((s, i) => (
          <div key={i} class={`strip-cell${s.predicted === view.label ? ' correct' : ''}`} data-testid="strip-cell">
            <ImageView image={s.image} size={40} alt={`ε ${formatNumber(s.eps)}, predicted ${view.classNames[s.predicted] ?? s.predicted}`} caption={`${formatNumber(s.eps)} → ${view.classNames[s.predicted] ?? s.predicted}`} />
          </div>
        ))}
      </div>
    </figure>
  );
}
