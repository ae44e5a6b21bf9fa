import { useCallback, useState } from 'preact/hooks';
import { toErrorInfo, type ErrorInfo } from '../../core/errors';
import { BACKEND_NAMES, isBackendName, type BackendName, type BackendView } from '../../protocol/types';

interface Props {
  readonly get: () => Promise<BackendView>;
  readonly set: (backend: BackendName | null) => Promise<BackendView>;
}

/** What each backend is, for the menu. */
export const BACKEND_LABELS: { readonly [B in BackendName]: string } = {
  webgpu: 'WebGPU (GPU)',
  webgl: 'WebGL (GPU)',
  wasm: 'WebAssembly (CPU)',
  cpu: 'Plain JavaScript (CPU, slowest)',
};

const AUTO = 'auto';

/**
 * The compute backend: the one in use, a menu to ask for one by name or go back to the automatic choice (the first
 * that works of WebGPU, WebGL, WebAssembly, where a GPU must beat WebAssembly on a measured attack step), and why
 * each other backend is not used. Collapsed by default; the background is asked only when it is opened.
 */
export function BackendPicker({ get, set }: Props) {
  const [view, setView] = useState<BackendView | null>(null);
  const [error, setError] = useState<ErrorInfo | null>(null);
  const [busy, setBusy] = useState(false);
  const refresh = useCallback(() => {
    get().then(setView, (e: unknown) => setError(toErrorInfo(e)));
  }, [get]);
  const choose = async (value: string): Promise<void> => {
    const asked = value === AUTO ? null : isBackendName(value) ? value : undefined;
    if (asked === undefined) return;
    setBusy(true);
    setError(null);
    try {
      setView(await set(asked));
    } catch (e) {
      setError(toErrorInfo(e));
      refresh();
    } finally {
      setBusy(false);
    }
  };
  return (
    <details class="backend-setting" data-testid="backend-setting" onToggle={(e) => (e.currentTarget as HTMLDetailsElement).open && refresh()}>
      <summary>
        Compute backend
        {view && (
          <span class="muted small">
            {' '}
            (<span data-testid="backend-current">{view.backend}</span>, {view.preference === null ? 'automatic' : 'chosen'})
          </span>
        )}
      </summary>
      {view && (
        <>
          <label class="backend-choice">
            Run attacks on{' '}
            <select data-testid="backend-select" value={view.preference ?? AUTO} disabled={busy} onChange={(e) => void choose((e.currentTarget as HTMLSelectElement).value)}>
              <option value={AUTO}>Automatic (fastest that works here)</option>
              {BACKEND_NAMES.map((b) => (
                <option key={b} value={b}>
                  {BACKEND_LABELS[b]}
                </option>
              ))}
            </select>
          </label>
          {busy && (
            <p class="muted small" role="status" data-testid="backend-switching">
              Switching after the running job; the models load again on the new backend…
            </p>
          )}
          {view.notUsed.length > 0 && (
            <ul class="small" data-testid="backend-not-used">
              {view.notUsed.map((n) => (
                <li key={n.backend} data-backend={n.backend}>
                  <strong>{n.backend}</strong> not used: {n.reason}
                </li>
              ))}
            </ul>
          )}
          {view.measured.length > 0 && (
            <p class="muted small" data-testid="backend-measured">
              One-image attack step: {view.measured.map((m) => `${m.backend} ${m.msPerStep.toFixed(2)} ms`).join(', ')}
            </p>
          )}
          <p class="muted small">Later attacks run on it; results already shown keep the backend they were computed on.</p>
        </>
      )}
      {error !== null && (
        <p class="muted small" role="alert" data-testid="backend-error" data-code={error.code}>
          {error.message}
        </p>
      )}
    </details>
  );
}
