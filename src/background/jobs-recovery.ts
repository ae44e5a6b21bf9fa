import type { ErrorInfo } from '../core/errors';
import type { ProbeResult, ProbeState } from '../protocol/types';

/**
 * What happens to a job when the service worker is stopped under it (reliability checklist rows 27, 36).
 *
 * Chrome may stop the worker at any time (idle timeout, the 5-minute request cap, a crash, a test's
 * `ServiceWorker.stopAllWorkers`). The attack's tensors live in that worker, so the job cannot be
 * continued; its per-tab state survives in storage.session. The smallest robust behaviour, chosen here:
 * when the next worker starts, every job it finds `running` (a running or queued one) is closed once
 * with a CANCELLED notice that asks the user to run it again ("resume?"), keeping the previous result
 * of a re-run. No spinner is left spinning, nothing is re-run behind the user's back (so no result can
 * arrive twice), and job numbers keep growing across the restart.
 */
export const RESTARTED_DURING_ATTACK =
  'The extension was restarted during this attack, so it was stopped: the previous result is shown. Run the attack again to resume.';
export const RESTARTED_DURING_PROBE = 'The extension was restarted before this image was analysed: right-click it and probe it again.';

/** The state a job left behind after a worker restart: unchanged unless it was running or queued. */
export function recoverInterrupted(state: ProbeState): ProbeState {
  if (state.status !== 'running') return state;
  const result: ProbeResult | null = state.result ?? null;
  const error: ErrorInfo = { code: 'CANCELLED', message: result ? RESTARTED_DURING_ATTACK : RESTARTED_DURING_PROBE };
  return {
    ...state,
    status: result ? 'done' : 'error',
    modelId: result ? result.modelId : state.modelId,
    stage: null,
    progress: null,
    error,
  };
}

/** Stored per-tab states from a storage.session snapshot (keys `state:<tabId>`); malformed entries are skipped. */
export function storedStates(all: Readonly<Record<string, unknown>>): { tabId: number; state: ProbeState }[] {
  const out: { tabId: number; state: ProbeState }[] = [];
  for (const [key, v] of Object.entries(all)) {
    const m = /^state:(\d{1,9})$/.exec(key);
    if (!m || typeof v !== 'object' || v === null) continue;
    const st = v as Partial<ProbeState>;
    if (typeof st.status !== 'string' || typeof st.job !== 'number' || !Number.isSafeInteger(st.job)) continue;
    out.push({ tabId: Number(m[1]), state: v as ProbeState });
  }
  return out;
}

/** The path of the first non-finite number in a result (NaN or ±∞ must never be shown as an image or a score), or null. */
export function nonFiniteField(result: ProbeResult): string | null {
  const lists: [string, readonly number[]][] = [
    ['input', result.input.pixels],
    ['prediction.probs', result.prediction.probs],
    ['attack.adversarial', result.attack.adversarial.pixels],
    ['attack.perturbation', result.attack.perturbation.pixels],
    ['attack.prediction.probs', result.attack.prediction.probs],
  ];
  for (const [name, values] of lists) {
    for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return `${name}[${i}]`;
  }
  const d = result.attack.distances;
  for (const k of ['l0', 'l2', 'linf'] as const) if (!Number.isFinite(d[k])) return `attack.distances.${k}`;
  return null;
}
