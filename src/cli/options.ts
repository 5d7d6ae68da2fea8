/**
 * Validating option parsers for commander: numbers are checked where they enter, with errors that
 * name the flag (commander prints them as "error: option '--limit <n>' argument 'abc' is invalid").
 */
import { InvalidArgumentError } from 'commander';

/** An integer option >= `min` (default 1); rejects '1.5', 'abc', '-5', '1e3'. */
export function intOption(min = 1, max = Number.MAX_SAFE_INTEGER): (v: string) => number {
  return (v) => {
    if (!/^-?\d+$/.test(v.trim())) throw new InvalidArgumentError(`expected an integer, got "${v}"`);
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`expected an integer in [${min}, ${max}], got ${v}`);
    return n;
  };
}

/** One of `choices`. */
export function choiceOption<C extends string>(choices: readonly C[]): (v: string) => C {
  return (v) => {
    if (!(choices as readonly string[]).includes(v))
      throw new InvalidArgumentError(`expected one of ${choices.join(', ')}, got "${v}"`);
    return v as C;
  };
}
