import { AirlockError, type ErrorCode } from './errors.js';

/*
 * What tests of refusals share: the stable code a call is refused with, so
 * that a table of cases or a run of expectations reads as codes.
 */

/** Runs `fn`: 'accepted' if it returns, else the code of the AirlockError it throws; any other throw goes on. */
export function codeOf(fn: () => unknown): ErrorCode | 'accepted' {
  try {
    fn();
    return 'accepted';
  } catch (error) {
    if (error instanceof AirlockError) return error.code;
    throw error;
  }
}
