import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import type { AttackChoice, ProbeResult, ProbeState } from '../../protocol/types';
import type { Connector, LabConnector } from '../connector';
import { amplifyPerturbation } from '../draw';
import { type ShownError, shownErrorOf, shownErrorOfState } from '../errors';
import { formatEps, formatFactor, formatPercent, roundEps } from '../format';
import { ErrorView } from './ErrorView';
import { ImageView } from './ImageView';
import { ALL_TABS, Lab, type LabTab } from './Lab';

/** The ε slider: range and the step of the slider and of ←/→. */
export const CLASSROOM_EPS = { min: 0, max: 0.5, step: 0.01 } as const;
/** A slider move (or ←/→) re-runs the attack after this long without another move; a release re-runs at once. */
export const RERUN_IDLE_MS = 250;
/** ε when the shown attack has none (it is replaced by FGSM at this ε on the first move). */
export const CLASSROOM_DEFAULT_EPS = 0.25;
/** The charts under the images; the keys 1–6 pick them in this order. */
export const CLASSROOM_TABS: readonly LabTab[] = ['defenses', 'sweep', 'transfer', 'matrices', 'adversarial-training', 'saliency'];
/** Side of each of the three large images, in CSS pixels. */
export const CLASSROOM_IMAGE_PX = 300;

/** The attacks whose ε the slider moves as they are; any other attack is replaced by FGSM. */
const EPS_ATTACKS = ['fgsm', 'bim'];

/** The attack the slider re-runs at `eps`: the shown FGSM or BIM with only ε changed, else untargeted FGSM. */
export function classroomChoice(shown: AttackChoice | null, eps: number): AttackChoice {
  if (shown && EPS_ATTACKS.includes(shown.attack)) return { attack: shown.attack, params: { ...shown.params, eps }, target: shown.target };
  return { attack: 'fgsm', params: { eps }, target: null };
}

/** The slider's starting ε for a result: its attack's ε when it has one in range, else the default. */
export function initialEps(result: ProbeResult | null): number {
  const v = result?.attack.choice.params.eps;
  return typeof v === 'number' && Number.isFinite(v) && v >= CLASSROOM_EPS.min && v <= CLASSROOM_EPS.max ? roundEps(v) : CLASSROOM_DEFAULT_EPS;
}

/** ε moved by `steps` slider steps, clamped to the slider's range and rounded to its step. */
export function stepEps(eps: number, steps: number): number {
  return roundEps(Math.min(CLASSROOM_EPS.max, Math.max(CLASSROOM_EPS.min, eps + steps * CLASSROOM_EPS.step)));
}

export interface ClassroomProps {
  readonly connector: Connector;
  readonly lab: LabConnector;
  /** How often to poll while an attack runs (tests shorten it). */
  readonly pollMs?: number;
  /** Idle time before a slider move re-runs (tests shorten it). */
  readonly idleMs?: number;
}

/** A keyboard event aimed at a text field or a select (its own keys, not the classroom's). */
function isTyping(el: EventTarget | null): boolean {
  const tag = tagOf(el);
  if (tag === 'TEXTAREA' || tag === 'SELECT') return true;
  if (tag !== 'INPUT') return false;
  const type = (el as HTMLInputElement).type;
  return type !== 'range' && type !== 'button' && type !== 'submit';
}

function tagOf(el: EventTarget | null): string {
  return el !== null && typeof (el as { tagName?: unknown }).tagName === 'string' ? (el as Element).tagName.toUpperCase() : '';
}

/**
 * The classroom view: a full tab with the original, the amplified perturbation and the adversarial side by
 * side in large type, an ε slider that re-runs the attack (debounced, the previous run cancelled), the lab's
 * charts below and keyboard control. Talks to the extension only through `connector`; never throws.
 */
export function Classroom({ connector, lab, pollMs = 250, idleMs = RERUN_IDLE_MS }: ClassroomProps) {
  const [state, setState] = useState<ProbeState | null>(null);
  const [failure, setFailure] = useState<ShownError | null>(null);
  const [eps, setEps] = useState<number | null>(null);
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  const [tab, setTab] = useState<LabTab>(CLASSROOM_TABS[0]);
  const seq = useRef(0);
  const runSeq = useRef(0);
  const inFlight = useRef(false);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const alive = useRef(true);
  const stateRef = useRef<ProbeState | null>(null);
  stateRef.current = state;

  const apply = useCallback((id: number, next: ProbeState) => {
    if (!alive.current || id !== seq.current) return;
    setFailure(null);
    setState(next);
    if (next.status === 'done' && next.error?.code === 'CANCELLED') setNotice('Cancelled — showing the previous result');
  }, []);

  const refresh = useCallback(async () => {
    const id = ++seq.current;
    try {
      apply(id, await connector.getState());
    } catch (e) {
      if (alive.current && id === seq.current) setFailure(shownErrorOf(e));
    }
  }, [connector, apply]);

  useEffect(() => {
    alive.current = true;
    void refresh();
    return () => {
      alive.current = false;
      if (timer.current !== null) clearTimeout(timer.current);
    };
  }, [refresh]);

  // The slider starts at the first result's ε.
  const result = state?.result ?? null;
  const value: number | null = eps ?? (result ? initialEps(result) : null);

  // Poll while an attack runs (progress, and the result when the background answers only at the end).
  const running = state?.status === 'running';
  useEffect(() => {
    if (!(running || busy) || failure !== null) return undefined;
    const t = setTimeout(() => void refresh(), pollMs);
    return () => clearTimeout(t);
  }, [running, busy, state, failure, pollMs, refresh]);

  const clearTimer = (): void => {
    if (timer.current !== null) clearTimeout(timer.current);
    timer.current = null;
  };

  /** Re-run the attack at `value` now; a run still going is cancelled first. */
  const rerun = useCallback(
    async (value: number) => {
      clearTimer();
      const cur = stateRef.current;
      if (!cur?.result) return;
      const run = ++runSeq.current;
      setNotice(null);
      setBusy(true);
      // The run still going (a request waiting, or the background's state says running) is cancelled first.
      if (inFlight.current || cur.status === 'running') await connector.cancel().catch(() => undefined);
      if (run !== runSeq.current || !alive.current) return;
      inFlight.current = true;
      const choice = classroomChoice(cur.result.attack.choice, value);
      const id = ++seq.current;
      try {
        apply(id, await connector.runAttack({ ...choice, modelId: cur.modelId || cur.result.modelId }));
      } catch (e) {
        if (alive.current && id === seq.current) setFailure(shownErrorOf(e));
      } finally {
        if (alive.current && run === runSeq.current) {
          inFlight.current = false;
          setBusy(false);
        }
      }
    },
    [connector, apply],
  );

  /** Schedule a re-run after `idleMs` without another move. */
  const schedule = useCallback(
    (value: number) => {
      clearTimer();
      timer.current = setTimeout(() => {
        timer.current = null;
        void rerun(value);
      }, idleMs);
    },
    [idleMs, rerun],
  );

  const cancel = useCallback(async () => {
    clearTimer();
    if (!inFlight.current && stateRef.current?.status !== 'running') return;
    runSeq.current++;
    inFlight.current = false;
    setBusy(false);
    const id = ++seq.current;
    try {
      apply(id, await connector.cancel());
    } catch (e) {
      if (alive.current && id === seq.current) setFailure(shownErrorOf(e));
    }
    if (alive.current) setNotice('Cancelled — showing the previous result');
  }, [connector, apply]);

  const move = useCallback(
    (value: number, now: boolean) => {
      setEps(value);
      if (now) void rerun(value);
      else schedule(value);
    },
    [rerun, schedule],
  );

  // The key handler reads the latest values through a ref (it is registered once).
  const keys = useRef({ value, move, rerun, cancel });
  keys.current = { value, move, rerun, cancel };

  // Keyboard: ←/→ ε by a step, Enter re-runs, Esc cancels, 1–6 pick a chart (not while typing in a field).
  useEffect(() => {
    const onKey = (e: KeyboardEvent): void => {
      if (e.altKey || e.ctrlKey || e.metaKey || isTyping(e.target)) return;
      const cur = keys.current.value;
      const { move, rerun, cancel } = keys.current;
      const onSlider = tagOf(e.target) === 'INPUT' && (e.target as HTMLInputElement).type === 'range';
      const onTab = tagOf(e.target) !== '' && (e.target as Element).getAttribute('role') === 'tab';
      if ((e.key === 'ArrowLeft' || e.key === 'ArrowRight') && !onSlider && !onTab && cur !== null) {
        e.preventDefault();
        move(stepEps(cur, e.key === 'ArrowRight' ? 1 : -1), false);
      } else if (e.key === 'Enter' && cur !== null && tagOf(e.target) !== 'BUTTON') {
        e.preventDefault();
        void rerun(cur);
      } else if (e.key === 'Escape') {
        e.preventDefault();
        void cancel();
      } else if (/^[1-6]$/.test(e.key)) {
        const t = CLASSROOM_TABS[Number(e.key) - 1];
        if (t !== undefined) {
          e.preventDefault();
          setTab(t);
        }
      }
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, []);

  const tabNames = CLASSROOM_TABS.map((k, i) => `${i + 1} ${ALL_TABS.find((t) => t.kind === k)?.label ?? k}`).join(', ');
  const working = busy || running;
  return (
    <main class="classroom" data-testid="classroom" data-status={failure !== null ? 'error' : (state?.status ?? 'loading')} data-busy={working ? 'true' : 'false'}>
      <header class="cr-header">
        <h1>Adversarial Probe — classroom</h1>
        <p class="cr-help" data-testid="cr-help">
          Keys: ← / → change ε by {formatEps(CLASSROOM_EPS.step)} · Enter re-runs · Esc cancels · charts: {tabNames}
        </p>
      </header>
      {renderBody()}
    </main>
  );

  function renderBody() {
    if (failure !== null) return <ErrorView error={failure} onRetry={() => void refresh()} />;
    if (state === null) return <p class="cr-status" data-testid="cr-loading">Loading…</p>;
    if (state.status === 'error') return <ErrorView error={shownErrorOfState(state.error)} onRetry={() => void refresh()} />;
    if (!state.result) {
      return (
        <p class="cr-status" data-testid="cr-idle">
          {state.status === 'running' ? 'Probing the image…' : 'Right-click an image on a page, choose “Probe this image”, then open the classroom view from the popup.'}
        </p>
      );
    }
    const r = state.result;
    const shownValue = value ?? initialEps(r);
    const out = r.attack;
    const { image: amplified, factor } = amplifyPerturbation(out.perturbation);
    const conf = r.prediction.probs[r.prediction.label] ?? Number.NaN;
    const advConf = out.prediction.probs[out.prediction.label] ?? Number.NaN;
    const shownEps = out.choice.params.eps;
    const fooled = out.prediction.label !== r.prediction.label;
    return (
      <>
        <section class={`cr-images${working ? ' stale' : ''}`} aria-label="original, perturbation and adversarial" data-testid="cr-images">
          <ImageView image={r.input} size={CLASSROOM_IMAGE_PX} alt="the original image as the model sees it" testId="cr-original" caption={
            <span class="cr-pred">
              <span class="cr-label">original</span>
              <strong data-testid="cr-original-class">{r.prediction.className}</strong>
              <span data-testid="cr-original-conf">{formatPercent(conf)}</span>
            </span>
          } />
          <ImageView image={amplified} size={CLASSROOM_IMAGE_PX} alt={`perturbation amplified ${formatFactor(factor)}`} testId="cr-perturbation" caption={
            <span class="cr-pred">
              <span class="cr-label">perturbation</span>
              <strong data-testid="cr-factor">{formatFactor(factor)}</strong>
              <span data-testid="cr-attack">
                {out.choice.attack.toUpperCase()} ε {typeof shownEps === 'number' ? formatEps(shownEps) : '—'}
              </span>
            </span>
          } />
          <ImageView image={out.adversarial} size={CLASSROOM_IMAGE_PX} alt="the adversarial image" testId="cr-adversarial" caption={
            <span class="cr-pred">
              <span class="cr-label">adversarial</span>
              <strong data-testid="cr-adv-class" class={fooled ? 'fooled' : 'held'}>{out.prediction.className}</strong>
              <span data-testid="cr-adv-conf">{formatPercent(advConf)}</span>
            </span>
          } />
        </section>
        <section class="cr-controls" aria-label="ε">
          <label for="cr-eps" class="cr-eps-label">
            ε <output data-testid="cr-eps-value" for="cr-eps">{formatEps(shownValue)}</output>
          </label>
          <input
            id="cr-eps"
            data-testid="cr-eps"
            type="range"
            min={CLASSROOM_EPS.min}
            max={CLASSROOM_EPS.max}
            step={CLASSROOM_EPS.step}
            value={shownValue}
            onInput={(e) => move(roundEps(Number(e.currentTarget.value)), false)}
            onChange={(e) => move(roundEps(Number(e.currentTarget.value)), true)}
          />
          <button type="button" data-testid="cr-rerun" onClick={() => void rerun(shownValue)}>
            Re-run
          </button>
          <button type="button" class="secondary" data-testid="cr-cancel" disabled={!working} onClick={() => void cancel()}>
            Cancel
          </button>
        </section>
        <p class="cr-line" role="status" data-testid="cr-line">
          {working
            ? `Running ${classroomChoice(out.choice, shownValue).attack.toUpperCase()} at ε ${formatEps(shownValue)}…${state.progress && state.progress.total > 0 ? ` ${state.progress.done}/${state.progress.total}` : ''}`
            : (notice ?? (fooled ? `Fooled: ${r.prediction.className} → ${out.prediction.className}` : `Not fooled: still ${out.prediction.className}`))}
        </p>
        <Lab lab={lab} resultId={r.id} result={r} busy={working} pollMs={pollMs} tabs={CLASSROOM_TABS} tab={tab} onTabChange={setTab} />
      </>
    );
  }
}
