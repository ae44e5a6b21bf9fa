import { useState } from 'preact/hooks';
import type { FgsmOutcome, FgsmParams, GrayImage } from '../../protocol/types';
import { amplifyPerturbation } from '../draw';
import { formatCount, formatDistance, formatEps, formatFactor, formatMs, formatPercent, roundEps } from '../format';
import { Bars } from './Bars';
import { ImageView } from './ImageView';

export const EPS_MIN = 0;
export const EPS_MAX = 0.5;
export const EPS_STEP = 0.01;

export interface FgsmPanelProps {
  /** The clean model input. */
  readonly input: GrayImage;
  /** The clean prediction's class index. */
  readonly cleanLabel: number;
  readonly classNames: readonly string[];
  readonly outcome: FgsmOutcome;
  /** An attack is running: the controls are disabled. */
  readonly busy: boolean;
  readonly onRun: (params: FgsmParams) => void;
}

function parseEps(raw: string): number | null {
  const v = Number(raw);
  if (!Number.isFinite(v)) return null;
  return roundEps(Math.min(EPS_MAX, Math.max(EPS_MIN, v)));
}

function parseTarget(raw: string): number | null {
  if (raw === '') return null;
  const v = Number(raw);
  return Number.isInteger(v) && v >= 0 ? v : null;
}

/** FGSM controls, the three images (original, perturbation, adversarial) and the outcome. */
export function FgsmPanel({ input, cleanLabel, classNames, outcome, busy, onRun }: FgsmPanelProps) {
  // Edits made since `outcome` arrived; a new outcome (what was actually run) discards them.
  const [draft, setDraft] = useState<{ outcome: FgsmOutcome; eps: number; target: number | null } | null>(null);
  const current = draft !== null && draft.outcome === outcome ? draft : null;
  const eps = current ? current.eps : outcome.params.eps;
  const target = current ? current.target : outcome.params.target;
  const setEps = (v: number) => setDraft({ outcome, eps: v, target });
  const setTarget = (t: number | null) => setDraft({ outcome, eps, target: t });

  const { image: amplified, factor } = amplifyPerturbation(outcome.perturbation);
  const adv = outcome.prediction;
  const advConf = adv.probs[adv.label] ?? Number.NaN;
  const targeted = outcome.params.target !== null;
  const targetName = targeted ? (classNames[outcome.params.target ?? 0] ?? String(outcome.params.target)) : null;
  const successTitle = targeted
    ? `Targeted: succeeds when the model predicts ${targetName ?? ''}`
    : 'Untargeted: succeeds when the prediction changes';

  return (
    <section class="panel fgsm" aria-labelledby="fgsm-title" aria-busy={busy ? 'true' : 'false'}>
      <h2 id="fgsm-title">FGSM attack</h2>
      <div class="controls">
        <label class="eps">
          <span>ε</span>
          <input
            type="range"
            data-testid="eps"
            min={EPS_MIN}
            max={EPS_MAX}
            step={EPS_STEP}
            value={String(eps)}
            disabled={busy}
            aria-label="epsilon (maximum change per pixel)"
            onInput={(e) => {
              const v = parseEps(e.currentTarget.value);
              if (v !== null) setEps(v);
            }}
            onChange={(e) => {
              const v = parseEps(e.currentTarget.value);
              if (v === null || busy) return;
              setEps(v);
              onRun({ eps: v, target });
            }}
          />
          <output data-testid="eps-value">{formatEps(eps)}</output>
        </label>
        <label class="target">
          <span>target</span>
          <select
            data-testid="target"
            value={target === null ? '' : String(target)}
            disabled={busy}
            onChange={(e) => {
              if (busy) return;
              const t = parseTarget(e.currentTarget.value);
              setTarget(t);
              onRun({ eps, target: t });
            }}
          >
            <option value="">untargeted</option>
            {classNames.map((name, i) => (
              <option key={i} value={String(i)} disabled={i === cleanLabel}>
                {i === cleanLabel ? `${name} (predicted)` : name}
              </option>
            ))}
          </select>
        </label>
        <button
          type="button"
          data-testid="run-fgsm"
          disabled={busy}
          onClick={() => {
            if (!busy) onRun({ eps, target });
          }}
        >
          {busy ? 'Running…' : 'Run'}
        </button>
        {busy && <span class="spinner small" data-testid="fgsm-busy" aria-label="running" />}
      </div>

      <div class="triptych">
        <ImageView image={input} caption="original" alt="original model input" testId="img-original" />
        <ImageView
          image={amplified}
          caption={<span data-testid="perturbation-label">perturbation {formatFactor(factor)}</span>}
          alt={`perturbation amplified ${formatFactor(factor)}`}
          testId="img-perturbation"
        />
        <ImageView image={outcome.adversarial} caption="adversarial" alt="adversarial image" testId="img-adversarial" />
      </div>

      <div class="outcome">
        <div class="outcome-summary">
          <div class="prediction-line">
            <span class="muted">adversarial</span>
            <strong class="class-name" data-testid="adv-prediction">
              {adv.className}
            </strong>
            <span class="confidence" data-testid="adv-confidence">
              {formatPercent(advConf)}
            </span>
            <span class={`badge ${outcome.success ? 'fooled' : 'held'}`} data-testid="success" title={successTitle}>
              {outcome.success ? 'fooled' : 'not fooled'}
            </span>
          </div>
          {targetName !== null && <p class="muted small">target: {targetName}</p>}
          <dl class="distances">
            <div>
              <dt title="largest change of one pixel">L∞</dt>
              <dd data-testid="linf">{formatDistance(outcome.distances.linf)}</dd>
            </div>
            <div>
              <dt title="Euclidean size of the change">L2</dt>
              <dd data-testid="l2">{formatDistance(outcome.distances.l2)}</dd>
            </div>
            <div>
              <dt title="pixels changed">L0</dt>
              <dd data-testid="l0">{formatCount(outcome.distances.l0)}</dd>
            </div>
            <div>
              <dt>time</dt>
              <dd data-testid="ms">{formatMs(outcome.ms)}</dd>
            </div>
          </dl>
        </div>
        <Bars
          probs={adv.probs}
          classNames={classNames}
          highlight={adv.label}
          mark={outcome.params.target ?? cleanLabel}
          markTitle={targeted ? 'target' : 'original prediction'}
          testId="adv-bars"
          label="adversarial confidence per class"
        />
      </div>
    </section>
  );
}
