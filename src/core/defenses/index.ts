/** Defenses and uncertainty (issue 6): MagNet, GPDNN uncertainty, ensemble vote, threshold calibration. Pure core. */
export { calibrateThreshold, flagAbove, rate, binomialTails, binomialConsistent } from './threshold';
export type { Threshold } from './threshold';
export { magnet, reconstruct, reconstructionError, checkMagnetCalibration, RECONSTRUCTION_METRICS } from './magnet';
export type { Magnet, MagnetCalibration, MagnetResult, ReconstructionMetric } from './magnet';
export { gpUncertainty, softmaxUncertainty, predictiveEntropy, softmaxEntropy, isUncertain } from './uncertainty';
export type { UncertaintyCalibration, UncertaintyResult } from './uncertainty';
export { ensembleFromLayersModel, ensembleVote, loadEnsemble, tallyVotes } from './ensemble';
export type { Ensemble, EnsembleVote } from './ensemble';
export {
  MAGNET_FILE, UNCERTAINTY_FILE, parseMagnetCalibrationFile, parseUncertaintyCalibrationFile, magnetCalibrationOf, uncertaintyCalibrationOf,
} from './calibration';
export type { CalibrationFileBase, CalibrationSplit, CleanTestCheck, MagnetCalibrationFile, MeasuredRates, UncertaintyCalibrationFile } from './calibration';
export { evaluateDefenses } from './evaluate';
export type { ConditionReport, DefenseAttack, DefenseEvalOptions, DefenseReport, DefenseSuite } from './evaluate';
