import type { FgsmParams, ModelInfo, ProbeResult } from '../../protocol/types';
import { formatPercent, truncateMiddle } from '../format';
import { Bars } from './Bars';
import { FgsmPanel } from './FgsmPanel';
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
  /** Run FGSM with `params`, on another model when `modelId` is given. */
  readonly onRunFgsm: (params: FgsmParams, modelId?: string) => void;
}

/** A finished probe: the model's view, its prediction, the FGSM panel and a footer. */
export function ResultView({ result, backend, modelId, busy, stale = false, models = [], onRunFgsm }: ResultViewProps) {
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
            onChange={(id) => onRunFgsm({ eps: result.fgsm.params.eps, target: null }, id)}
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

      <FgsmPanel
        input={result.input}
        cleanLabel={pred.label}
        classNames={result.classNames}
        outcome={result.fgsm}
        busy={busy || stale}
        onRun={onRunFgsm}
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
              {src.capturedBy === 'page' ? 'read from page' : 'fetched by the extension'}
            </span>
            )
          </span>
        </span>
      </footer>
    </div>
  );
}
