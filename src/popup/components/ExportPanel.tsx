import { useMemo } from 'preact/hooks';
import type { DefenseReportView, ExportMethod, ExportView, ProbeResult } from '../../protocol/types';
import { type BlobUrls, browserBlobUrls, useBlobUrl } from '../blob-url';
import { formatDistance, formatPercent } from '../format';
import { fileSafe, probeReport } from '../report';

/** What each rounding method means, in words. */
export function methodText(method: ExportMethod, steps: number): string {
  switch (method) {
    case 'nearest':
      return 'nearest 8-bit level: the attack survived plain rounding';
    case 'away':
      return 'rounded away from the original: nearest rounding undid the attack';
    case 'search':
      return `searched the rounding (${steps} gradient step${steps === 1 ? '' : 's'}): plain rounding undid the attack`;
    case 'failed':
      return 'no rounding kept the attack: the nearest rounding is exported and is NOT adversarial';
  }
}

export interface ExportPanelProps {
  readonly result: ProbeResult;
  /** The export of this result, when it was run. */
  readonly view: ExportView | undefined;
  /** The defenses of this result, when they were run (they go into the report). */
  readonly defenses: DefenseReportView | undefined;
  readonly urls?: BlobUrls;
}

/**
 * The exported PNG (the re-classified 8-bit bytes, with the rounding method that held) and the JSON
 * report of the whole probe, each a download link to a Blob URL.
 */
export function ExportPanel({ result, view, defenses, urls = browserBlobUrls }: ExportPanelProps) {
  // Made again only when what it reports changes (its time stamp would change the Blob URL on every render).
  const text = useMemo(() => JSON.stringify(probeReport(result, { exported: view ?? null, defenses: defenses ?? null }), null, 1), [result, view, defenses]);
  const jsonUrl = useBlobUrl({ text }, 'application/json', urls);
  const pngUrl = useBlobUrl(view ? { base64: view.pngBase64 } : null, 'image/png', urls);
  const base = `adversarial-${fileSafe(result.modelId)}-${fileSafe(result.attack.choice.attack)}`;
  return (
    <div class="export" data-testid="export">
      {view && (
        <div class="export-result" data-testid="export-result" data-method={view.method} data-success={view.success ? 'true' : 'false'}>
          <figure class="image-view">
            {pngUrl ? <img src={pngUrl} width={112} height={112} class="pixelated" alt={`exported adversarial PNG, ${view.width}×${view.height}`} data-testid="export-img" /> : <div class="img-placeholder" />}
            <figcaption>
              PNG {view.width}×{view.height}
              {view.channels === 1 ? ' grayscale' : ' RGB'}
            </figcaption>
          </figure>
          <dl class="kv small">
            <dt>Rounding</dt>
            <dd data-testid="export-method" data-value={view.method}>
              {methodText(view.method, view.steps)}
            </dd>
            <dt>Exported bytes</dt>
            <dd data-testid="export-predicted">
              {view.predictedClass} ({formatPercent(view.confidence)})
            </dd>
            <dt>Still adversarial</dt>
            <dd>
              <span class={`badge ${view.success ? 'fooled' : 'held'}`} data-testid="export-success" data-value={view.success ? 'true' : 'false'}>
                {view.success ? 'yes' : 'no'}
              </span>{' '}
              <span class="muted">
                {view.goal.targeted ? `goal: classified as ${result.classNames[view.goal.label] ?? view.goal.label}` : `goal: not classified as ${result.classNames[view.goal.label] ?? view.goal.label}`}
                {view.maxLinf !== null ? ` · within L∞ ${formatDistance(view.maxLinf)}` : ''}
              </span>
            </dd>
            <dt>Distortion</dt>
            <dd data-testid="export-dist">
              L∞ {formatDistance(view.linf)} · L2 {formatDistance(view.l2)}
            </dd>
          </dl>
        </div>
      )}
      <p class="downloads">
        {view && pngUrl && (
          <a href={pngUrl} download={`${base}.png`} data-testid="export-png-link" class="button-link">
            Download PNG
          </a>
        )}{' '}
        {jsonUrl && (
          <a href={jsonUrl} download={`${base}-report.json`} data-testid="export-json-link" class="button-link">
            Download JSON report
          </a>
        )}
      </p>
      <p class="muted small">
        The report holds the prediction, the attack and its parameters, the distortions{view ? ', the export check' : ''}
        {defenses ? ' and the defenses' : ''}; run the export{defenses ? '' : ' and the defenses'} first to include {view ? 'them' : 'it'}.
      </p>
    </div>
  );
}
