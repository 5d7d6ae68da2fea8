/**
 * Python semantics that the paper's scoring scripts depend on, for the `paper` scorers:
 * `repr(float)` / `str(float)` (what the scripts write into their result files), `csv.reader`
 * with a tab delimiter (how the TSV tasks read their data), indexing a `str.split` result
 * (IndexError when the marker is missing), `jsonlines.Reader`, and the closing lines shared by
 * the NLI, CDQA and SA scripts.
 */
import { pyStrip } from './metrics/py-text.js';
import { ScriptCrash } from './tasks/types.js';

/**
 * Python's `repr(x)` (= `str(x)` since 3.2) of a float: the shortest round-trip digits, in
 * fixed notation when the decimal exponent is in [-4, 16), else `d.ddde±XX` (at least two exponent
 * digits); integral values keep a `.0`; `nan`, `inf`, `-inf`, `-0.0`.
 *
 * @example
 * ```ts
 * pyFloatRepr(7 / 13); // '0.5384615384615384'
 * pyFloatRepr(0);      // '0.0'
 * pyFloatRepr(1e-5);   // '1e-05'
 * pyFloatRepr(1e16);   // '1e+16'
 * ```
 */
export function pyFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const sign = x < 0 ? '-' : '';
  // toExponential() without an argument gives the shortest digits that round-trip, as repr does.
  const m = /^(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(Math.abs(x).toExponential());
  if (!m) throw new Error(`pyFloatRepr: unexpected form ${Math.abs(x).toExponential()}`);
  const digits = m[1]! + (m[2] ?? '');
  const exp = Number(m[3]);
  if (exp < -4 || exp >= 16) {
    const mant = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const e = Math.abs(exp).toString().padStart(2, '0');
    return `${sign}${mant}e${exp < 0 ? '-' : '+'}${e}`;
  }
  let body: string;
  if (exp < 0) body = `0.${'0'.repeat(-exp - 1)}${digits}`;
  else if (digits.length <= exp + 1) body = `${digits}${'0'.repeat(exp + 1 - digits.length)}.0`;
  else body = `${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
  return sign + body;
}

/** Python's `repr` of a str (enough for error messages: single quotes unless the text has one). */
export function pyStrRepr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '\\') out += '\\\\';
    else if (ch === quote) out += `\\${quote}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return quote + out + quote;
}

/**
 * `s.split(marker)[index]` as the scripts write it (index may be negative, as in `[-1]`); a
 * missing element raises Python's IndexError, reported as a {@link ScriptCrash} whose `predict` is
 * the text being split (the script had not assigned one yet).
 */
export function pySplitAt(s: string, marker: string, index: number): string {
  const parts = s.split(marker);
  const i = index < 0 ? parts.length + index : index;
  const part = parts[i];
  if (part === undefined) throw new ScriptCrash('IndexError: list index out of range', s);
  return part;
}

/**
 * Python's `int(s)` for a label string: optional surrounding whitespace, sign, decimal digits
 * with single underscores between them. Anything else raises ValueError (a ScriptCrash whose
 * `predict` is the given one).
 */
export function pyInt(s: string, predict: string): number {
  const m = /^([+-]?)(\d+(?:_\d+)*)$/.exec(pyStrip(s));
  if (!m) throw new ScriptCrash(`ValueError: invalid literal for int() with base 10: ${pyStrRepr(s)}`, predict);
  const v = Number(m[2]!.replaceAll('_', ''));
  return m[1] === '-' ? -v : v;
}

/** Python's default csv field size limit (`csv.field_size_limit()`). */
const CSV_FIELD_LIMIT = 131072;

/**
 * Python's `csv.reader(open(path), delimiter='\t')` over a file's text: the file is opened in
 * universal-newline mode (`\r\n` and `\r` read as `\n`), then the default dialect applies
 * (quotechar `"`, doublequote, not strict). A field that *starts* with `"` is quoted: the quotes
 * go, `""` is one `"`, a newline inside quotes belongs to the field (the record goes on over the
 * next line), and text after the closing quote is appended literally. Returns the records with
 * the 1-based line each starts on. An empty line is an empty record, as in Python.
 */
export function pyCsvReader(content: string, delimiter = '\t', file = '<csv>'): { fields: string[]; line: number }[] {
  const text = content.replace(/\r\n?/g, '\n');
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop(); // the text after the last '\n' is no line
  type State = 'START_RECORD' | 'START_FIELD' | 'IN_FIELD' | 'IN_QUOTED_FIELD' | 'QUOTE_IN_QUOTED_FIELD' | 'EAT_CRNL';
  const records: { fields: string[]; line: number }[] = [];
  let state: State = 'START_RECORD';
  let fields: string[] = [];
  let field = '';
  let startLine = 0;
  const save = (): void => {
    fields.push(field);
    field = '';
  };
  const add = (c: string, lineNo: number): void => {
    if (field.length >= CSV_FIELD_LIMIT) {
      throw new Error(`${file}: line ${lineNo}: field larger than field limit (${CSV_FIELD_LIMIT}) (Python's csv.Error)`);
    }
    field += c;
  };
  const EOL = null;
  const step = (c: string | null, lineNo: number): void => {
    if (state === 'START_RECORD') {
      if (c === EOL) return; // empty line: the record is []
      if (c === '\n' || c === '\r') {
        state = 'EAT_CRNL';
        return;
      }
      state = 'START_FIELD'; // and handle c as the start of a field
    }
    switch (state) {
      case 'START_FIELD':
        if (c === '\n' || c === '\r' || c === EOL) {
          save();
          state = c === EOL ? 'START_RECORD' : 'EAT_CRNL';
        } else if (c === '"') state = 'IN_QUOTED_FIELD';
        else if (c === delimiter) save();
        else {
          add(c, lineNo);
          state = 'IN_FIELD';
        }
        return;
      case 'IN_FIELD':
        if (c === '\n' || c === '\r' || c === EOL) {
          save();
          state = c === EOL ? 'START_RECORD' : 'EAT_CRNL';
        } else if (c === delimiter) {
          save();
          state = 'START_FIELD';
        } else add(c, lineNo);
        return;
      case 'IN_QUOTED_FIELD':
        if (c === EOL) return;
        if (c === '"') state = 'QUOTE_IN_QUOTED_FIELD';
        else add(c, lineNo);
        return;
      case 'QUOTE_IN_QUOTED_FIELD':
        if (c === '"') {
          add(c, lineNo);
          state = 'IN_QUOTED_FIELD';
        } else if (c === delimiter) {
          save();
          state = 'START_FIELD';
        } else if (c === '\n' || c === '\r' || c === EOL) {
          save();
          state = c === EOL ? 'START_RECORD' : 'EAT_CRNL';
        } else {
          add(c, lineNo);
          state = 'IN_FIELD';
        }
        return;
      case 'EAT_CRNL':
        if (c === '\n' || c === '\r') return;
        if (c === EOL) {
          state = 'START_RECORD';
          return;
        }
        throw new Error(`${file}: line ${lineNo}: new-line character seen in unquoted field (Python's csv.Error)`);
    }
  };
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    if (state === 'START_RECORD') {
      startLine = lineNo;
      fields = [];
      field = '';
    }
    // each line as Python's file iterator yields it: with its '\n', except possibly the last
    const line = i < lines.length - 1 || text.endsWith('\n') ? `${lines[i]!}\n` : lines[i]!;
    for (const c of line) step(c, lineNo);
    step(EOL, lineNo);
    if (state === 'START_RECORD') records.push({ fields, line: startLine });
  }
  // end of input inside a record: Python saves the pending field and returns the record
  // (after the last line's EOL only IN_QUOTED_FIELD can be left; Python drops anything else)
  if (state !== 'START_RECORD' && (field.length !== 0 || state === 'IN_QUOTED_FIELD')) {
    save();
    records.push({ fields, line: startLine });
  }
  return records;
}

/**
 * `jsonlines.Reader(f)` over a file's text: one JSON value per line; an empty or invalid line is
 * an error (naming the file and line), the text after the last newline is no line.
 */
export function parseJsonLines(content: string, file: string): { value: unknown; line: number }[] {
  const lines = content.replace(/\r\n?/g, '\n').split('\n'); // universal newlines, as Python reads it
  if (lines[lines.length - 1] === '') lines.pop();
  return lines.map((text, i) => {
    try {
      return { value: JSON.parse(text) as unknown, line: i + 1 };
    } catch (e) {
      const why = text.trim() === '' ? 'empty line' : (e as Error).message;
      throw new Error(`${file}: line ${i + 1}: not valid JSON (${why})`);
    }
  });
}

/** The record's object, or an error naming `where` (`file: line 3`, `file: record 2`). */
export function jsonObject(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`${where}: expected a JSON object`);
  }
  return value as Record<string, unknown>;
}

/** A required string field, or an error naming `where` and the field. */
export function stringField(rec: Record<string, unknown>, key: string, where: string): string {
  const v = rec[key];
  if (v === undefined) throw new Error(`${where}: missing field "${key}"`);
  if (typeof v !== 'string') throw new Error(`${where}: field "${key}" must be a string, got ${JSON.stringify(v)}`);
  return v;
}

/**
 * Python's `round(x, ndigits)` for a float: the exact binary value rounded half-even to `ndigits`
 * decimals, then read back as the nearest double.
 */
export function pyRound(x: number, ndigits: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const neg = x < 0;
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, Math.abs(x));
  const bits = view.getBigUint64(0);
  const bexp = Number(bits >> 52n);
  let mant = bits & ((1n << 52n) - 1n);
  let exp = -1074;
  if (bexp !== 0) {
    mant |= 1n << 52n;
    exp = bexp - 1075;
  }
  // |x| · 10^ndigits = mant · 10^ndigits · 2^exp, rounded half-even to an integer q
  let num = mant * 10n ** BigInt(ndigits);
  let den = 1n;
  if (exp >= 0) num <<= BigInt(exp);
  else den <<= BigInt(-exp);
  let q = num / den;
  const twice = 2n * (num - q * den);
  if (twice > den || (twice === den && (q & 1n) === 1n)) q += 1n;
  const digits = q.toString().padStart(ndigits + 1, '0');
  const text = `${digits.slice(0, digits.length - ndigits)}.${digits.slice(digits.length - ndigits)}`;
  const r = Number(text);
  return neg ? -r : r;
}

/** numpy's `round(np.float64(x), ndigits)`: x · 10^d, rounded half-even (rint), / 10^d, in floats. */
export function numpyRound(x: number, ndigits: number): number {
  const f = 10 ** ndigits;
  const y = x * f;
  if (!Number.isFinite(y) || Math.abs(y) >= 2 ** 52) return y / f;
  const fl = Math.floor(y);
  const d = y - fl;
  const r = d > 0.5 ? fl + 1 : d < 0.5 ? fl : fl % 2 === 0 ? fl : fl + 1;
  return r / f;
}
