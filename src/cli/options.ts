/**
 * Validating option parsers for commander: numbers are checked where they enter, with errors that
 * name the flag (commander prints them as "error: option '--limit <n>' argument 'abc' is invalid").
 */
import { InvalidArgumentError } from 'commander';

/** An integer option in [min, max] (default min 1), named in its error; rejects '1.5', 'abc', '-5', '1e3'. */
export function intOption(flag: string, min = 1, max = Number.MAX_SAFE_INTEGER): (v: string) => number {
  const kind = min === 1 ? 'a positive integer' : min === 0 ? 'a non-negative integer' : `an integer >= ${min}`;
  return (v) => {
    const n = Number(v);
    if (!/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(
        `${flag} must be ${kind}${max < Number.MAX_SAFE_INTEGER ? ` up to ${max}` : ''}, got "${v}"`,
      );
    }
    return n;
  };
}

/** One of `choices`, named in its error. */
export function choiceOption<C extends string>(flag: string, choices: readonly C[]): (v: string) => C {
  return (v) => {
    if (!(choices as readonly string[]).includes(v))
      throw new InvalidArgumentError(`${flag} must be one of ${choices.join(', ')}, got "${v}"`);
    return v as C;
  };
}

/** A finite number option, named in its error; rejects 'abc', '', 'Infinity'. */
export function floatOption(flag: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`${flag} must be a number, got "${v}"`);
    return n;
  };
}

/** A finite number that passes `ok`, named in its error as `${flag} must be ${what}`. */
export function rangedFloatOption(flag: string, ok: (n: number) => boolean, what: string): (v: string) => number {
  const parse = floatOption(flag);
  return (v) => {
    const n = parse(v);
    if (!ok(n)) throw new InvalidArgumentError(`${flag} must be ${what}, got "${v}"`);
    return n;
  };
}
