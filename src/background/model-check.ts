import { ProbeError } from '../core/errors';

/** Bytes per value of the dtypes a tfjs weights manifest can name. */
const DTYPE_BYTES: Readonly<Record<string, number>> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2, complex64: 8 };

interface ManifestWeight {
  readonly shape: readonly number[];
  readonly dtype: string;
  readonly quantization?: { readonly dtype?: string };
}

/** Bytes a weights-manifest group must hold: Σ ∏shape × bytes of its (quantized) dtype; null if the manifest is not understood. */
export function expectedGroupBytes(weights: readonly ManifestWeight[]): number | null {
  let total = 0;
  for (const w of weights) {
    if (!Array.isArray(w.shape) || !w.shape.every((d) => Number.isInteger(d) && d >= 0)) return null;
    const bytes = DTYPE_BYTES[w.quantization?.dtype ?? w.dtype];
    if (bytes === undefined) return null;
    total += w.shape.reduce((a, b) => a * b, 1) * bytes;
  }
  return total;
}

/**
 * Checklist row 26: before tfjs builds a layers model from `model.json`, check that its weight files hold
 * exactly the bytes the manifest declares. tf.loadLayersModel creates the model's variables first and only
 * then finds the weights short, and the half-built model is never disposed (measured in the e2e suite: 24
 * tensors left per failed load); refusing here leaves nothing behind. Folders without a layers
 * `model.json` (e.g. the GPDNN's) are left to their loader. Throws MODEL_LOAD_FAILED.
 */
export async function checkLayersWeights(id: string, baseUrl: string, fetcher: (url: string) => Promise<Response> = (u) => fetch(u)): Promise<void> {
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  const res = await fetcher(`${base}model.json`).catch(() => null);
  if (!res || !res.ok) return;
  const json = (await res.json().catch(() => null)) as { weightsManifest?: unknown } | null;
  const manifest = json?.weightsManifest;
  if (!Array.isArray(manifest)) return;
  const fail = (why: string): never => {
    throw new ProbeError('MODEL_LOAD_FAILED', `Model "${id}" failed to load: ${why}. The extension's files are damaged; reinstall it.`);
  };
  for (const group of manifest as { paths?: unknown; weights?: unknown }[]) {
    if (!Array.isArray(group.paths) || !Array.isArray(group.weights)) fail('its weights manifest is malformed');
    const want = expectedGroupBytes(group.weights as ManifestWeight[]);
    if (want === null) return;
    let got = 0;
    for (const p of group.paths as unknown[]) {
      if (typeof p !== 'string') fail('its weights manifest is malformed');
      const w = await fetcher(`${base}${p as string}`).catch(() => null);
      if (!w || !w.ok) fail(`${String(p)} is missing`);
      got += (await w!.arrayBuffer()).byteLength;
    }
    if (got !== want) fail(`its weight files hold ${got} bytes, the manifest declares ${want}`);
  }
}

const checked = new Map<string, Promise<void>>();

/** `load(id)` after checkLayersWeights passed for that model (once per worker life; a failed check is not cached, so a later request checks again). */
export function checkedLoad<T>(id: string, folderUrlOf: (id: string) => string, load: (id: string) => Promise<T>): Promise<T> {
  let c = checked.get(id);
  if (!c) {
    c = checkLayersWeights(id, folderUrlOf(id));
    checked.set(id, c);
    c.catch(() => checked.delete(id));
  }
  return c.then(() => load(id));
}
