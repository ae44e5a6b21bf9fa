import { useCallback, useState } from 'preact/hooks';
import { ATTACK_SPECS, attackMeta, isAttackId, type AttackMeta } from '../../core/attacks/specs';
import type { AttackChoice, AttackOutcome, GrayImage } from '../../protocol/types';
import { draftForAttack, draftFromChoice, parseDraft, specOf, type AttackDraft } from '../attack-draft';
import { amplifyPerturbation, countChanged } from '../draw';
import { choiceLabel, distanceName, formatCount, formatDistance, formatFactor, formatMs, formatNumber, formatPercent, threatWord } from '../format';
import { Bars } from './Bars';
import { ImageView } from './ImageView';
import { ParamControl } from './ParamControl';
import { TraceTable } from './TraceTable';
import { VaePanel } from './VaePanel';

/**
 * The attack controls' state for the result `resultId`: edits are kept while that result is
 * shown; a new result (what was actually run) starts again from its choice.
 */
export function useAttackDraft(resultId: string, shown: AttackChoice): readonly [AttackDraft, (d: AttackDraft) => void] {
  const [edit, setEdit] = useState<{ readonly resultId: string; readonly draft: AttackDraft } | null>(null);
  const draft = edit !== null && edit.resultId === resultId ? edit.draft : draftFromChoice(shown);
  const setDraft = useCallback((d: AttackDraft) => setEdit({ resultId, draft: d }), [resultId]);
  return [draft, setDraft] as const;
}

export interface AttackPanelProps {
  /** The clean model input. */
  readonly input: GrayImage;
  /** The clean prediction's class index. */
  readonly cleanLabel: number;
  readonly classNames: readonly string[];
  /** The attack shown (the last one run). */
  readonly outcome: AttackOutcome;
  /** The controls' state (see useAttackDraft). */
  readonly draft: AttackDraft;
  readonly onDraftChange: (draft: AttackDraft) => void;
  /** An attack is running: the controls are disabled. */
  readonly busy: boolean;
  readonly onRun: (choice: AttackChoice) => void;
}

const CLASSIFIER_ATTACKS = ATTACK_SPECS.filter((a) => a.model === 'classifier');
const VAE_ATTACKS = ATTACK_SPECS.filter((a) => a.model === 'vae');
const TRIPTYCH_SIZE = 100;

function attackOption(a: AttackMeta) {
  return (
    <option key={a.id} value={a.id}>
      {a.name} — {a.paper}
    </option>
  );
}

/** The attack lab: pick an attack and its parameters, run it, and see what it did. */
export function AttackPanel(props: AttackPanelProps) {
  return (
    <section class="panel attack" aria-labelledby="attack-title" aria-busy={props.busy ? 'true' : 'false'}>
      <h2 id="attack-title">Attack lab</h2>
      <AttackControls {...props} />
      <AttackOutcomeView input={props.input} cleanLabel={props.cleanLabel} classNames={props.classNames} outcome={props.outcome} />
    </section>
  );
}

function AttackControls({ cleanLabel, classNames, outcome, draft, onDraftChange, busy, onRun }: AttackPanelProps) {
  const spec = specOf(draft.attack);
  const parsed = parseDraft(draft);
  const errors = parsed.ok ? {} : parsed.errors;
  const goals = spec.threat.goals.map(threatWord).join(' | ');
  const run = () => {
    if (!busy && parsed.ok) onRun(parsed.choice);
  };
  return (
    // noValidate: the fields are checked against the attack's spec (parseDraft), not by the browser's step rules.
    <form
      class="attack-controls"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        run();
      }}
    >
      <div class="control-row">
        <label for="attack-select">attack</label>
        <select
          id="attack-select"
          data-testid="attack"
          value={draft.attack}
          disabled={busy}
          onChange={(e) => {
            const id = e.currentTarget.value;
            if (isAttackId(id)) onDraftChange(draftForAttack(id, outcome.choice, draft.target));
          }}
        >
          <optgroup label="Attacks on the classifier">{CLASSIFIER_ATTACKS.map(attackOption)}</optgroup>
          <optgroup label="Attacks on the VAE (Kos et al.)">{VAE_ATTACKS.map(attackOption)}</optgroup>
        </select>
      </div>
      <div class="attack-meta">
        <span
          class="badge threat"
          data-testid="threat"
          title="Threat model (Papernot et al.'s taxonomy): adversarial goal × what the adversary must know"
        >
          {goals} × {threatWord(spec.threat.capability)}
        </span>
        <span class="badge kind" data-testid="attack-kind">
          {spec.kind === 'fixed-eps' ? 'fixed ε' : 'minimises'} {distanceName(spec.distance)}
          {spec.iterative ? ' · iterative' : ''}
        </span>
        <span class="muted small" data-testid="attack-paper">
          {spec.paper}
        </span>
      </div>
      <fieldset class="params" disabled={busy}>
        <legend class="visually-hidden">{spec.name} parameters</legend>
        {spec.params.map((p) => (
          <ParamControl
            key={`${spec.id}:${p.key}`}
            spec={p}
            value={draft.values[p.key] ?? ''}
            error={errors[p.key] ?? null}
            disabled={busy}
            onChange={(v) => onDraftChange({ ...draft, values: { ...draft.values, [p.key]: v } })}
          />
        ))}
      </fieldset>
      <div class="control-row">
        <label for="attack-target">target</label>
        <select
          id="attack-target"
          data-testid="target"
          value={draft.target === null ? '' : String(draft.target)}
          disabled={busy}
          onChange={(e) => {
            const raw = e.currentTarget.value;
            const t = raw === '' ? null : Number(raw);
            onDraftChange({ ...draft, target: t !== null && Number.isInteger(t) && t >= 0 ? t : null });
          }}
        >
          <option value="">{spec.untargeted ? 'untargeted' : 'runner-up class (auto)'}</option>
          {classNames.map((name, i) => (
            <option key={i} value={String(i)} disabled={i === cleanLabel}>
              {i === cleanLabel ? `${name} (predicted)` : name}
            </option>
          ))}
        </select>
        <button type="submit" data-testid="run-attack" disabled={busy || !parsed.ok}>
          {busy ? 'Running…' : 'Run'}
        </button>
        {busy && <span class="spinner small" data-testid="attack-busy" aria-label="running" />}
      </div>
    </form>
  );
}

interface OutcomeViewProps {
  readonly input: GrayImage;
  readonly cleanLabel: number;
  readonly classNames: readonly string[];
  readonly outcome: AttackOutcome;
}

/** "ε 0.1 · Norm L∞": the parameters an outcome was run with. */
function paramSummary(spec: AttackMeta | undefined, outcome: AttackOutcome): string {
  if (!spec) return '';
  return spec.params
    .map((p) => {
      const v = outcome.choice.params[p.key];
      const shown = typeof v === 'number' ? formatNumber(v) : typeof v === 'boolean' ? (v ? 'on' : 'off') : v === undefined ? '—' : choiceLabel(p.key, v);
      return `${p.label} ${shown}`;
    })
    .join(' · ');
}

const TRACE_TITLES: Readonly<Record<string, string>> = {
  'cw-l2': 'Binary search over c',
  lbfgs: 'Line search over c',
};

/** What the last attack did: the three images, the adversarial prediction, distances, extras per attack. */
function AttackOutcomeView({ input, cleanLabel, classNames, outcome }: OutcomeViewProps) {
  const spec = attackMeta(outcome.choice.attack);
  const { image: amplified, factor } = amplifyPerturbation(outcome.perturbation);
  const adv = outcome.prediction;
  const advConf = adv.probs[adv.label] ?? Number.NaN;
  const target = outcome.choice.target;
  const targetName = target !== null ? (classNames[target] ?? String(target)) : null;
  const isJsma = outcome.choice.attack === 'jsma';
  const successTitle =
    outcome.vae !== null
      ? `Succeeds when the latent classifier labels the reconstruction ${targetName ?? 'as the target'}`
      : targetName !== null
        ? `Targeted: succeeds when the model predicts ${targetName}`
        : 'Untargeted: succeeds when the prediction changes';

  return (
    <div class="attack-outcome">
      <div class="outcome-head">
        <h3 data-testid="shown-attack">{spec?.name ?? outcome.choice.attack}</h3>
        <span class="muted small" data-testid="shown-params">
          {paramSummary(spec, outcome)}
        </span>
      </div>

      <div class="triptych">
        <ImageView image={input} caption="original" alt="original model input" testId="img-original" size={TRIPTYCH_SIZE} />
        <ImageView
          image={amplified}
          caption={<span data-testid="perturbation-label">perturbation {formatFactor(factor)}</span>}
          alt={`perturbation amplified ${formatFactor(factor)}`}
          testId="img-perturbation"
          size={TRIPTYCH_SIZE}
        />
        <ImageView image={outcome.adversarial} caption="adversarial" alt="adversarial image" testId="img-adversarial" size={TRIPTYCH_SIZE} />
        {isJsma && (
          <ImageView
            image={outcome.adversarial}
            changes={outcome.perturbation}
            caption="changed pixels"
            alt="adversarial image with the changed pixels in colour"
            testId="changed-pixels"
            size={TRIPTYCH_SIZE}
          />
        )}
      </div>
      {isJsma && <ChangedCount perturbation={outcome.perturbation} />}

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
          mark={target ?? cleanLabel}
          markTitle={target !== null ? 'target' : 'original prediction'}
          testId="adv-bars"
          label="adversarial confidence per class"
        />
      </div>

      {outcome.trace.length > 0 && <TraceTable trace={outcome.trace} title={TRACE_TITLES[outcome.choice.attack] ?? 'Trace'} />}
      {outcome.vae !== null && (
        <VaePanel input={input} adversarial={outcome.adversarial} vae={outcome.vae} target={target} classNames={classNames} />
      )}
    </div>
  );
}

function ChangedCount({ perturbation }: { readonly perturbation: GrayImage }) {
  const n = countChanged(perturbation);
  const total = perturbation.width * perturbation.height;
  return (
    <p class="small changed-count" data-testid="changed-count">
      <span class="swatch up" aria-hidden="true" /> increased <span class="swatch down" aria-hidden="true" /> decreased —{' '}
      <strong>{n}</strong> of {total} pixels changed ({formatPercent(total > 0 ? n / total : Number.NaN)})
    </p>
  );
}
