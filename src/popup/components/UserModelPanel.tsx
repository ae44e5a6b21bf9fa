import { useState } from 'preact/hooks';
import type { UserModelSource } from '../../core/lab/user-source';
import { userModelFromForm, type UserModelForm } from '../../core/lab/user-input';
import { MOBILENET_NOTE } from '../mobilenet-note';
import type { UserModelView } from '../../protocol/types';
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
}

/**
 * Bring your own model: URL of model.json, format, input size, channels, value range, class names (one
 * per line) and output kind, checked on submit with a clear message (nothing is sent while it is wrong);
 * or MobileNet v2, loaded only after the user ticks that they agree to the size and source note.
 */
export function UserModelFormView({ disabled, onRun }: UserModelFormProps) {
  const [f, setF] = useState<UserModelForm>(USER_FORM_DEFAULTS);
  const [error, setError] = useState<ShownError | null>(null);
  const [consent, setConsent] = useState(false);
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
        <label class="uf-field uf-wide">
          <span>model.json URL</span>
          <input data-testid="uf-url" type="url" inputMode="url" placeholder="https://…/model.json" value={f.url} disabled={disabled} onInput={set('url')} />
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
        <button type="submit" data-testid="lab-run-user-model" disabled={disabled}>
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

/** The user model's verdict on the page image, clean and adversarial (top classes), with what it sees. */
export function UserModelResult({ view, urls = browserBlobUrls }: { readonly view: UserModelView; readonly urls?: BlobUrls }) {
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
    </div>
  );
}
