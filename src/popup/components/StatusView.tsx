export interface StatusViewProps {
  /** What is happening ("classifying"); null reads as "working". */
  readonly stage: string | null;
  readonly testId?: string;
}

/** A spinner and the current stage. */
export function StatusView({ stage, testId = 'status' }: StatusViewProps) {
  const text = stage && stage.trim() ? stage.trim() : 'working';
  return (
    <div class="status" role="status" aria-live="polite" data-testid={testId}>
      <span class="spinner" aria-hidden="true" />
      <span class="status-text">{text}…</span>
    </div>
  );
}
