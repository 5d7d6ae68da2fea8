/**
 * results.jsonl: append-only, one ResultLine per line, each appended with one write. A process
 * killed mid-write leaves at most one partial last line: `openResults` detects it (no final
 * newline, or a line that does not parse), cuts it off, and reports it, so resuming never
 * duplicates or loses a line.
 */
import { appendFileSync, existsSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { keyString, RESULT_KINDS, type ResultKey, type ResultLine } from './types.js';

export class ResultsFile {
  private readonly done = new Map<string, ResultLine>();

  private constructor(
    readonly path: string,
    lines: ResultLine[],
    /** text of a partial last line that was cut off, if any */
    readonly droppedTail: string | null,
  ) {
    for (const l of lines) this.done.set(keyString(l.key), l);
  }

  /** Open (creating if absent) and repair: a partial last line is cut off. */
  static open(path: string): ResultsFile {
    if (!existsSync(path)) writeFileSync(path, '');
    const { lines, validBytes, tail } = readResultLines(path);
    if (tail !== null) truncateSync(path, validBytes);
    return new ResultsFile(path, lines, tail);
  }

  has(key: ResultKey): boolean {
    return this.done.has(keyString(key));
  }

  get(key: ResultKey): ResultLine | undefined {
    return this.done.get(keyString(key));
  }

  /** Every line so far, in file order. */
  lines(): ResultLine[] {
    return [...this.done.values()];
  }

  /**
   * Append a line unless its key is already there (a resumed run recomputes what a killed one
   * measured; the first value stands). `beforeWrite` lets tests interrupt a write halfway.
   */
  append(line: ResultLine, beforeWrite?: (text: string) => void): boolean {
    const k = keyString(line.key);
    if (this.done.has(k)) return false;
    const text = JSON.stringify(line) + '\n';
    beforeWrite?.(text);
    appendFileSync(this.path, text);
    this.done.set(k, line);
    return true;
  }
}

/**
 * Parse results.jsonl. A last line without its newline, or one that does not parse as a
 * ResultLine, is the tail of an interrupted write: returned as `tail`, not as a line. A bad
 * line anywhere else is corruption, reported with its line number.
 */
export function readResultLines(path: string): { lines: ResultLine[]; validBytes: number; tail: string | null } {
  const buf = readFileSync(path);
  const text = buf.toString('utf8');
  const lines: ResultLine[] = [];
  let offset = 0;
  let lineNo = 0;
  while (offset < text.length) {
    const nl = text.indexOf('\n', offset);
    lineNo++;
    const raw = nl < 0 ? text.slice(offset) : text.slice(offset, nl);
    const parsed = nl < 0 ? null : parseLine(raw);
    if (!parsed) {
      const isLast = nl < 0 || nl === text.length - 1;
      if (!isLast) throw new Error(`${path}:${lineNo}: not a result line (the file is corrupt; only a last line may be partial)`);
      return { lines, validBytes: Buffer.byteLength(text.slice(0, offset)), tail: raw };
    }
    lines.push(parsed);
    offset = nl + 1;
  }
  return { lines, validBytes: buf.length, tail: null };
}

function parseLine(raw: string): ResultLine | null {
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return null;
  }
  if (!v || typeof v !== 'object') return null;
  const l = v as Partial<ResultLine>;
  const k = l.key as Partial<ResultKey> | undefined;
  const ok =
    !!k &&
    typeof k.cell === 'string' &&
    typeof k.checkpoint === 'number' &&
    RESULT_KINDS.includes(k.kind as ResultKey['kind']) &&
    typeof k.name === 'string' &&
    typeof k.mode === 'string' &&
    (typeof l.value === 'number' || l.value === null) &&
    typeof l.values === 'object';
  return ok ? (l as ResultLine) : null;
}
