/**
 * The defenses panel's models and calibration files, loaded once per service-worker life from the
 * extension's own models/ folder (like every model; nothing is downloaded): mnist-vae (MagNet),
 * mnist-gpdnn (uncertainty), mnist-ensemble-5 (vote), models/mnist-vae/magnet.json and
 * models/mnist-gpdnn/uncertainty.json. A failed load is not cached.
 */
import { MAGNET_FILE, parseMagnetCalibrationFile, parseUncertaintyCalibrationFile, UNCERTAINTY_FILE } from '../core/defenses/calibration';
import { loadEnsemble } from '../core/defenses/ensemble';
import { isUncertain } from '../core/defenses/uncertainty';
import { ProbeError } from '../core/errors';
import { urlModelFiles } from '../core/models/files';
import { getModel, getVaeContext, onModelsDropped } from './engine';
import type { DefenseAssets } from './service';

/** The shipped models the defenses use (the same as `probe defend`). */
export const DEFENSE_MODEL_IDS = { vae: 'mnist-vae', gpdnn: 'mnist-gpdnn', ensemble: 'mnist-ensemble-5' } as const;

async function fetchJson(url: string, what: string): Promise<unknown> {
  let r: Response;
  try {
    r = await fetch(url);
  } catch (e) {
    throw new ProbeError('MODEL_LOAD_FAILED', `${what}: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!r.ok) throw new ProbeError('MODEL_LOAD_FAILED', `${what}: HTTP ${r.status}`);
  try {
    return (await r.json()) as unknown;
  } catch {
    throw new ProbeError('MODEL_LOAD_FAILED', `${what} is not valid JSON`);
  }
}

let assets: Promise<DefenseAssets> | null = null;

// After a GPU reset the engine disposes its models (the VAE and the GPDNN here are the engine's); the
// ensemble is this module's own: free it and load everything again on the next request.
onModelsDropped(() => {
  const old = assets;
  assets = null;
  old?.then((a) => a.ensemble.dispose(), () => undefined);
});

/** Loads (once) the VAE, the GPDNN, the ensemble and the two calibration files; `folderUrlOf(id)` ends with '/'. */
export function getDefenseAssets(folderUrlOf: (id: string) => string): Promise<DefenseAssets> {
  if (!assets) {
    assets = (async () => {
      const { vae: vaeId, gpdnn: gpId, ensemble: ensId } = DEFENSE_MODEL_IDS;
      const [magnetRaw, uncertaintyRaw] = await Promise.all([
        fetchJson(`${folderUrlOf(vaeId)}${MAGNET_FILE}`, `${vaeId}/${MAGNET_FILE}`),
        fetchJson(`${folderUrlOf(gpId)}${UNCERTAINTY_FILE}`, `${gpId}/${UNCERTAINTY_FILE}`),
      ]);
      const magnetFile = parseMagnetCalibrationFile(magnetRaw);
      const uncertaintyFile = parseUncertaintyCalibrationFile(uncertaintyRaw);
      const [vae, gpdnn, ensemble] = await Promise.all([
        // The VAE of Kos et al.'s attacks, shared (one copy in memory).
        getVaeContext(folderUrlOf).then((c) => c.models.vae),
        getModel(gpId, folderUrlOf),
        loadEnsemble(ensId, urlModelFiles(folderUrlOf(ensId))),
      ]);
      if (!isUncertain(gpdnn)) throw new ProbeError('MODEL_LOAD_FAILED', `${gpId} reports no predictive uncertainty`);
      return { vae, gpdnn, ensemble, magnetFile, uncertaintyFile };
    })();
    assets.catch(() => {
      assets = null;
    });
  }
  return assets;
}
