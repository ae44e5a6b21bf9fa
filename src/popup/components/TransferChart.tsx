import type { TransferView } from '../../protocol/types';
import { TRANSFER_BOX, transferBars, transferRate } from '../charts';
import { formatPercent, truncateMiddle } from '../format';

/** The adversarial fed to every shipped MNIST classifier: its prediction and confidence per model, fooled or not. */
export function TransferChart({ view }: { readonly view: TransferView }) {
  const { bars, height } = transferBars(view.rows);
  const rate = transferRate(view.rows);
  const rowH = TRANSFER_BOX.rowHeight;
  return (
    <figure class="transfer" data-testid="transfer">
      <p class="small" data-testid="transfer-rate">
        Fooled: <strong>{rate.fooled}</strong> of {rate.total} other models ({formatPercent(rate.total > 0 ? rate.fooled / rate.total : Number.NaN)}) by the {view.attack} adversarial
        crafted on {view.modelId}.
      </p>
      <svg viewBox={`0 0 ${TRANSFER_BOX.width} ${height}`} width={TRANSFER_BOX.width} height={height} role="img" aria-label="prediction on the adversarial per model" data-testid="transfer-svg">
        {view.rows.map((r, i) => {
          const b = bars[i];
          return (
            <g key={r.modelId} data-testid={`transfer-row-${r.modelId}`} data-fooled={r.fooled ? 'true' : 'false'}>
              <title>{`${r.title}: clean ${r.cleanClass}, adversarial ${r.advClass} (${formatPercent(r.advConfidence)}) — ${r.fooled ? 'fooled' : 'not fooled'}`}</title>
              <text class={`tick${r.source ? ' source' : ''}`} x={0} y={b.y + rowH - 5}>
                {r.source ? '★ ' : ''}
                {truncateMiddle(r.modelId, 20)}
              </text>
              <rect class="track" x={b.barX} y={b.y + 2} width={b.trackWidth} height={rowH - 4} />
              <rect class={`bar ${r.fooled ? 'fooled' : 'held'}`} x={b.barX} y={b.y + 2} width={b.barWidth} height={rowH - 4} />
              <text class="tick" x={b.barX + b.trackWidth + 4} y={b.y + rowH - 5}>
                {`${r.advClass} ${formatPercent(r.advConfidence)}${r.fooled ? ' ✗' : ' ✓'}`}
              </text>
            </g>
          );
        })}
      </svg>
      <p class="muted small">★ the attacked model · bar: confidence of its prediction on the adversarial · red ✗: prediction differs from its clean one (fooled).</p>
    </figure>
  );
}
