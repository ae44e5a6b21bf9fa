import { useCallback, useEffect, useRef, useState, useMemo } from 'preact/hooks';
import type { AttackChoice, BackendName, ModelInfo, ProbeState, ProbeStatus } from '../protocol/types';
import { ErrorView } from './components/ErrorView';
import { AccessRequest } from './components/AccessRequest';
import { SiteAccess } from './components/SiteAccess';
import { BackendPicker } from './components/BackendPicker';
import { JobProgress } from './components/JobProgress';
import { Lab } from './components/Lab';
import { ResultView } from './components/ResultView';
import { StatusView } from './components/StatusView';
import type { Connector, LabConnector } from './connector';
import { BrowseSwitch } from './components/BrowseSwitch';
import { type ShownError, shownErrorOf, shownErrorOfState } from './errors';

export const POLL_MS = 250;

export interface AppProps {
  readonly connector: Connector;
  /** The lab computations (defenses, ε-sweep, transfer); without it the lab is not shown. */
  readonly lab?: LabConnector;
  /** How often to poll while a probe is running (tests shorten it). */
  readonly pollMs?: number;
  /** Open the classroom view (a full tab) for this probe; without it the button is not shown. */
  readonly onOpenClassroom?: () => void;
}

const STATUSES: readonly ProbeStatus[] = ['idle', 'running', 'done', 'error'];

/** A light check that a reply looks like a ProbeState (the connector's data is not trusted blindly). */
function checkState(v: unknown): ProbeState {
  if (typeof v !== 'object' || v === null) throw Object.assign(new Error('The extension sent no probe state.'), { code: 'INTERNAL' });
  const status = (v as { status?: unknown }).status;
  if (typeof status !== 'string' || !(STATUSES as readonly string[]).includes(status)) {
    throw Object.assign(new Error('The extension sent a probe state with an unknown status.'), { code: 'INTERNAL' });
  }
  return v as ProbeState;
}

/** The popup. Talks to the extension only through `connector`; never throws. */
export function App({ connector, lab, pollMs = POLL_MS, onOpenClassroom }: AppProps) {
  const [state, setState] = useState<ProbeState | null>(null);
  const [failure, setFailure] = useState<ShownError | null>(null);
  /** A runAttack request is waiting for its answer. */
  const [busy, setBusy] = useState(false);
  const [cancelling, setCancelling] = useState(false);
  const [models, setModels] = useState<ModelInfo[]>([]);
  /** Requests are numbered; only the latest one's answer is applied. */
  const seq = useRef(0);
  /** runAttack calls are numbered too: a cancel releases the controls of the run it cancelled. */
  const runSeq = useRef(0);
  const alive = useRef(true);

  const request = useCallback(async (call: () => Promise<ProbeState>): Promise<void> => {
    const id = ++seq.current;
    try {
      const next = checkState(await call());
      if (!alive.current || id !== seq.current) return;
      setFailure(null);
      setState(next);
    } catch (e) {
      if (!alive.current || id !== seq.current) return;
      setFailure(shownErrorOf(e));
    }
  }, []);

  const refresh = useCallback(() => request(() => connector.getState()), [connector, request]);

  // First load.
  useEffect(() => {
    alive.current = true;
    void refresh();
    // The model list is optional: without it the picker is hidden.
    connector.listModels().then(
      (list) => {
        if (alive.current && Array.isArray(list)) setModels(list);
      },
      () => undefined,
    );
    return () => {
      alive.current = false;
    };
  }, [refresh]);

  // Poll while the probe runs, and while a run request waits (the background may answer only when
  // the attack is done: polling shows its progress meanwhile). Each answer schedules the next poll.
  const polling = failure === null && state !== null && (state.status === 'running' || busy);
  useEffect(() => {
    if (!polling) return undefined;
    const timer = setTimeout(() => void refresh(), pollMs);
    return () => clearTimeout(timer);
  }, [polling, state, pollMs, refresh]);

  const runAttack = useCallback(
    async (choice: AttackChoice, modelId?: string) => {
      if (state === null || busy) return;
      const run = ++runSeq.current;
      setBusy(true);
      try {
        await request(() =>
          connector.runAttack({ attack: choice.attack, params: choice.params, target: choice.target, modelId: modelId ?? state.modelId }),
        );
      } finally {
        if (alive.current && run === runSeq.current) setBusy(false);
      }
    },
    [state, busy, connector, request],
  );

  // Works while a run request waits: the background answers that one with the cancelled state.
  const cancel = useCallback(async () => {
    if (cancelling) return;
    setCancelling(true);
    try {
      await request(() => connector.cancel());
    } finally {
      if (alive.current) {
        runSeq.current++;
        setBusy(false);
        setCancelling(false);
      }
    }
  }, [cancelling, connector, request]);

  const browseGet = useCallback(() => (connector.getBrowseSite ? connector.getBrowseSite() : Promise.resolve({ origin: null, enabled: false })), [connector]);
  const browseSet = useCallback(
    (enabled: boolean) => (connector.setBrowseSite ? connector.setBrowseSite(enabled) : Promise.resolve({ origin: null, enabled: false })),
    [connector],
  );

  /** Stable per connector: SiteAccess reloads its list when `list` changes. */
  const siteAccess = useMemo(() => {
    const { listAccess, removeAccess } = connector;
    return listAccess && removeAccess ? { list: () => listAccess.call(connector), remove: (o: readonly string[]) => removeAccess.call(connector, o) } : null;
  }, [connector]);

  /** Stable per connector, as siteAccess. */
  const backendSetting = useMemo(() => {
    const { getBackend, setBackend } = connector;
    return getBackend && setBackend ? { get: () => getBackend.call(connector), set: (b: BackendName | null) => setBackend.call(connector, b) } : null;
  }, [connector]);

  const retry = useCallback(() => {
    setFailure(null);
    setState(null);
    void refresh();
  }, [refresh]);

  return (
    <main class="popup" data-testid="popup" data-status={failure !== null ? 'error' : (state?.status ?? 'loading')} data-job={state?.job ?? 0}>
      <header class="app-header">
        <h1>Adversarial Probe</h1>
        {onOpenClassroom && (
          <button type="button" class="secondary" data-testid="open-classroom" onClick={onOpenClassroom}>
            Open classroom view
          </button>
        )}
      </header>
      {connector.getBrowseSite && connector.setBrowseSite && <BrowseSwitch get={browseGet} set={browseSet} allow={connector.requestAccess?.bind(connector)} />}
      {renderBody()}
      {siteAccess && <SiteAccess list={siteAccess.list} remove={siteAccess.remove} />}
      {backendSetting && <BackendPicker get={backendSetting.get} set={backendSetting.set} />}
    </main>
  );

  function renderBody() {
    if (failure !== null) return <ErrorView error={failure} onRetry={retry} />;
    if (state === null) {
      return (
        <div data-testid="loading">
          <StatusView stage="loading" testId="loading-status" />
        </div>
      );
    }
    const running = state.status === 'running';
    // Cancel is offered for attacks: a re-run (there is a result), one with progress, or a run request waiting.
    const job = (running && (state.progress !== null || state.result !== null)) || busy;
    const cancelled = state.status === 'done' && state.error?.code === 'CANCELLED';
    return (
      <>
        {running && <StatusView stage={state.stage} />}
        {job && <JobProgress progress={running ? (state.progress ?? null) : null} cancelling={cancelling} onCancel={() => void cancel()} />}
        {cancelled && (
          <p class="notice" role="status" data-testid="cancelled">
            Cancelled — showing the previous result
            {state.error && !/^(The attack was cancelled|Cancelled)\.?$/.test(state.error.message) && (
              <span class="notice-detail" data-testid="cancelled-why">
                {' '}
                {state.error.message}
              </span>
            )}
          </p>
        )}
        {renderMain()}
      </>
    );
  }

  function renderMain() {
    if (state === null) return null;
    switch (state.status) {
      case 'error': {
        const origins = state.error?.code === 'NO_ACCESS' ? (state.needsAccess ?? []) : [];
        const { requestAccess, retry: retryProbe } = connector;
        return (
          <>
            <ErrorView error={shownErrorOfState(state.error)} onRetry={retry} />
            {origins.length > 0 && requestAccess && retryProbe && (
              <AccessRequest origins={origins} request={(o) => requestAccess.call(connector, o)} retry={() => request(() => retryProbe.call(connector))} />
            )}
          </>
        );
      }
      case 'running':
      case 'done':
        if (state.result) {
          const running = state.status === 'running';
          return (
            <>
              <ResultView
                result={state.result}
                backend={state.backend}
                modelId={state.modelId}
                busy={running || busy}
                stale={running}
                models={models}
                onRunAttack={(choice, m) => void runAttack(choice, m)}
              />
              {lab && <Lab lab={lab} allow={connector.requestAccess?.bind(connector)} resultId={state.result.id} result={state.result} busy={running || busy} pollMs={pollMs} />}
            </>
          );
        }
        return state.status === 'done' ? <Idle /> : null;
      default:
        return <Idle />;
    }
  }
}

function Idle() {
  return (
    <section class="idle" data-testid="idle">
      <p>Right-click an image on a page and choose “Probe this image”.</p>
      <p class="muted small">The model expects a single handwritten digit (MNIST-style, 28×28).</p>
    </section>
  );
}
