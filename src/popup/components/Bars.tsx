import { formatPercent } from '../format';

export interface BarsProps {
  readonly probs: readonly number[];
  readonly classNames: readonly string[];
  /** The predicted class: its row is highlighted. */
  readonly highlight: number;
  /** A second class to mark (e.g. the original prediction or the attack's target). */
  readonly mark?: number | null;
  readonly markTitle?: string;
  readonly testId?: string;
  readonly label: string;
}

function widthOf(p: number): string {
  const v = Number.isFinite(p) ? Math.min(1, Math.max(0, p)) : 0;
  return `${(v * 100).toFixed(2)}%`;
}

/** One confidence bar per class: name, bar, percentage. */
export function Bars({ probs, classNames, highlight, mark = null, markTitle, testId, label }: BarsProps) {
  const n = Math.max(probs.length, classNames.length);
  const rows = [];
  for (let i = 0; i < n; i++) {
    const p = probs[i] ?? 0;
    const name = classNames[i] ?? String(i);
    const top = i === highlight;
    const marked = mark !== null && i === mark;
    rows.push(
      <li
        key={i}
        class={`bar-row${top ? ' top' : ''}${marked ? ' marked' : ''}`}
        data-testid={testId ? `${testId}-${i}` : undefined}
        aria-current={top ? 'true' : undefined}
        title={marked ? markTitle : undefined}
      >
        <span class="bar-name">{name}</span>
        <span class="bar-track" aria-hidden="true">
          <span class="bar-fill" style={{ width: widthOf(p) }} />
        </span>
        <span class="bar-pct">{formatPercent(p)}</span>
      </li>,
    );
  }
  return (
    <ol class="bars" data-testid={testId} aria-label={label}>
      {rows}
    </ol>
  );
}
