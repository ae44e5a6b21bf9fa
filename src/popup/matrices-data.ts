/// <reference types="vite/client" />
/**
 * The dataset-level JSMA matrices the Lab's Matrices view shows: reproduction/popup-matrices.json,
 * written by `npm run probe -- reproduce`, bundled into the popup at build time and checked with
 * parsePopupMatrices when the popup loads. The glob import keeps the build working before the file is
 * generated; the view then says so with a stable code.
 */
import { parsePopupMatrices, type PopupMatrices } from '../core/metrics/popup-matrices';
import { ProbeError, toErrorInfo, type ErrorInfo } from '../core/errors';

const FILES = import.meta.glob<unknown>('../../reproduction/popup-matrices.json', { eager: true, import: 'default' });

export type MatricesLoad = { readonly ok: true; readonly data: PopupMatrices } | { readonly ok: false; readonly error: ErrorInfo };

/** Validates raw file content (or its absence: undefined) as the view's data. */
export function loadMatrices(raw: unknown): MatricesLoad {
  try {
    if (raw === undefined) throw new ProbeError('MODEL_NOT_FOUND', 'reproduction/popup-matrices.json was not in this build: run `npm run probe -- reproduce` and build again.');
    return { ok: true, data: parsePopupMatrices(raw) };
  } catch (e) {
    return { ok: false, error: toErrorInfo(e, 'BAD_INPUT') };
  }
}

let shipped: MatricesLoad | null = null;

/** The bundled file, validated once. */
export function shippedMatrices(): MatricesLoad {
  shipped ??= loadMatrices(Object.values(FILES)[0]);
  return shipped;
}
