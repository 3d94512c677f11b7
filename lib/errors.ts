/**
 * The coded errors every layer raises (`err.code`), the native addon's and TypeScript's alike.
 * No dependency: text/ and data/ import it without loading LibTorch.
 */
/** Error codes carried by every error the native layer raises (`err.code`). */
export type XtErrorCode =
  | 'XT_SHAPE'
  | 'XT_IO'
  | 'XT_OOM'
  | 'XT_INVALID'
  | 'XT_DISPOSED'
  | 'XT_CUDA'
  | 'XT_INTERNAL'
  | 'XT_LOAD'
  | 'XT_NONFINITE';

export interface XtError extends Error {
  code: XtErrorCode;
}

export function isXtError(e: unknown): e is XtError {
  const code = (e as { code?: unknown } | null)?.code;
  return e instanceof Error && typeof code === 'string' && code.startsWith('XT_');
}

/** Make a coded error from TypeScript (same shape as the native ones). */
export function xtError(code: XtErrorCode, message: string): XtError {
  const e = new Error(message) as XtError;
  e.code = code;
  return e;
}
