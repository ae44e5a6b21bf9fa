/**
 * The JSON report of a whole probe, built in the popup from what it shows: the source, the model and
 * its preprocessing, the prediction, the attack with every parameter, the adversarial's prediction and
 * distortions, and, where they were run, the 8-bit export check and the defenses. Pure data, no DOM.
 */
import type { DefenseReportView, ExportView, ProbeResult } from '../protocol/types';

export const REPORT_VERSION = 1;

/** What the export section of the report holds (the PNG itself is a separate file). */
export type ReportExport = Omit<ExportView, 'pngBase64'>;

export interface ProbeReport {
  readonly kind: 'adversarial-probe-report';
  readonly version: typeof REPORT_VERSION;
  readonly generatedAt: string;
  readonly source: ProbeResult['source'];
  readonly model: { readonly id: string; readonly classNames: readonly string[]; readonly backend: string; readonly preprocess: ProbeResult['preprocess'] };
  readonly prediction: { readonly label: number; readonly className: string; readonly confidence: number; readonly probs: readonly number[] };
  readonly attack: {
    readonly id: string;
    readonly params: ProbeResult['attack']['choice']['params'];
    readonly target: number | null;
    readonly success: boolean;
    readonly prediction: { readonly label: number; readonly className: string; readonly confidence: number; readonly probs: readonly number[] };
    readonly distances: ProbeResult['attack']['distances'];
    readonly ms: number;
    readonly trace: ProbeResult['attack']['trace'];
  };
  readonly images: { readonly width: number; readonly height: number; readonly input: readonly number[]; readonly adversarial: readonly number[] };
  readonly export: ReportExport | null;
  readonly defenses: DefenseReportView | null;
}

/** The report of `result`; `exported` and `defenses` only when they belong to this result. */
export function probeReport(result: ProbeResult, extra: { readonly exported?: ExportView | null; readonly defenses?: DefenseReportView | null; readonly now?: Date } = {}): ProbeReport {
  const ex = extra.exported && extra.exported.resultId === result.id ? extra.exported : null;
  const def = extra.defenses && extra.defenses.resultId === result.id ? extra.defenses : null;
  const a = result.attack;
  let exportPart: ReportExport | null = null;
  if (ex) {
    const { pngBase64: _png, ...rest } = ex;
    exportPart = rest;
  }
  return {
    kind: 'adversarial-probe-report',
    version: REPORT_VERSION,
    generatedAt: (extra.now ?? new Date()).toISOString(),
    source: result.source,
    model: { id: result.modelId, classNames: result.classNames, backend: result.backend, preprocess: result.preprocess },
    prediction: { label: result.prediction.label, className: result.prediction.className, confidence: result.prediction.probs[result.prediction.label], probs: result.prediction.probs },
    attack: {
      id: a.choice.attack, params: a.choice.params, target: a.choice.target, success: a.success,
      prediction: { label: a.prediction.label, className: a.prediction.className, confidence: a.prediction.probs[a.prediction.label], probs: a.prediction.probs },
      distances: a.distances, ms: a.ms, trace: a.trace,
    },
    images: { width: result.input.width, height: result.input.height, input: result.input.pixels, adversarial: a.adversarial.pixels },
    export: exportPart,
    defenses: def,
  };
}

/** A file name part from an id: lower-case letters, digits and dashes. */
export function fileSafe(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40) || 'probe';
}
