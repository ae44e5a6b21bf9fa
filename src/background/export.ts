/**
 * The 'probe/export' computation: the tab's adversarial rounded to 8 bits by quantizeAdversarial
 * (src/core/lab/export.ts) and encoded as PNG at model resolution; the exported bytes are
 * re-classified and the view says which rounding held. The popup turns the bytes into a Blob URL.
 */
import { exportAdversarial } from '../core/lab/export';
import type { Classifier } from '../core/models/types';
import { bytesToBase64 } from '../protocol/base64';
import type { ExportView, ProbeResult } from '../protocol/types';

/** Exports `result`'s adversarial (input: its full-precision clean input) with `model`, the model it was crafted on. */
export async function buildExportView(model: Classifier, result: ProbeResult, input: Float32Array, backend: string): Promise<ExportView> {
  const t0 = performance.now();
  const ex = await exportAdversarial(model, input, Float32Array.from(result.attack.adversarial.pixels), result.attack.choice, result.prediction.label);
  const q = ex.quantized;
  return {
    resultId: result.id,
    modelId: result.modelId,
    attack: result.attack.choice.attack,
    width: ex.width,
    height: ex.height,
    channels: ex.channels,
    pngBase64: bytesToBase64(ex.png),
    method: q.method,
    steps: q.steps,
    goal: { label: ex.goal.label, targeted: ex.goal.targeted },
    maxLinf: ex.maxLinf,
    success: q.success,
    predicted: q.predicted,
    predictedClass: model.classNames[q.predicted] ?? String(q.predicted),
    confidence: q.confidence,
    linf: q.linf,
    l2: q.l2,
    backend,
    ms: performance.now() - t0,
  };
}
