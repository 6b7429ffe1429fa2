/** A mistake in how the command was called: reported with a pointer to --help, exit status 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface Range {
  min?: number;
  max?: number;
}

/**
 * A yargs `coerce` for a count or size: accepts only whole numbers within the range, and names the
 * option as the user typed it. The option is declared as a string so that the text typed reaches us
 * (yargs would turn `abc` into NaN before we saw it).
 */
export function wholeNumber(flag: string, { min = 0, max = Number.MAX_SAFE_INTEGER }: Range = {}) {
  return (value: unknown): number => {
    if (Array.isArray(value)) throw new UsageError(`--${flag} was given ${value.length} times; give it once`);
    const text = String(value).trim();
    const n = /^-?\d+$/.test(text) ? Number(text) : Number.NaN;
    if (Number.isNaN(n)) {
      const why = /^-?\d*\.\d+$/.test(text) ? 'a whole number, not a fraction' : 'a whole number';
      throw new UsageError(`--${flag} must be ${why} (got "${text}")`);
    }
    if (n < min || n > max) throw new UsageError(`--${flag} must be between ${min} and ${max} (got ${text})`);
    return n;
  };
}

/** A yargs `coerce` for a comma-separated list, each item read by `item`; empty items are ignored, so "" is none. */
export function listOf<T>(flag: string, item: (text: string) => T) {
  return (value: unknown): T[] => {
    if (Array.isArray(value)) throw new UsageError(`--${flag} was given ${value.length} times; give it once`);
    return String(value)
      .split(',')
      .map((text) => text.trim())
      .filter((text) => text !== '')
      .map(item);
  };
}

/** A yargs `coerce` for a comma-separated list of whole numbers (see listOf). */
export const wholeNumbers = (flag: string, range: Range = {}) => listOf(flag, wholeNumber(flag, range));

/** A yargs option spec for a whole-number option, validated by {@link wholeNumber}. */
export function countOption(flag: string, describe: string, range?: Range): { type: 'string'; requiresArg: true; describe: string; coerce: (v: unknown) => number };
export function countOption(
  flag: string,
  describe: string,
  range: Range,
  defaultValue: number,
): { type: 'string'; requiresArg: true; describe: string; coerce: (v: unknown) => number; default: string };
export function countOption(flag: string, describe: string, range: Range = {}, defaultValue?: number) {
  const spec = { type: 'string', requiresArg: true, describe, coerce: wholeNumber(flag, range) } as const;
  return defaultValue === undefined ? spec : { ...spec, default: String(defaultValue) };
}

/** A yargs `coerce` for a calendar date written YYYY-MM-DD. */
export function isoDate(flag: string) {
  return (value: unknown): string => {
    const text = String(value);
    const date = new Date(`${text}T00:00:00Z`);
    if (!/^\d{4}-\d{2}-\d{2}$/.test(text) || Number.isNaN(date.getTime()) || date.toISOString().slice(0, 10) !== text) {
      throw new UsageError(`--${flag} must be a date written YYYY-MM-DD (got "${text}")`);
    }
    return text;
  };
}

/** Whether yargs itself reported the problem (unknown option, missing argument, a failed coerce). */
export function isUsageError(error: unknown): boolean {
  return error instanceof UsageError || (error instanceof Error && error.name === 'YError');
}
