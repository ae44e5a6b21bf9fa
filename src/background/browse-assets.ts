/**
 * The GPDNN and its calibrated threshold for browse-mode badges, loaded once per service-worker life from the
 * extension's own models/ folder (only these two files: badges do not need MagNet's VAE or the ensemble).
 * A failed load is not cached.
 */
import { parseUncertaintyCalibrationFile, uncertaintyCalibrationOf, UNCERTAINTY_FILE } from '../core/defenses/calibration';
import { isUncertain } from '../core/defenses/uncertainty';
import { ProbeError } from '../core/errors';
import type { Classifier } from '../core/models/types';
import type { BadgeGp } from './browse';
import { onModelsDropped } from './engine';

/** The shipped GPDNN the badges ask for the unsure flag. */
export const BADGE_GP_ID = 'mnist-gpdnn';

let loading: Promise<BadgeGp> | null = null;

// The GPDNN is the engine's (disposed after a GPU reset): ask for it again next time.
onModelsDropped(() => {
  loading = null;
});

/** Loads (once) mnist-gpdnn and models/mnist-gpdnn/uncertainty.json; `folderUrlOf(id)` ends with '/'. */
export function getBadgeGp(folderUrlOf: (id: string) => string, model: (id: string) => Promise<Classifier>): Promise<BadgeGp> {
  if (!loading) {
    loading = (async () => {
      const url = `${folderUrlOf(BADGE_GP_ID)}${UNCERTAINTY_FILE}`;
      let raw: unknown;
      try {
        const r = await fetch(url);
        if (!r.ok) throw new Error(`HTTP ${r.status}`);
        raw = (await r.json()) as unknown;
      } catch (e) {
        throw new ProbeError('MODEL_LOAD_FAILED', `${BADGE_GP_ID}/${UNCERTAINTY_FILE}: ${e instanceof Error ? e.message : String(e)}`);
      }
      const calibration = uncertaintyCalibrationOf(parseUncertaintyCalibrationFile(raw));
      const gp = await model(BADGE_GP_ID);
      if (!isUncertain(gp)) throw new ProbeError('MODEL_LOAD_FAILED', `${BADGE_GP_ID} reports no predictive uncertainty`);
      return { model: gp, calibration };
    })();
    loading.catch(() => {
      loading = null;
    });
  }
  return loading;
}
