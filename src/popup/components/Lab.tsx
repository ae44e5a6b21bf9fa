import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ProbeError } from '../../core/errors';
import { hostOf, originPattern } from '../../protocol/site-access';
import type { FullExportView, SaliencyView, UserModelView } from '../../protocol/types';
import type { UserModelSource } from '../../core/lab/user-source';
import { SaliencyChart } from './SaliencyChart';
import { UserExportResult, UserModelFormView, UserModelResult } from './UserModelPanel';
import type { AdvTrainingView, DefenseReportView, ExportView, LabKind, LabProgress, ProbeResult, SweepView, TransferView } from '../../protocol/types';
import type { BlobUrls } from '../blob-url';
import { type MatricesLoad, shippedMatrices } from '../matrices-data';
import { AdvTrainingPanel } from './AdvTrainingPanel';
import { ExportPanel } from './ExportPanel';
import { MatricesView } from './MatricesView';
import type { LabConnector } from '../connector';
import { type ShownError, shownErrorOf } from '../errors';
import { DefensesView } from './DefensesView';
import { hintFor } from '../errors';
import { SweepChart } from './SweepChart';
import { TransferChart } from './TransferChart';

export const LAB_POLL_MS = 250;
/** The ε-sweep's defaults: ε from −0.5 to +0.5 in 41 points. */
export const SWEEP_DEFAULTS = { maxEps: 0.5, points: 41 } as const;
const POINT_CHOICES = [21, 41, 61, 101] as const;

interface LabResults {
  readonly defenses?: DefenseReportView;
  readonly sweep?: SweepView;
  readonly transfer?: TransferView;
  readonly export?: ExportView;
  readonly 'adversarial-training'?: AdvTrainingView;
  readonly 'user-model'?: UserModelView;
  readonly 'user-export'?: FullExportView;
  readonly saliency?: SaliencyView;
}

/** A view of the lab: a background computation, or the shipped matrices (no computation). */
export type LabTab = LabKind | 'matrices';

/** Every view of the lab, in the popup's order. */
export const ALL_TABS: readonly { readonly kind: LabTab; readonly label: string }[] = [
  { kind: 'defenses', label: 'Defenses' },
  { kind: 'sweep', label: 'ε-sweep' },
  { kind: 'transfer', label: 'Transfer' },
  { kind: 'matrices', label: 'Matrices' },
  { kind: 'saliency', label: 'Saliency' },
  { kind: 'adversarial-training', label: 'Adv. training' },
  { kind: 'export', label: 'Export' },
  { kind: 'user-model', label: 'Your model' },
];

const RUN_LABEL: Record<LabKind, string> = {
  defenses: 'Check the defenses',
  sweep: 'Sweep ε',
  transfer: 'Feed to every model',
  'adversarial-training': 'Compare with adversarial training',
  export: 'Export the adversarial',
  'user-model': 'Load and attack',
  'user-export': 'Export at full resolution',
  saliency: 'Compute the saliency map',
};

export interface LabProps {
  readonly lab: LabConnector;
  /** Ask the browser to allow the extension on host patterns (a model by URL is downloaded from its host); absent: no asking. */
  readonly allow?: (origins: readonly string[]) => Promise<boolean>;
  /** The current probe result's id: lab results of another result are not shown. */
  readonly resultId: string;
  /** An attack or probe is running: lab runs wait. */
  readonly busy: boolean;
  readonly pollMs?: number;
  /** The current result (the export's report, the matrices' highlighted source class). */
  readonly result?: ProbeResult;
  /** The dataset-level matrices (default: the file bundled at build time, validated). */
  readonly matrices?: MatricesLoad;
  readonly blobUrls?: BlobUrls;
  /** The views offered, in this order (default: every view). The classroom page shows only its charts. */
  readonly tabs?: readonly LabTab[];
  /** The view shown, when the parent controls it (the classroom's 1–6 keys); with `onTabChange`. */
  readonly tab?: LabTab;
  readonly onTabChange?: (tab: LabTab) => void;
}

/**
 * The lab: defenses, ε-sweep and transfer for the current image and adversarial, one tab each. One
 * computation at a time, with progress (polled) and Cancel; results are kept per tab of the lab.
 */
export function Lab({ lab, allow, resultId, busy, pollMs = LAB_POLL_MS, result, matrices, blobUrls, tabs: only, tab: controlled, onTabChange }: LabProps) {
  const TABS = only ? only.flatMap((k) => ALL_TABS.filter((t) => t.kind === k)) : ALL_TABS;
  const [own, setOwn] = useState<LabTab>(TABS[0]?.kind ?? 'defenses');
  const tab = controlled ?? own;
  const setTab = (t: LabTab): void => {
    setOwn(t);
    onTabChange?.(t);
  };
  const [running, setRunning] = useState<LabKind | null>(null);
  const [progress, setProgress] = useState<LabProgress | null>(null);
  const [results, setResults] = useState<LabResults>({});
  const [errors, setErrors] = useState<Partial<Record<LabKind, ShownError>>>({});
  const [notice, setNotice] = useState<string | null>(null);
  const [maxEps, setMaxEps] = useState<string>(String(SWEEP_DEFAULTS.maxEps));
  const [points, setPoints] = useState<number>(SWEEP_DEFAULTS.points);
  /** The saliency map's target class (null: the default, the class after the prediction). */
  const [salTarget, setSalTarget] = useState<number | null>(null);
  const seq = useRef(0);
  const alive = useRef(true);
  /** The user-model source of the last run: its full-resolution export names the same source. */
  const userSource = useRef<UserModelSource | null>(null);
  const tabRefs = useRef<(HTMLButtonElement | null)[]>([]);

  useEffect(() => {
    alive.current = true;
    return () => {
      alive.current = false;
    };
  }, []);

  const run = useCallback(
    async <K extends LabKind>(kind: K, call: () => Promise<NonNullable<LabResults[K]>>) => {
      const id = ++seq.current;
      setRunning(kind);
      setProgress(null);
      setNotice(null);
      setErrors((e) => ({ ...e, [kind]: undefined }));
      try {
        const data = await call();
        if (!alive.current || id !== seq.current) return;
        setResults((r) => ({ ...r, [kind]: data }));
      } catch (e) {
        if (!alive.current || id !== seq.current) return;
        const err = shownErrorOf(e);
        if (err.code === 'CANCELLED') setNotice('Cancelled');
        else setErrors((x) => ({ ...x, [kind]: err }));
      } finally {
        if (alive.current && id === seq.current) {
          setRunning(null);
          setProgress(null);
        }
      }
    },
    [],
  );

  // Poll the progress while a computation runs; each answer schedules the next poll.
  useEffect(() => {
    if (running === null) return undefined;
    const id = seq.current;
    const timer = setTimeout(() => {
      // A new object every time, so that polling goes on until the request settles.
      const keep = (): void => setProgress((old) => ({ kind: running, done: old?.done ?? 0, total: old?.total ?? 0, phase: old?.phase ?? null }));
      lab.labProgress().then(
        (p) => {
          if (!alive.current || id !== seq.current) return;
          if (p && typeof p === 'object' && p.kind === running) setProgress({ ...p });
          else keep();
        },
        () => {
          if (alive.current && id === seq.current) keep();
        },
      );
    }, pollMs);
    return () => clearTimeout(timer);
  }, [running, progress, pollMs, lab]);

  const cancel = useCallback(() => {
    // The pending request is dropped here at once; the background stops between its steps.
    seq.current++;
    setRunning(null);
    setProgress(null);
    setNotice('Cancelled');
    lab.cancelLab().catch(() => undefined);
  }, [lab]);

  const eps = Number(maxEps);
  const epsOk = maxEps.trim() !== '' && Number.isFinite(eps) && eps > 0 && eps <= 2;
  const disabled = busy || running !== null;

  const start = (kind: LabKind): void => {
    if (disabled) return;
    if (kind === 'defenses') void run('defenses', () => lab.defend());
    else if (kind === 'sweep') {
      if (epsOk) void run('sweep', () => lab.sweep({ maxEps: eps, points }));
    } else if (kind === 'export') void run('export', () => lab.exportAdversarial());
    else if (kind === 'adversarial-training') void run('adversarial-training', () => lab.adversarialTraining());
    else if (kind === 'saliency') void run('saliency', () => lab.saliency({ target }));
    else void run('transfer', () => lab.transfer());
  };
  const matricesData = matrices ?? shippedMatrices();
  const classNames = result?.classNames ?? [];
  const predicted = result?.prediction.label ?? -1;
  const target = salTarget !== null && salTarget !== predicted && salTarget < classNames.length ? salTarget : classNames.length > 1 ? (predicted + 1) % classNames.length : 0;

  const onTabKey = (e: KeyboardEvent, i: number): void => {
    const n = TABS.length;
    const next = e.key === 'ArrowRight' ? (i + 1) % n : e.key === 'ArrowLeft' ? (i + n - 1) % n : e.key === 'Home' ? 0 : e.key === 'End' ? n - 1 : -1;
    if (next < 0) return;
    e.preventDefault();
    setTab(TABS[next].kind);
    tabRefs.current[next]?.focus();
  };

  const shown = <K extends LabKind>(k: K): LabResults[K] | undefined => {
    const r = results[k];
    return r && r.resultId === resultId ? r : undefined;
  };

  return (
    <section class="panel lab" aria-labelledby="lab-title" data-testid="lab" aria-busy={running !== null ? 'true' : 'false'}>
      <h2 id="lab-title">Lab</h2>
      <div class="lab-tabs" role="tablist" aria-label="lab views">
        {TABS.map((t, i) => (
          <button
            key={t.kind}
            type="button"
            role="tab"
            id={`lab-tab-${t.kind}`}
            data-testid={`lab-tab-${t.kind}`}
            aria-selected={tab === t.kind ? 'true' : 'false'}
            aria-controls={`lab-panel-${t.kind}`}
            tabIndex={tab === t.kind ? 0 : -1}
            ref={(el) => {
              tabRefs.current[i] = el;
            }}
            onClick={() => setTab(t.kind)}
            onKeyDown={(e) => onTabKey(e as unknown as KeyboardEvent, i)}
          >
            {t.label}
          </button>
        ))}
      </div>
      <div class="lab-status" data-testid="lab-status">
        {running !== null ? (
          <div class="job" data-testid="lab-job">
            <div
              class="progress"
              role="progressbar"
              data-testid="lab-progress"
              aria-label={`${running} progress`}
              aria-valuemin={0}
              aria-valuemax={progress && progress.total > 0 ? progress.total : undefined}
              aria-valuenow={progress && progress.total > 0 ? progress.done : undefined}
              aria-valuetext={progress?.phase ?? 'starting'}
            >
              <div class="progress-track" aria-hidden="true">
                <div class="progress-fill" style={{ width: `${progress && progress.total > 0 ? ((100 * Math.min(progress.done, progress.total)) / progress.total).toFixed(1) : 0}%` }} />
              </div>
              <div class="progress-text">
                <span data-testid="lab-phase">{progress?.phase ?? 'starting'}</span>
                {progress && progress.total > 0 && (
                  <span class="muted">
                    {progress.done}/{progress.total}
                  </span>
                )}
              </div>
            </div>
            <button type="button" class="secondary cancel" data-testid="lab-cancel" onClick={cancel}>
              Cancel
            </button>
          </div>
        ) : notice !== null ? (
          <p class="notice" role="status" data-testid="lab-notice">
            {notice}
          </p>
        ) : null}
      </div>
      <div role="tabpanel" id="lab-panel-matrices" aria-labelledby="lab-tab-matrices" hidden={tab !== 'matrices'} class="lab-panel" data-testid="lab-panel-matrices">
        <p class="muted small">How hard is each source → target pair for JSMA (Papernot et al.), over the test set: data written by <code>probe reproduce</code>.</p>
        <div class="lab-body">
          {matricesData.ok ? (
            <MatricesView data={matricesData.data} sourceClass={result ? result.prediction.className : null} />
          ) : (
            <LabError error={{ code: matricesData.error.code, message: matricesData.error.message }} testId="matrices-error" />
          )}
        </div>
      </div>
      {TABS.filter((t): t is { kind: LabKind; label: string } => t.kind !== 'matrices').map((t) => (
        <div key={t.kind} role="tabpanel" id={`lab-panel-${t.kind}`} aria-labelledby={`lab-tab-${t.kind}`} hidden={tab !== t.kind} class="lab-panel" data-testid={`lab-panel-${t.kind}`}>
          {t.kind === 'user-model' ? (
            <>
              <p class="muted small">Bring your own model: a TensorFlow.js LayersModel or GraphModel by URL or from files, described here; or ImageNet's MobileNet v2. The current image and attack run on it; photo models can export the adversarial at the page image's full resolution.</p>
              <UserModelFormView
                disabled={disabled}
                storeFiles={(files) => lab.storeModelFiles(files)}
                onRun={(source) => {
                  userSource.current = source;
                  setResults((r) => ({ ...r, 'user-export': undefined }));
                  void run('user-model', async () => {
                    // First thing in the click: the browser asks the user to allow the model's host (a no-op if allowed).
                    const pattern = source.kind === 'url' ? originPattern(source.url) : null;
                    if (pattern !== null && allow && !(await allow([pattern]))) {
                      throw new ProbeError('NO_ACCESS', `The model is on ${hostOf(source.kind === 'url' ? source.url : '')}; the extension was not allowed to read it there, so nothing was downloaded.`);
                    }
                    return lab.userModel(source);
                  });
                }}
              />
            </>
          ) : (
          <form
            class="lab-controls"
            noValidate
            onSubmit={(e) => {
              e.preventDefault();
              start(t.kind);
            }}
          >
            {t.kind === 'defenses' && <p class="muted small">Does the defense notice the attack? MagNet, the GPDNN's uncertainty and the ensemble vote, on the clean image and the adversarial.</p>}
            {t.kind === 'transfer' && <p class="muted small">The adversarial fed to every shipped MNIST classifier: which are fooled, and how confidently.</p>}
            {t.kind === 'adversarial-training' && (
              <p class="muted small">The same image and attack against mnist-maxout and its adversarially trained twin (and the 3-vs-7 logistic regressions for a 3 or a 7).</p>
            )}
            {t.kind === 'saliency' && (
              <>
                <p class="muted small">JSMA's saliency map (Papernot et al.) of this image toward a target class, and how far the image is from every other class (adversarial distance).</p>
                <div class="control-row">
                  <label for="saliency-target">target</label>
                  <select id="saliency-target" data-testid="saliency-target" value={String(target)} disabled={disabled} onChange={(e) => setSalTarget(Number(e.currentTarget.value))}>
                    {classNames.map((name, c) =>
                      c === predicted ? null : (
                        <option key={c} value={String(c)}>
                          {name}
                        </option>
                      ),
                    )}
                  </select>
                </div>
              </>
            )}
            {t.kind === 'export' && <p class="muted small">The adversarial as a PNG at model resolution: rounded to 8 bits so that it stays adversarial if any rounding does, and re-classified.</p>}
            {t.kind === 'sweep' && (
              <div class="control-row">
                <label for="sweep-eps">max ε</label>
                <input
                  id="sweep-eps"
                  data-testid="sweep-eps"
                  type="number"
                  inputMode="decimal"
                  min="0.01"
                  max="2"
                  step="0.05"
                  value={maxEps}
                  disabled={disabled}
                  aria-invalid={epsOk ? 'false' : 'true'}
                  aria-describedby="sweep-eps-error"
                  onInput={(e) => setMaxEps(e.currentTarget.value)}
                />
                <label for="sweep-points">points</label>
                <select id="sweep-points" data-testid="sweep-points" value={String(points)} disabled={disabled} onChange={(e) => setPoints(Number(e.currentTarget.value))}>
                  {POINT_CHOICES.map((p) => (
                    <option key={p} value={String(p)}>
                      {p}
                    </option>
                  ))}
                </select>
              </div>
            )}
            {t.kind === 'sweep' && (
              <p id="sweep-eps-error" class="field-error small" data-testid="sweep-eps-error" role={epsOk ? undefined : 'alert'}>
                {epsOk ? '\u00a0' : 'max ε must be a number in (0, 2]'}
              </p>
            )}
            <button type="submit" data-testid={`lab-run-${t.kind}`} disabled={disabled || (t.kind === 'sweep' && !epsOk)}>
              {running === t.kind ? 'Running…' : RUN_LABEL[t.kind]}
            </button>
          </form>
          )}
          <div class="lab-body">
            {errors[t.kind] !== undefined && <LabError error={errors[t.kind]!} />}
            {t.kind === 'defenses' && shown('defenses') && <DefensesView report={shown('defenses')!} />}
            {t.kind === 'sweep' && shown('sweep') && <SweepChart view={shown('sweep')!} />}
            {t.kind === 'transfer' && shown('transfer') && <TransferChart view={shown('transfer')!} />}
            {t.kind === 'adversarial-training' && shown('adversarial-training') && <AdvTrainingPanel view={shown('adversarial-training')!} />}
            {t.kind === 'saliency' && shown('saliency') && <SaliencyChart view={shown('saliency')!} />}
            {t.kind === 'user-model' && shown('user-model') && (
              <UserModelResult
                view={shown('user-model')!}
                urls={blobUrls}
                exporting={running === 'user-export'}
                disabled={disabled}
                onExport={() => {
                  const source = userSource.current;
                  if (source) void run('user-export', () => lab.userExport(source));
                }}
              />
            )}
            {t.kind === 'user-model' && errors['user-export'] !== undefined && <LabError error={errors['user-export']!} testId="user-export-error" />}
            {t.kind === 'user-model' && shown('user-model') && shown('user-export') && <UserExportResult view={shown('user-export')!} urls={blobUrls} />}
            {t.kind === 'export' && result && result.id === resultId && <ExportPanel result={result} view={shown('export')} defenses={shown('defenses')} urls={blobUrls} />}
          </div>
        </div>
      ))}
    </section>
  );
}

/** A lab computation's error: message, hint for known codes, and the stable code. */
function LabError({ error, testId = 'lab-error' }: { readonly error: ShownError; readonly testId?: string }) {
  const hint = hintFor(error.code);
  return (
    <div class="error" role="alert" data-testid={testId} data-code={error.code}>
      <p class="error-message">{error.message}</p>
      {hint !== null && <p class="error-hint">{hint}</p>}
      <small class="error-code">{error.code}</small>
    </div>
  );
}
