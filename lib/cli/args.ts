// Command-line parsing shared by every command: a usage error names the flag at fault and makes
// the command exit with code 2.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ValidationError } from '../core/errors';

/** A bad command line; `field` is the flag. */
export class UsageError extends ValidationError {}

/** An integer flag; underscores and exponents read well (--events 1_000_000, --events 1e6). */
export function integerFlag(flag: string, value: string | undefined, min = 0, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value.replaceAll('_', ''));
  if (value.trim() === '' || !Number.isSafeInteger(n) || n < min || n > max) {
    const range = min === 0 && max === Number.MAX_SAFE_INTEGER ? 'a non-negative integer' : `an integer from ${min} to ${max}`;
    throw new UsageError(`${flag} must be ${range} (got "${value}")`, flag);
  }
  return n;
}

export function numberFlag(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new UsageError(`${flag} must be a number (got "${value}")`, flag);
  return n;
}

/** parseArgs' own messages are long and generic; say which flag is wrong, briefly. */
export function usageErrorFrom(error: unknown): UsageError | undefined {
  if (!(error instanceof Error) || !('code' in error) || typeof error.code !== 'string' || !error.code.startsWith('ERR_PARSE_ARGS_')) {
    return undefined;
  }
  const flag = /(--[\w-]+)/.exec(error.message)?.[1] ?? /'([^']+)'/.exec(error.message)?.[1] ?? '(arguments)';
  switch (error.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return new UsageError(`unknown flag ${flag}`, flag);
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return new UsageError(/does not take an argument/.test(error.message) ? `${flag} takes no value` : `${flag} needs a value`, flag);
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return new UsageError(`unexpected argument "${flag}" (every option is a --flag)`, flag);
    default:
      return new UsageError(error.message, flag);
  }
}

/** Every command's flags: strict, no positionals, and a usage error that names the flag. */
export function parseFlags<const O extends NonNullable<ParseArgsConfig['options']>>(argv: readonly string[], options: O) {
  try {
    return parseArgs({ args: [...argv], strict: true, allowPositionals: false, options }).values;
  } catch (error) {
    throw usageErrorFrom(error) ?? error;
  }
}
