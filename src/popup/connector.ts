import type { FgsmParams, ModelInfo, ProbeState } from '../protocol/types';

/** Everything the popup needs from the rest of the extension. The UI talks only to this. */
export interface Connector {
  getState(): Promise<ProbeState>;
  runFgsm(params: FgsmParams & { modelId: string }): Promise<ProbeState>;
  listModels(): Promise<ModelInfo[]>;
}
