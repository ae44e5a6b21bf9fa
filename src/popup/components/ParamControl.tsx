import { hasSlider, type DraftValue, type ParamSpec } from '../attack-draft';
import { choiceLabel } from '../format';

export interface ParamControlProps {
  readonly spec: ParamSpec;
  readonly value: DraftValue;
  /** Why the value is invalid (null: valid). */
  readonly error: string | null;
  readonly disabled: boolean;
  readonly onChange: (value: DraftValue) => void;
}

/**
 * The control of one attack parameter, generated from its spec: a field (with a slider when the
 * range is short) for numbers, a checkbox for booleans, a select for choices. `data-testid` is
 * `param-<key>` on the field, checkbox or select (`param-<key>-range` on the slider).
 */
export function ParamControl({ spec: p, value, error, disabled, onChange }: ParamControlProps) {
  const id = `attack-param-${p.key}`;
  const errorId = `${id}-error`;
  const invalid = error !== null;

  if (p.type === 'boolean') {
    return (
      <div class="param param-boolean" title={p.help}>
        <label for={id}>{p.label}</label>
        <input
          id={id}
          type="checkbox"
          data-testid={`param-${p.key}`}
          checked={value === true}
          disabled={disabled}
          onChange={(e) => onChange(e.currentTarget.checked)}
        />
      </div>
    );
  }

  if (p.type === 'choice') {
    return (
      <div class="param param-choice" title={p.help}>
        <label for={id}>{p.label}</label>
        <select id={id} data-testid={`param-${p.key}`} value={String(value)} disabled={disabled} onChange={(e) => onChange(e.currentTarget.value)}>
          {p.choices.map((c) => (
            <option key={c} value={c}>
              {choiceLabel(p.key, c)}
            </option>
          ))}
        </select>
      </div>
    );
  }

  const text = typeof value === 'string' ? value : String(p.default);
  const numeric = Number(text);
  const step = p.step ?? (p.type === 'integer' ? 1 : undefined);
  return (
    <div class={`param param-number${invalid ? ' invalid' : ''}`} title={p.help}>
      <label for={id}>{p.label}</label>
      {hasSlider(p) ? (
        <input
          type="range"
          data-testid={`param-${p.key}-range`}
          min={p.min}
          max={p.max}
          step={step}
          value={String(Number.isFinite(numeric) ? Math.min(p.max, Math.max(p.min, numeric)) : p.default)}
          disabled={disabled}
          aria-label={`${p.label} (slider)`}
          onInput={(e) => onChange(e.currentTarget.value)}
        />
      ) : (
        <span class="param-spacer" />
      )}
      <input
        id={id}
        type="number"
        inputMode="decimal"
        data-testid={`param-${p.key}`}
        min={p.min}
        max={p.max}
        step={step ?? 'any'}
        value={text}
        disabled={disabled}
        aria-invalid={invalid ? 'true' : undefined}
        aria-describedby={invalid ? errorId : undefined}
        onInput={(e) => onChange(e.currentTarget.value)}
      />
      {invalid && (
        <span class="param-error" id={errorId} data-testid={`param-${p.key}-error`} role="alert">
          {error}
        </span>
      )}
    </div>
  );
}
