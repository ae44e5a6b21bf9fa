import type * as tf from '@tensorflow/tfjs';
import { ProbeError } from '../errors';

/** Norm of a fixed-ε budget or of a gradient step. */
export type Norm = 'inf' | 2;

/** Distance an attack bounds (fixed-ε) or minimises (minimization). */
export type DistanceName = 'l0' | 'l2' | 'linf';

/** One progress report of an iterative attack. */
export interface AttackProgress {
  /** Steps done so far and the planned total (an upper bound when the attack may stop early). */
  readonly done: number;
  readonly total: number;
  /** What the attack is doing, e.g. "binary search 3/9". */
  readonly phase?: string;
  /** Numbers worth showing live (e.g. CW: the constant c and the best L2 so far). */
  readonly info?: Readonly<Record<string, number>>;
}

/** Cancellation and progress for long attacks. Every iterative attack honours `signal` within one step. */
export interface StepControl {
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: AttackProgress) => void;
  /** Yield to the event loop at least this often (ms) so a cancel message can arrive; default 30. */
  readonly yieldEveryMs?: number;
}

const now = (): number => (typeof performance !== 'undefined' ? performance.now() : Date.now());

/** Resolves on the next macrotask (MessageChannel when there is one: no 1 ms setTimeout clamp). */
function nextTask(): Promise<void> {
  if (typeof MessageChannel !== 'undefined') {
    return new Promise((resolve) => {
      const ch = new MessageChannel();
      ch.port1.onmessage = () => {
        ch.port1.close();
        resolve();
      };
      ch.port2.postMessage(0);
    });
  }
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Throws CANCELLED when the signal is aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new ProbeError('CANCELLED', 'The attack was cancelled.');
}

/**
 * Per-step bookkeeping shared by the iterative attacks: call `await step(progress)` once per
 * iteration. It throws CANCELLED (a ProbeError) when the signal is aborted, reports progress,
 * and yields to the event loop every `yieldEveryMs` so that a cancel can arrive mid-attack.
 */
export function stepper(ctl: StepControl | undefined): (p: AttackProgress) => Promise<void> {
  let last = now();
  const every = ctl?.yieldEveryMs ?? 30;
  return async (p) => {
    throwIfAborted(ctl?.signal);
    ctl?.onProgress?.(p);
    if (now() - last >= every) {
      await nextTask();
      last = now();
      throwIfAborted(ctl?.signal);
    }
  };
}

/** Papernot et al.'s adversarial goals (taxonomy, fig. 1 of "The Limitations of Deep Learning in Adversarial Settings"). */
export type AdversarialGoal = 'confidence-reduction' | 'misclassification' | 'targeted-misclassification' | 'source-target-misclassification';
/** Papernot et al.'s adversarial capabilities, strongest first. */
export type AdversarialCapability = 'architecture-and-training-data' | 'architecture' | 'training-data' | 'oracle' | 'samples';

export interface ThreatModel {
  /** Goals this attack can pursue (untargeted → misclassification; targeted → source-target). */
  readonly goals: readonly AdversarialGoal[];
  /** What the adversary must know: all our white-box attacks need the architecture and weights (gradients). */
  readonly capability: AdversarialCapability;
}

/** A user-settable parameter, described once for the CLI, the popup and validation. */
export type ParamSpec =
  | { readonly key: string; readonly label: string; readonly type: 'number' | 'integer'; readonly default: number;
      readonly min: number; readonly max: number; readonly step?: number; readonly help: string }
  | { readonly key: string; readonly label: string; readonly type: 'boolean'; readonly default: boolean; readonly help: string }
  | { readonly key: string; readonly label: string; readonly type: 'choice'; readonly default: string;
      readonly choices: readonly string[]; readonly help: string };

export type ParamValue = number | boolean | string;
export type ParamValues = Readonly<Record<string, ParamValue>>;

/** One entry of an attack's trace (e.g. CW's binary search: one entry per constant tried). */
export interface TraceEntry {
  readonly step: number;
  readonly info: Readonly<Record<string, number>>;
}

/** What a registered attack returns: the adversarial batch (caller disposes) and an optional trace. */
export interface AttackRun {
  readonly adv: tf.Tensor4D;
  readonly trace?: readonly TraceEntry[];
}
