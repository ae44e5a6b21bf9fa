import { useState } from 'preact/hooks';
import type { UserModelSource } from '../../core/lab/user-source';
import { userModelFromForm, userModelSpecFromFiles, type UserModelForm } from '../../core/lab/user-input';
import { checkPickedFiles, formatOfModelJson } from '../../core/lab/user-source';
import type { StoredModelFile } from '../../protocol/model-files';
import { MOBILENET_NOTE } from '../mobilenet-note';
import type { FullExportView, UserModelView } from '../../protocol/types';
import { browserBlobUrls, type BlobUrls, useBlobUrl } from '../blob-url';
import { formatCount, formatDistance, formatPercent } from '../format';
import { type ShownError, shownErrorOf } from '../errors';

/** The form's first values: a 28×28 grey model in [0, 1] with the ten digits, logits out, MNIST-style preprocessing. */
export const USER_FORM_DEFAULTS: UserModelForm = {
  url: '', format: 'layers', height: '28', width: '28', channels: '1', min: '0', max: '1',
  classNames: '0\n1\n2\n3\n4\n5\n6\n7\n8\n9', output: 'logits', classOffset: '0', preprocess: 'mnist',
};

export interface UserModelFormProps {
  readonly disabled: boolean;
  readonly onRun: (source: UserModelSource) => void;
  /** Keeps picked files for the background (the connector's storeModelFiles); resolves to their key. */
  readonly storeFiles: (files: StoredModelFile[]) => Promise<string>;
}

/** Model files the user picked, stored for the background under `key`. */
interface Picked {
  readonly key: string;
  readonly name: string;
  readonly count: number;
  readonly bytes: number;
}

/**
 * Bring your own model: URL of model.json (or the picked model.json and weight files, kept in the
 * extension's IndexedDB for the background), format, input size, channels, value range, class names (one
 * per line) and output kind, checked on submit with a clear message (nothing is sent while it is wrong);
 * or MobileNet v2, loaded only after the user ticks that they agree to the size and source note.
 */
export function UserModelFormView({ disabled, onRun, storeFiles }: UserModelFormProps) {
  const [f, setF] = useState<UserModelForm>(USER_FORM_DEFAULTS);
  const [error, setError] = useState<ShownError | null>(null);
  const [consent, setConsent] = useState(false);
  const [picked, setPicked] = useState<Picked | null>(null);
  const [reading, setReading] = useState(false);
  /** Picked files: checked (one model.json, caps), the format read from the model.json, stored for the background. */
  const pick = async (list: FileList | null): Promise<void> => {
    const files = Array.from(list ?? []);
    if (files.length === 0) return;
    setReading(true);
    try {
      const jsonName = checkPickedFiles(files);
      const read = await Promise.all(files.map(async (file) => ({ name: file.name, bytes: new Uint8Array(await file.arrayBuffer()) })));
      const format = formatOfModelJson(new TextDecoder().decode(read.find((r) => r.name === jsonName)!.bytes));
      const key = await storeFiles(read);
      setPicked({ key, name: jsonName, count: files.length, bytes: read.reduce((a, r) => a + r.bytes.length, 0) });
      if (format !== null) setF((old) => ({ ...old, format }));
      setError(null);
    } catch (err) {
      setPicked(null);
      setError(shownErrorOf(err));
    } finally {
      setReading(false);
    }
  };
  const set = (k: keyof UserModelForm) => (e: Event) => setF({ ...f, [k]: (e.currentTarget as HTMLInputElement).value });
  const field = (k: keyof UserModelForm, label: string, extra: Record<string, string> = {}) => (
    <label class="uf-field">
      <span>{label}</span>
      <input data-testid={`uf-${k}`} value={f[k]} disabled={disabled} onInput={set(k)} {...extra} />
    </label>
  );
  const submit = (e: Event): void => {
    e.preventDefault();
    if (disabled) return;
    try {
      if (picked) {
        const spec = userModelSpecFromFiles(f, picked.name);
        setError(null);
        onRun({ kind: 'files', key: picked.key, name: picked.name, spec });
        return;
      }
      const { url, spec } = userModelFromForm(f);
      setError(null);
      onRun({ kind: 'url', url, spec });
    } catch (err) {
      setError(shownErrorOf(err));
    }
  };
  return (
    <div class="user-model-form">
      <form noValidate onSubmit={submit} data-testid="uf-form" class="uf-grid">
        {picked ? (
          <p class="uf-field uf-wide small" data-testid="uf-picked" data-count={picked.count}>
            <span>files</span> {picked.name} + {picked.count - 1} weight file{picked.count === 2 ? '' : 's'} ({(picked.bytes / 2 ** 20).toFixed(2)} MB){' '}
            <button type="button" class="secondary" data-testid="uf-files-clear" disabled={disabled} onClick={() => setPicked(null)}>
              use a URL instead
            </button>
          </p>
        ) : (
          <label class="uf-field uf-wide">
            <span>model.json URL</span>
            <input data-testid="uf-url" type="url" inputMode="url" placeholder="https://…/model.json" value={f.url} disabled={disabled} onInput={set('url')} />
          </label>
        )}
        <label class="uf-field uf-wide">
          <span>or files: model.json and its weight files</span>
          <input
            data-testid="uf-files"
            type="file"
            multiple
            accept=".json,.bin,application/json,application/octet-stream"
            disabled={disabled || reading}
            onChange={(e) => {
              const input = e.currentTarget as HTMLInputElement;
              void pick(input.files).finally(() => {
                input.value = '';
              });
            }}
          />
        </label>
        <label class="uf-field">
          <span>format</span>
          <select data-testid="uf-format" value={f.format} disabled={disabled} onChange={set('format')}>
            <option value="layers">LayersModel</option>
            <option value="graph">GraphModel</option>
          </select>
        </label>
        {field('height', 'height', { inputMode: 'numeric' })}
        {field('width', 'width', { inputMode: 'numeric' })}
        <label class="uf-field">
          <span>channels</span>
          <select data-testid="uf-channels" value={f.channels} disabled={disabled} onChange={set('channels')}>
            <option value="1">1 (grey)</option>
            <option value="3">3 (RGB)</option>
          </select>
        </label>
        {field('min', 'value min', { inputMode: 'decimal' })}
        {field('max', 'value max', { inputMode: 'decimal' })}
        <label class="uf-field">
          <span>output</span>
          <select data-testid="uf-output" value={f.output} disabled={disabled} onChange={set('output')}>
            <option value="logits">logits</option>
            <option value="probs">probabilities</option>
          </select>
        </label>
        <label class="uf-field">
          <span>preprocessing</span>
          <select data-testid="uf-preprocess" value={f.preprocess} disabled={disabled} onChange={set('preprocess')}>
            <option value="mnist">MNIST-style centring</option>
            <option value="resize">plain resize</option>
          </select>
        </label>
        {field('classOffset', 'leading non-class outputs', { inputMode: 'numeric' })}
        <label class="uf-field uf-wide">
          <span>class names (one per line)</span>
          <textarea data-testid="uf-classNames" rows={3} value={f.classNames} disabled={disabled} onInput={set('classNames')} />
        </label>
        <p class="field-error small uf-wide" data-testid="uf-error" data-code={error?.code ?? ''} role={error ? 'alert' : undefined}>
          {error ? `${error.message} (${error.code})` : '\u00a0'}
        </p>
        <button type="submit" data-testid="lab-run-user-model" disabled={disabled || reading}>
          Load and attack
        </button>
      </form>
      <fieldset class="mobilenet" data-testid="mobilenet">
        <legend>ImageNet: MobileNet v2</legend>
        <p class="small" data-testid="mobilenet-note">
          {MOBILENET_NOTE}
        </p>
        <label class="small">
          <input type="checkbox" data-testid="mobilenet-consent" checked={consent} disabled={disabled} onChange={(e) => setConsent(e.currentTarget.checked)} /> I agree to download it
        </label>{' '}
        <button type="button" data-testid="mobilenet-run" disabled={disabled || !consent} onClick={() => consent && onRun({ kind: 'mobilenet', consent: true })}>
          Load MobileNet v2 and attack
        </button>
      </fieldset>
    </div>
  );
}

export interface UserModelResultProps {
  readonly view: UserModelView;
  readonly urls?: BlobUrls;
  /** Offered when the model takes the page image by a plain resize (view.fullResolution). */
  readonly onExport?: () => void;
  readonly exporting?: boolean;
  readonly disabled?: boolean;
}

/** The user model's verdict on the page image, clean and adversarial (top classes), with what it sees; the full-resolution export for photo models. */
export function UserModelResult({ view, urls = browserBlobUrls, onExport, exporting = false, disabled = false }: UserModelResultProps) {
  const inUrl = useBlobUrl({ base64: view.inputPngBase64 }, 'image/png', urls);
  const advUrl = useBlobUrl({ base64: view.adversarialPngBase64 }, 'image/png', urls);
  const list = (rows: UserModelView['clean'], id: string) => (
    <ol class="small top-classes" data-testid={id}>
      {rows.map((r) => (
        <li key={r.label}>
          {r.className} <span class="muted">{formatPercent(r.prob)}</span>
        </li>
      ))}
    </ol>
  );
  const [h, w, c] = view.inputShape;
  return (
    <div class="user-model-result" data-testid="user-model-result" data-success={view.success ? 'true' : 'false'}>
      <p class="small">
        <code>{view.modelId}</code> · {h}×{w}×{c}, values {view.inputRange.min}…{view.inputRange.max}, {view.classes} classes · {view.preprocess}
      </p>
      <div class="um-sides">
        <figure class="image-view">
          {inUrl ? <img src={inUrl} width={96} height={96} class="pixelated" alt="what your model sees" /> : <div class="img-placeholder um" />}
          <figcaption>clean</figcaption>
          {list(view.clean, 'um-clean')}
        </figure>
        <figure class="image-view">
          {advUrl ? <img src={advUrl} width={96} height={96} class="pixelated" alt="the adversarial, as your model sees it" /> : <div class="img-placeholder um" />}
          <figcaption>
            {view.attack}{' '}
            <span class={`badge ${view.success ? 'fooled' : 'held'}`} data-testid="um-success">
              {view.success ? 'fooled' : 'not fooled'}
            </span>
          </figcaption>
          {list(view.adversarial, 'um-adv')}
        </figure>
      </div>
      <p class="muted small">
        L0 {formatCount(view.distances.l0)} · L2 {formatDistance(view.distances.l2)} · L∞ {formatDistance(view.distances.linf)} (model input units)
      </p>
      {onExport &&
        (view.fullResolution ? (
          <p>
            <button type="button" data-testid="user-export-run" disabled={disabled || exporting} onClick={onExport}>
              {exporting ? 'Exporting…' : 'Export at full resolution'}
            </button>{' '}
            <span class="muted small">the adversarial at the page image’s size, checked by this model</span>
          </p>
        ) : (
          <p class="muted small" data-testid="user-export-unavailable">
            Full-resolution export is for photo models (RGB or a plain resize); this model’s input is its export.
          </p>
        ))}
    </div>
  );
}

/** How the full-resolution export kept the attack, in words. */
export function fullMethodText(method: FullExportView['method'], iterations: number): string {
  switch (method) {
    case 'upsampled':
      return 'the perturbation, upsampled, survived the model’s own resize and 8-bit rounding';
    case 'back-projected':
      return `back-projected through the model’s resize (${iterations} correction${iterations === 1 ? '' : 's'}): the plain upsample did not hold`;
    case 'amplified':
      return 'back-projection alone did not hold: the perturbation was amplified until it did';
    case 'failed':
      return 'nothing held: the closest image is exported and is NOT adversarial';
  }
}

/** The full-resolution PNG: size, method, what the model makes of the exported bytes, distortion, download link. */
export function UserExportResult({ view, urls = browserBlobUrls }: { readonly view: FullExportView; readonly urls?: BlobUrls }) {
  const url = useBlobUrl({ base64: view.pngBase64 }, 'image/png', urls);
  const aspect = view.height / view.width;
  return (
    <div class="user-export" data-testid="user-export" data-method={view.method} data-success={view.success ? 'true' : 'false'} data-width={view.width} data-height={view.height}>
      <figure class="image-view">
        {url ? <img src={url} width={160} height={Math.max(1, Math.round(160 * aspect))} alt={`adversarial PNG at ${view.width}×${view.height}`} data-testid="user-export-img" /> : <div class="img-placeholder um" />}
        <figcaption>
          PNG {view.width}×{view.height} RGB{view.scaledDown ? ` (page image ${view.naturalWidth}×${view.naturalHeight}, scaled down)` : ''}
        </figcaption>
      </figure>
      <dl class="kv small">
        <dt>Method</dt>
        <dd data-testid="user-export-method">{fullMethodText(view.method, view.iterations)}</dd>
        <dt>Exported bytes</dt>
        <dd data-testid="user-export-predicted">
          {view.predictedClass} ({formatPercent(view.confidence)}){' '}
          <span class={`badge ${view.success ? 'fooled' : 'held'}`} data-testid="user-export-success">
            {view.success ? 'still adversarial' : 'not adversarial'}
          </span>
        </dd>
        <dt>Distortion</dt>
        <dd>
          image L∞ {Math.round(view.linf * 255)}/255 · model input L2 {formatDistance(view.inputL2)}, L∞ {formatDistance(view.inputLinf)}
        </dd>
      </dl>
      {url && (
        <p class="downloads">
          <a href={url} download={`adversarial-${view.modelId.replace(/[^a-z0-9._-]/gi, '-')}-${view.attack}-${view.width}x${view.height}.png`} data-testid="user-export-link" class="button-link">
            Download full-resolution PNG
          </a>
        </p>
      )}
    </div>
  );
}
