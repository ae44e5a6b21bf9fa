import type { AttackChoice, ModelInfo, ProbeState } from '../protocol/types';

/** Everything the popup needs from the rest of the extension. The UI talks only to this. */
export interface Connector {
  getState(): Promise<ProbeState>;
  /** Run an attack on the current image (with `modelId`, which may differ from the current model). */
  runAttack(choice: AttackChoice & { readonly modelId: string }): Promise<ProbeState>;
  /** Cancel the running attack (the previous result stays). */
  cancel(): Promise<ProbeState>;
  listModels(): Promise<ModelInfo[]>;
}
