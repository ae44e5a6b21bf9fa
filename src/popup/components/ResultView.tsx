import type { AttackChoice, ModelInfo, ProbeResult } from '../../protocol/types';
import { parseDraft } from '../attack-draft';
import { formatPercent, truncateMiddle } from '../format';
import { AttackPanel, useAttackDraft } from './AttackPanel';
import { Bars } from './Bars';
import { ImageView } from './ImageView';
import { ModelPicker } from './ModelPicker';

export interface ResultViewProps {
  readonly result: ProbeResult;
  /** The backend in use now (the state's), else the result's. */
  readonly backend: string | null;
  readonly modelId: string;
  readonly busy: boolean;
  /** The result is being replaced (a new probe is running): shown dimmed. */
  readonly stale?: boolean;
  /** Models to choose from (empty: no picker). */
  readonly models?: readonly ModelInfo[];
  /** Run an attack, on another model when `modelId` is given. */
  readonly onRunAttack: (choice: AttackChoice, modelId?: string) => void;
}

/** A finished probe: the model's view, its prediction, the attack lab and a footer. */
export function ResultView({ result, backend, modelId, busy, stale = false, models = [], onRunAttack }: ResultViewProps) {
  const [draft, setDraft] = useAttackDraft(result.id, result.attack.choice);
  /** A model switch re-runs the attack in the controls (else the one shown), untargeted: class indices differ between models. */
  const switchModel = (id: string) => {
    const parsed = parseDraft(draft);
    const choice = parsed.ok ? parsed.choice : result.attack.choice;
    onRunAttack({ ...choice, target: null }, id);
  };
  const pred = result.prediction;
  const conf = pred.probs[pred.label] ?? Number.NaN;
  const src = result.source;
  return (
    <div class={`result${stale ? ' stale' : ''}`}>
      <section class="panel clean" aria-labelledby="clean-title">
        <div class="panel-head">
          <h2 id="clean-title">As the model sees it</h2>
          <ModelPicker
            models={models}
            value={modelId || result.modelId}
            disabled={busy || stale}
            onChange={switchModel}
          />
        </div>
        <div class="clean-grid">
          <ImageView
            image={result.input}
            caption={`${result.input.width}×${result.input.height}`}
            alt="the image as the model sees it"
            testId="img-input"
          />
          <div class="prediction-block">
            <div class="muted small">prediction</div>
            <div class="prediction-main">
              <strong class="class-name big" data-testid="prediction">
                {pred.className}
              </strong>
              <span class="confidence" data-testid="confidence">
                {formatPercent(conf)}
              </span>
            </div>
            {result.preprocess.inverted && (
              <p class="note" data-testid="inverted">
                colours inverted: light background
              </p>
            )}
            <p class="muted small">preprocess: {result.preprocess.mode}</p>
          </div>
          <Bars
            probs={pred.probs}
            classNames={result.classNames}
            highlight={pred.label}
            testId="bars"
            label="confidence per class"
          />
        </div>
      </section>

      <AttackPanel
        input={result.input}
        cleanLabel={pred.label}
        classNames={result.classNames}
        outcome={result.attack}
        draft={draft}
        onDraftChange={setDraft}
        busy={busy || stale}
        onRun={(choice) => onRunAttack(choice)}
      />

      <footer class="footer">
        <span>
          backend <strong data-testid="backend">{backend ?? result.backend}</strong>
        </span>
        <span>
          model <strong data-testid="model-id">{modelId || result.modelId}</strong>
        </span>
        <span class="source" title={src.srcUrl}>
          image{' '}
          <span data-testid="source-url" class="url">
            {truncateMiddle(src.srcUrl, 56)}
          </span>{' '}
          <span class="muted">
            ({src.naturalWidth}×{src.naturalHeight},{' '}
            <span data-testid="captured-by" data-value={src.capturedBy}>
              {src.capturedBy === 'page' ? 'read from page' : src.capturedBy === 'screen' ? 'taken from the screen, as displayed' : 'fetched by the extension'}
            </span>
            {src.firstFrameOnly && <span data-testid="first-frame">, animated: first frame analysed</span>}
            )
          </span>
        </span>
      </footer>
    </div>
  );
}
