import type { TracePoint } from '../../protocol/types';
import { formatNumber, infoLabel } from '../format';

export interface TraceTableProps {
  readonly trace: readonly TracePoint[];
  /** What the trace is, e.g. "Binary search over c". */
  readonly title: string;
}

/** Whether a trace entry found an adversarial example (its `stepSuccesses` or `success` is positive). */
function found(p: TracePoint): boolean {
  const v = p.info.stepSuccesses ?? p.info.success;
  return typeof v === 'number' && v > 0;
}

/**
 * An attack's trace as a table: one row per entry, a column per info key (in order of first
 * appearance). Keys that only repeat the row number are left out.
 */
export function TraceTable({ trace, title }: TraceTableProps) {
  const keys: string[] = [];
  for (const p of trace) for (const k of Object.keys(p.info)) if (!keys.includes(k)) keys.push(k);
  const columns = keys.filter((k) => !trace.every((p) => p.info[k] === p.step + 1));
  return (
    <div class="trace">
      <table data-testid="trace">
        <caption>{title}</caption>
        <thead>
          <tr>
            <th scope="col">#</th>
            {columns.map((k) => (
              <th key={k} scope="col" title={k}>
                {infoLabel(k)}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {trace.map((p, i) => (
            <tr key={i} data-testid={`trace-row-${i}`} class={found(p) ? 'found' : undefined}>
              <th scope="row">{p.step + 1}</th>
              {columns.map((k) => (
                <td key={k}>{formatNumber(p.info[k])}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
