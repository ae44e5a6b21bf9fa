/**
 * Stable error codes. They appear in the popup (`data-testid="error"` carries the code),
 * in CLI JSON and in tests; never rename one, only add.
 */
export const ERROR_CODES = [
  'NO_IMAGE',
  'IMAGE_BROKEN',
  'CROSS_ORIGIN_BLOCKED',
  'FETCH_FAILED',
  'NOT_AN_IMAGE',
  'DECODE_FAILED',
  'IMAGE_TOO_LARGE',
  'BLANK_IMAGE',
  'UNSUPPORTED_PAGE',
  'MODEL_NOT_FOUND',
  'MODEL_LOAD_FAILED',
  'BACKEND_FAILED',
  'BAD_INPUT',
  'BAD_MESSAGE',
  'FORBIDDEN_SENDER',
  'NO_RESULT',
  'CANCELLED',
  'TIMEOUT',
  'INTERNAL',
  /** The GPU device was lost mid-job (WebGPU device loss); the next jobs run on the fallback backend. */
  'GPU_RESET',
  /** The extension has not been allowed to read this site or image host (least privilege); the popup offers the grant. */
  'NO_ACCESS',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ErrorInfo {
  readonly code: ErrorCode;
  readonly message: string;
}

/** An error with a stable code and a sentence a person can read. */
export class ProbeError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'ProbeError';
    this.code = code;
  }
  toInfo(): ErrorInfo {
    return { code: this.code, message: this.message };
  }
}

export function isErrorCode(v: unknown): v is ErrorCode {
  return typeof v === 'string' && (ERROR_CODES as readonly string[]).includes(v);
}

/** Any thrown value as an ErrorInfo; unknown errors become INTERNAL with their message. */
export function toErrorInfo(e: unknown, fallback: ErrorCode = 'INTERNAL'): ErrorInfo {
  if (e instanceof ProbeError) return e.toInfo();
  const message = e instanceof Error ? e.message : String(e);
  return { code: fallback, message: message || 'Unknown error' };
}
