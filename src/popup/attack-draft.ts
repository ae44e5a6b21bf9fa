/**
 * The attack lab's controls as data: which attack, the raw value of each parameter control and
 * the target, and how that becomes an AttackChoice. Only specs.ts is imported from the attacks
 * (the registry in index.ts would pull tfjs into the popup).
 */
import { ATTACK_SPECS, attackMeta, defaultParams, isAttackId, type AttackId, type AttackMeta } from '../core/attacks/specs';
import type { AttackChoice, AttackParamValues } from '../protocol/types';

/** One parameter's description, as specs.ts gives it. */
export type ParamSpec = AttackMeta['params'][number];

/** A control's raw value: the text of a number field or a choice, or a checkbox's state. */
export type DraftValue = string | boolean;

export interface AttackDraft {
  readonly attack: AttackId;
  /** Raw control values by parameter key. Numbers stay text until Run, so typing "0.0" works. */
  readonly values: Readonly<Record<string, DraftValue>>;
  /** null: untargeted (targeted-only attacks: the runner-up class); else a class index. */
  readonly target: number | null;
}

export type ParsedValue = { readonly ok: true; readonly value: number | string | boolean } | { readonly ok: false; readonly error: string };

export type ParsedDraft =
  | { readonly ok: true; readonly choice: AttackChoice }
  | { readonly ok: false; readonly errors: Readonly<Record<string, string>> };

const FALLBACK: AttackMeta = ATTACK_SPECS[0];

/** The spec of an attack id; unknown ids read as the first attack (FGSM). */
export function specOf(id: string): AttackMeta {
  return attackMeta(id) ?? FALLBACK;
}

/** A parameter value as its control's raw value. */
export function draftValueOf(p: ParamSpec, v: number | string | boolean | undefined): DraftValue {
  const value = v ?? p.default;
  if (p.type === 'boolean') return value === true || value === 'true';
  return String(value);
}

/** Control values for every parameter of `spec`: from `params` where given, else the defaults. */
export function draftValues(spec: AttackMeta, params: AttackParamValues = {}): Record<string, DraftValue> {
  const defaults = defaultParams(spec);
  return Object.fromEntries(spec.params.map((p) => [p.key, draftValueOf(p, params[p.key] ?? defaults[p.key])]));
}

/** The controls showing what `choice` ran (unknown attacks: FGSM with its defaults). */
export function draftFromChoice(choice: AttackChoice): AttackDraft {
  if (!isAttackId(choice.attack)) return { attack: FALLBACK.id, values: draftValues(FALLBACK), target: choice.target };
  return { attack: choice.attack, values: draftValues(specOf(choice.attack), choice.params), target: choice.target };
}

/**
 * The controls after picking attack `id`: the parameters `shown` ran with when it is the attack
 * shown, else the paper defaults. The target is kept.
 */
export function draftForAttack(id: AttackId, shown: AttackChoice, target: number | null): AttackDraft {
  const spec = specOf(id);
  return { attack: spec.id, values: draftValues(spec, shown.attack === spec.id ? shown.params : {}), target };
}

function formatBound(v: number): string {
  return Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(0) : String(v);
}

/** A control's raw value checked against its spec (type, range, choices). */
export function parseValue(p: ParamSpec, raw: DraftValue | undefined): ParsedValue {
  switch (p.type) {
    case 'boolean':
      return { ok: true, value: raw === true || raw === 'true' };
    case 'choice': {
      const v = raw === undefined || typeof raw === 'boolean' ? p.default : raw;
      return p.choices.includes(v) ? { ok: true, value: v } : { ok: false, error: `one of ${p.choices.join(', ')}` };
    }
    default: {
      const text = typeof raw === 'string' ? raw.trim() : '';
      const v = text === '' ? Number.NaN : Number(text);
      if (!Number.isFinite(v)) return { ok: false, error: 'a number is needed' };
      if (p.type === 'integer' && !Number.isInteger(v)) return { ok: false, error: 'a whole number is needed' };
      if (v < p.min || v > p.max) return { ok: false, error: `${formatBound(p.min)} to ${formatBound(p.max)}` };
      return { ok: true, value: v };
    }
  }
}

/** The draft as the choice to run, or the problem of each invalid control. */
export function parseDraft(d: AttackDraft): ParsedDraft {
  const spec = specOf(d.attack);
  const params: Record<string, number | string | boolean> = {};
  const errors: Record<string, string> = {};
  for (const p of spec.params) {
    const r = parseValue(p, d.values[p.key]);
    if (r.ok) params[p.key] = r.value;
    else errors[p.key] = r.error;
  }
  if (Object.keys(errors).length > 0) return { ok: false, errors };
  return { ok: true, choice: { attack: spec.id, params, target: d.target } };
}

/** Whether a number parameter gets a slider besides its field (a bounded range of at most 200 steps). */
export function hasSlider(p: ParamSpec): boolean {
  if (p.type !== 'number' && p.type !== 'integer') return false;
  const step = p.step ?? 1;
  return step > 0 && (p.max - p.min) / step <= 200;
}
