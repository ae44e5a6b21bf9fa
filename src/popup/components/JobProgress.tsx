import type { JobProgress as Progress } from '../../protocol/types';
import { formatNumber, infoLabel } from '../format';

export interface JobProgressProps {
  /** Progress of an iterative attack (null: none reported; only Cancel is shown). */
  readonly progress: Progress | null;
  /** A cancel was asked for and is not answered yet. */
  readonly cancelling: boolean;
  readonly onCancel: () => void;
}

function fraction(p: Progress): number {
  if (!(p.total > 0) || !Number.isFinite(p.done)) return 0;
  return Math.min(1, Math.max(0, p.done / p.total));
}

/** The running attack: a progress bar with its phase and live numbers, and a Cancel button. */
export function JobProgress({ progress, cancelling, onCancel }: JobProgressProps) {
  const info = progress?.info ? Object.entries(progress.info) : [];
  const phase = progress?.phase ?? null;
  return (
    <div class="job" data-testid="job">
      {progress !== null && (
        <div
          class="progress"
          data-testid="progress"
          role="progressbar"
          aria-label="attack progress"
          aria-valuemin={0}
          aria-valuemax={progress.total}
          aria-valuenow={progress.done}
          aria-valuetext={`${phase !== null ? `${phase}: ` : ''}${progress.done} of ${progress.total}`}
        >
          <div class="progress-track" aria-hidden="true">
            <div class="progress-fill" style={{ width: `${(fraction(progress) * 100).toFixed(1)}%` }} />
          </div>
          <div class="progress-text">
            {phase !== null && <span data-testid="progress-phase">{phase}</span>}
            <span class="muted">
              {progress.done}/{progress.total}
            </span>
            {info.map(([k, v]) => (
              <span key={k} class="progress-info" data-testid={`progress-info-${k}`}>
                {infoLabel(k)} <strong>{formatNumber(v)}</strong>
              </span>
            ))}
          </div>
        </div>
      )}
      <button type="button" class="secondary cancel" data-testid="cancel" disabled={cancelling} onClick={onCancel}>
        {cancelling ? 'Cancelling…' : 'Cancel'}
      </button>
    </div>
  );
}
