import type { ShownError } from '../errors';
import { hintFor } from '../errors';

export interface ErrorViewProps {
  readonly error: ShownError;
  readonly onRetry?: () => void;
}

/** An error: its message (as text), a hint for known codes, and the code in small print. */
export function ErrorView({ error, onRetry }: ErrorViewProps) {
  const hint = hintFor(error.code);
  return (
    <section class="error" role="alert" data-testid="error" data-code={error.code}>
      <p class="error-message">{error.message}</p>
      {hint !== null && <p class="error-hint">{hint}</p>}
      <div class="error-footer">
        <small class="error-code" data-testid="error-code">
          {error.code}
        </small>
        {onRetry && (
          <button type="button" class="secondary" data-testid="retry" onClick={onRetry}>
            Reload
          </button>
        )}
      </div>
    </section>
  );
}
