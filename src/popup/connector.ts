import type { UserModelSource } from '../core/lab/user-source';
import type { StoredModelFile } from '../protocol/model-files';
import type { BackendName, BackendView, BrowseSite, FullExportView, SaliencyView, UserModelView } from '../protocol/types';
import type { AdvTrainingView, AttackChoice, DefenseReportView, ExportView, LabProgress, ModelInfo, ProbeState, SweepView, TransferView } from '../protocol/types';

/** Everything the popup needs from the rest of the extension. The UI talks only to this. */
export interface Connector {
  getState(): Promise<ProbeState>;
  /** Run an attack on the current image (with `modelId`, which may differ from the current model). */
  runAttack(choice: AttackChoice & { readonly modelId: string }): Promise<ProbeState>;
  /** Cancel the running attack (the previous result stays). */
  cancel(): Promise<ProbeState>;
  listModels(): Promise<ModelInfo[]>;
  /** Probe the tab's last right-clicked image again (after the user allowed the extension on its site). Optional with requestAccess: without both, no grant button. */
  retry?(): Promise<ProbeState>;
  /**
   * Ask the user to allow the extension on these host patterns (the browser's own prompt). Must be called from a
   * click handler before anything else is awaited (the browser requires the user's gesture). Resolves to whether
   * they are allowed now.
   */
  requestAccess?(origins: readonly string[]): Promise<boolean>;
  /** The host patterns the user has allowed. Optional with removeAccess: without both, no "Sites allowed" list. */
  listAccess?(): Promise<string[]>;
  /** Withdraw allowed host patterns (as the browser's extension settings do). Resolves to whether they were removed. */
  removeAccess?(origins: readonly string[]): Promise<boolean>;
  /** Browse mode: are badges on for the current tab's site? (Optional: a connector without tabs may leave both out.) */
  getBrowseSite?(): Promise<BrowseSite>;
  /** Browse mode: switch badges on or off for the current tab's site. */
  setBrowseSite?(enabled: boolean): Promise<BrowseSite>;
  /** The compute backend in use and why the others are not. Optional with setBackend: without both, no backend setting. */
  getBackend?(): Promise<BackendView>;
  /** Run later jobs on `backend` (null: chosen by measurement); rejects with BACKEND_FAILED where it does not work. */
  setBackend?(backend: BackendName | null): Promise<BackendView>;
}

/** The lab computations on the current probe (defenses, ε-sweep, transfer), one at a time per tab. */
export interface LabConnector {
  /** MagNet, GPDNN uncertainty and the ensemble vote on the current image and its adversarial. */
  defend(): Promise<DefenseReportView>;
  /** The current model's logits along the FGSM direction, ε from −maxEps to +maxEps (odd `points`). */
  sweep(req: { readonly maxEps: number; readonly points: number }): Promise<SweepView>;
  /** The current adversarial fed to every shipped MNIST classifier. */
  transfer(): Promise<TransferView>;
  /** Progress of the running lab computation. */
  labProgress(): Promise<LabProgress>;
  /** Cancel the running lab computation (its request fails with CANCELLED). */
  cancelLab(): Promise<LabProgress>;
  /** The current adversarial as an 8-bit PNG at model resolution, re-classified (which rounding held). */
  exportAdversarial(): Promise<ExportView>;
  /** The current image and attack against mnist-maxout vs mnist-maxout-adv (and mnist-lr-3v7 vs -adv). */
  adversarialTraining(): Promise<AdvTrainingView>;
  /** Load a user model (URL + description, or MobileNet v2 after consent) and run the current image and attack on it. */
  userModel(source: UserModelSource): Promise<UserModelView>;
  /** Keeps model files the user picked where the background can read them (the extension's IndexedDB); resolves to the key a 'files' source names. */
  storeModelFiles(files: StoredModelFile[]): Promise<string>;
  /** The last run on that user model exported at the page image's full resolution (photo models), re-classified. */
  userExport(source: UserModelSource): Promise<FullExportView>;
  /** JSMA's saliency map S(X, target) of the current image (θ = +1, logits) and A(X, t) toward every other class. */
  saliency(req: { readonly target: number }): Promise<SaliencyView>;
}
