/**
 * The safetensors fuzzing engine shared by safetensors.fuzz.test.ts and scripts/fuzz-safetensors.ts:
 * mutates a valid file (bit flips, truncations, header edits) and checks the reader's contract.
 */
import { readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SafetensorsError, loadSafetensors, readSafetensorsHeader, type LoadDType } from './safetensors.js';

/** Deterministic xorshift32 generator. */
class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 0x9e3779b9;
  }
  u32(): number {
    let x = this.s;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s;
  }
  int(n: number): number {
    return this.u32() % Math.max(1, n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  chance(p: number): boolean {
    return this.u32() / 2 ** 32 < p;
  }
}

interface BaseFile {
  header: Record<string, unknown>;
  data: Buffer;
}

/** A valid file holding every readable dtype, a scalar, an empty tensor and one unsupported (F8) tensor. */
export function makeBaseFile(): BaseFile {
  const specs: [string, string, number[], number][] = [
    ['a.weight', 'F32', [4, 8], 4],
    ['b.f16', 'F16', [16], 2],
    ['c.bf16', 'BF16', [2, 3, 4], 2],
    ['d.f64', 'F64', [3], 8],
    ['e.ids', 'I64', [5], 8],
    ['f.i32', 'I32', [2, 2], 4],
    ['g.u8', 'U8', [7], 1],
    ['h.mask', 'BOOL', [3], 1],
    ['i.scalar', 'F32', [], 4],
    ['j.empty', 'F16', [0, 5], 2],
    ['k.fp8', 'F8_E4M3', [4], 1],
  ];
  const header: Record<string, unknown> = { __metadata__: { format: 'pt', source: 'fuzz' } };
  const parts: Buffer[] = [];
  let off = 0;
  for (const [name, dtype, shape, item] of specs) {
    const n = shape.reduce((a, b) => a * b, 1) * item;
    const pad = (item - (off % item)) % item;
    if (pad) parts.push(Buffer.alloc(pad));
    off += pad;
    const bytes = Buffer.alloc(n);
    for (let i = 0; i < n; i++) bytes[i] = (i * 37 + name.length * 11) & 0xff;
    if (dtype === 'I64') for (let i = 0; i < n / 8; i++) bytes.writeBigInt64LE(BigInt(i * 1000 - 2000), i * 8);
    if (dtype === 'BOOL') for (let i = 0; i < n; i++) bytes[i] = i & 1;
    parts.push(bytes);
    header[name] = { dtype, shape, data_offsets: [off, off + n] };
    off += n;
  }
  return { header, data: Buffer.concat(parts) };
}

function serialize(header: unknown, data: Buffer, padTo = 8, lengthDelta = 0n): Buffer {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const padded = Buffer.alloc(Math.ceil(json.length / padTo) * padTo, 0x20);
  json.copy(padded);
  const len = Buffer.alloc(8);
  let n = BigInt(padded.length) + lengthDelta;
  if (n < 0n) n = 0n;
  len.writeBigUInt64LE(n & 0xffffffffffffffffn);
  return Buffer.concat([len, padded, data]);
}

const WEIRD_NUMBERS: readonly unknown[] = [
  0,
  1,
  -1,
  2,
  3,
  7,
  2 ** 31,
  2 ** 32,
  2 ** 40,
  2 ** 53,
  2 ** 53 + 2,
  2 ** 63,
  1e21,
  1e308,
  -0,
  0.5,
  1.5,
  -2.5,
  Number.MAX_SAFE_INTEGER,
  '1',
  '',
  null,
  true,
  false,
  [],
  {},
  [1],
  -(2 ** 53),
];
const WEIRD_DTYPES: readonly unknown[] = [
  'F32',
  'F16',
  'BF16',
  'F64',
  'I64',
  'I32',
  'U8',
  'BOOL',
  'F8_E4M3',
  'F8_E5M2',
  'I8',
  'U64',
  'C64',
  'F4',
  'F6_E2M3',
  'f32',
  'F17',
  '',
  'constructor',
  '__proto__',
  'toString',
  'hasOwnProperty',
  7,
  null,
  ['F32'],
  { F32: 1 },
];

type Mutator = (rng: Rng, base: BaseFile, valid: Buffer) => { buf: Buffer; desc: string };

function entryNames(h: Record<string, unknown>): string[] {
  return Object.keys(h).filter((k) => k !== '__metadata__');
}

function clone<T>(x: T): T {
  return JSON.parse(JSON.stringify(x)) as T;
}

const headerEdits: ((rng: Rng, h: Record<string, unknown>, dataLen: number) => string)[] = [
  (rng, h) => {
    const name = rng.pick(entryNames(h));
    const e = h[name] as { shape: unknown[] };
    const v = rng.pick(WEIRD_NUMBERS);
    if (Array.isArray(e.shape) && e.shape.length > 0) e.shape[rng.int(e.shape.length)] = v;
    else e.shape = [v];
    return `shape dim of ${name} := ${JSON.stringify(v)}`;
  },
  (rng, h) => {
    const name = rng.pick(entryNames(h));
    const e = h[name] as { shape: unknown };
    const kind = rng.int(5);
    e.shape =
      kind === 0
        ? new Array(1 + rng.int(2000)).fill(1 + rng.int(3))
        : kind === 1
          ? [2 ** 26, 2 ** 26, 2 ** 26]
          : kind === 2
            ? [0, 2 ** 53]
            : kind === 3
              ? 'shape'
              : [rng.int(100), rng.int(100)];
    return `shape of ${name} := kind ${kind}`;
  },
  (rng, h, dataLen) => {
    const name = rng.pick(entryNames(h));
    const e = h[name] as { data_offsets: unknown[] };
    const pool = [...WEIRD_NUMBERS, dataLen, dataLen + 1, dataLen - 1, dataLen * 2];
    const i = rng.int(2);
    const v = rng.pick(pool);
    if (Array.isArray(e.data_offsets)) e.data_offsets[i] = v;
    return `data_offsets[${i}] of ${name} := ${JSON.stringify(v)}`;
  },
  (rng, h) => {
    const names = entryNames(h);
    const a = rng.pick(names);
    const b = rng.pick(names);
    (h[a] as { data_offsets: unknown }).data_offsets = clone((h[b] as { data_offsets: unknown }).data_offsets);
    return `data_offsets of ${a} := those of ${b}`;
  },
  (rng, h) => {
    const name = rng.pick(entryNames(h));
    const e = h[name] as { data_offsets: [number, number] };
    const [b, en] = e.data_offsets;
    const shift = rng.pick([-8, -4, -2, -1, 1, 2, 4, 8]);
    e.data_offsets = rng.chance(0.5) ? [b + shift, en + shift] : [en, b];
    return `shift/swap data_offsets of ${name}`;
  },
  (rng, h) => {
    const name = rng.pick(entryNames(h));
    const v = rng.pick(WEIRD_DTYPES);
    (h[name] as { dtype: unknown }).dtype = v;
    return `dtype of ${name} := ${JSON.stringify(v)}`;
  },
  (rng, h) => {
    const name = rng.pick(entryNames(h));
    const field = rng.pick(['dtype', 'shape', 'data_offsets']);
    delete (h[name] as Record<string, unknown>)[field];
    return `delete ${field} of ${name}`;
  },
  (rng, h) => {
    const name = rng.pick(entryNames(h));
    const v = rng.pick([null, 1, 'x', [], [1, 2], true]);
    h[name] = v;
    return `entry ${name} := ${JSON.stringify(v)}`;
  },
  (rng, h) => {
    const v = rng.pick([
      null,
      1,
      'x',
      [],
      { a: 1 },
      { a: null },
      { a: ['x'] },
      { '': '' },
      JSON.parse('{"__proto__": "x"}') as unknown,
    ]);
    h['__metadata__'] = v;
    return `__metadata__ := ${JSON.stringify(v)}`;
  },
  (rng, h) => {
    const name = rng.pick(entryNames(h));
    const to = rng.pick(['__proto__', 'constructor', '', 'x'.repeat(1000), '\u0000', 'é', '__metadata__']);
    const v = h[name];
    delete h[name];
    Object.defineProperty(h, to, { value: v, enumerable: true, writable: true, configurable: true });
    return `rename ${name} -> ${JSON.stringify(to.slice(0, 20))}`;
  },
  (rng, h) => {
    const name = rng.pick(entryNames(h));
    h[`${name}.dup`] = clone(h[name]);
    return `duplicate ${name}`;
  },
];

const mutators: Record<string, Mutator> = {
  bitflip: (rng, _b, valid) => {
    const buf = Buffer.from(valid);
    const flips = 1 + rng.int(8);
    // mostly in the length field and header, sometimes anywhere
    const headerEnd = 8 + Number(valid.readBigUInt64LE(0));
    for (let i = 0; i < flips; i++) {
      const at = rng.chance(0.8) ? rng.int(headerEnd) : rng.int(buf.length);
      buf[at]! ^= 1 << rng.int(8);
    }
    return { buf, desc: `${flips} bit flips` };
  },
  byteset: (rng, _b, valid) => {
    const buf = Buffer.from(valid);
    const headerEnd = 8 + Number(valid.readBigUInt64LE(0));
    const n = 1 + rng.int(4);
    for (let i = 0; i < n; i++)
      buf[8 + rng.int(headerEnd - 8)] = rng.pick([0x00, 0xff, 0x22, 0x7b, 0x7d, 0x5b, 0x2c, 0x3a, 0x2d, 0x39, 0x65, 0xc3]);
    return { buf, desc: `${n} header bytes overwritten` };
  },
  truncate: (rng, _b, valid) => {
    const len = rng.chance(0.3) ? rng.int(16) : rng.int(valid.length);
    return { buf: valid.subarray(0, len), desc: `truncated to ${len}` };
  },
  append: (rng, _b, valid) => {
    const extra = Buffer.alloc(1 + rng.int(64), rng.int(256));
    return { buf: Buffer.concat([valid, extra]), desc: `appended ${extra.length} bytes` };
  },
  headerLength: (rng, _b, valid) => {
    const buf = Buffer.from(valid);
    const cur = buf.readBigUInt64LE(0);
    const v = rng.pick([
      0n,
      1n,
      2n,
      cur - 1n,
      cur + 1n,
      cur + 8n,
      cur - 8n,
      BigInt(valid.length),
      BigInt(valid.length - 8),
      100_000_000n,
      100_000_001n,
      2n ** 32n,
      2n ** 53n + 1n,
      2n ** 63n,
      2n ** 64n - 1n,
    ]);
    buf.writeBigUInt64LE(v < 0n ? 0n : v);
    return { buf, desc: `header length := ${v}` };
  },
  headerEdit: (rng, base) => {
    const h = clone(base.header);
    const n = 1 + (rng.chance(0.3) ? rng.int(3) : 0);
    const descs: string[] = [];
    for (let i = 0; i < n; i++) {
      if (entryNames(h).length === 0) break;
      try {
        descs.push(rng.pick(headerEdits)(rng, h, base.data.length));
      } catch {
        descs.push('edit skipped (an earlier edit removed what it changes)');
      }
    }
    const delta = rng.chance(0.85) ? 0n : BigInt(rng.pick([-3, -1, 1, 5, 1000]));
    const data = rng.chance(0.9) ? base.data : base.data.subarray(0, rng.int(base.data.length));
    return {
      buf: serialize(h, data, rng.pick([1, 8]), delta),
      desc: descs.join('; ') + (delta ? `; length delta ${delta}` : ''),
    };
  },
  headerText: (rng, base) => {
    let text = JSON.stringify(base.header);
    const n = 1 + rng.int(3);
    for (let i = 0; i < n; i++) {
      const at = rng.int(text.length);
      const ins = rng.pick([
        '9999999999999999999999',
        'e400',
        '-',
        '.5',
        '"',
        ',',
        '}',
        '{',
        '[',
        '\\u0000',
        '\\ud800',
        'null',
        ' ',
      ]);
      text = rng.chance(0.5) ? text.slice(0, at) + ins + text.slice(at) : text.slice(0, at) + text.slice(at + 1 + rng.int(4));
    }
    const json = Buffer.from(text, 'utf8');
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    return { buf: Buffer.concat([len, json, base.data]), desc: `${n} header text edits` };
  },
};

export interface FuzzOptions {
  iterations: number;
  seed: number;
  /** a writable temporary directory */
  dir: string;
  /** stop early (reporting what ran) after this long, ms */
  timeBudgetMs?: number;
}

export interface FuzzReport {
  iterations: number;
  loaded: number;
  rejected: number;
  byMutator: Record<string, { loaded: number; rejected: number }>;
  /** largest tensor bytes allocated / file size over successful loads */
  maxAllocRatio: number;
  slowestMs: number;
  elapsedMs: number;
}

/** A contract violation; the offending file is kept at `file` for reproduction. */
export class FuzzFailure extends Error {
  override readonly name = 'FuzzFailure';
}

const LOAD_DTYPES: readonly LoadDType[] = ['float32', 'keep', 'bfloat16', 'float16'];

/** Reads one mutated file: only success or SafetensorsError naming the file; allocation bounded. */
function checkOne(path: string, rng: Rng): { loaded: boolean; allocRatio: number } {
  const buf = readFileSync(path);
  const dtype = rng.pick(LOAD_DTYPES);
  const skipF8 = rng.chance(0.7);
  let result: ReturnType<typeof loadSafetensors>;
  try {
    readSafetensorsHeader(path);
    result = loadSafetensors(path, { dtype, names: skipF8 ? (n) => n !== 'k.fp8' : undefined });
  } catch (e) {
    if (e instanceof SafetensorsError && e.message.includes(path)) return { loaded: false, allocRatio: 0 };
    throw new FuzzFailure(`unexpected ${(e as Error)?.name ?? typeof e}: ${(e as Error)?.message ?? String(e)}`, { cause: e });
  }
  let bytes = 0;
  for (const t of result.tensors.values()) {
    bytes += t.storage.byteLength;
    const info = result.header.tensors.get(t.name!)!;
    // differential check: a direct read must equal the file's bytes
    if (dtype === 'keep' && info.dtype !== 'I64') {
      const s = t.storage;
      const got = Buffer.from(s.buffer, s.byteOffset, s.byteLength);
      const start = result.header.dataStart + info.dataOffsets[0];
      if (!got.equals(buf.subarray(start, start + info.byteLength)))
        throw new FuzzFailure(`tensor ${t.name} bytes differ from the file`);
    }
    t.dispose();
  }
  if (bytes !== result.bytesAllocated) throw new FuzzFailure(`bytesAllocated ${result.bytesAllocated} != actual ${bytes}`);
  if (bytes > 2 * buf.length) throw new FuzzFailure(`allocated ${bytes} bytes for a ${buf.length}-byte file`);
  return { loaded: true, allocRatio: bytes / buf.length };
}

/**
 * Runs `iterations` mutated files through the reader. Throws FuzzFailure (with seed, iteration and
 * mutation in the message) on any crash, non-SafetensorsError, over-allocation or slow read.
 * @example
 * const report = runSafetensorsFuzz({ iterations: 1000, seed: 1, dir: mkdtempSync(join(tmpdir(), 'fz-')) });
 */
export function runSafetensorsFuzz(opts: FuzzOptions): FuzzReport {
  const base = makeBaseFile();
  const valid = serialize(base.header, base.data);
  const names = Object.keys(mutators);
  const report: FuzzReport = {
    iterations: 0,
    loaded: 0,
    rejected: 0,
    byMutator: {},
    maxAllocRatio: 0,
    slowestMs: 0,
    elapsedMs: 0,
  };
  for (const n of names) report.byMutator[n] = { loaded: 0, rejected: 0 };
  const path = join(opts.dir, 'fuzz.safetensors');
  // the unmutated file must load
  writeFileSync(path, valid);
  checkOne(path, new Rng(1));
  const t0 = performance.now();
  for (let it = 0; it < opts.iterations; it++) {
    if (opts.timeBudgetMs !== undefined && performance.now() - t0 > opts.timeBudgetMs) break;
    const rng = new Rng((opts.seed * 0x9e3779b1 + it * 0x85ebca6b) >>> 0);
    const kind = rng.pick(names);
    const { buf, desc } = mutators[kind]!(rng, base, valid);
    // a fresh name each time: truncating and rewriting one file makes ext4 flush it (auto_da_alloc)
    const file = join(opts.dir, `fuzz-${it}.safetensors`);
    writeFileSync(file, buf);
    const s = performance.now();
    let r: { loaded: boolean; allocRatio: number };
    try {
      r = checkOne(file, rng);
      unlinkSync(file);
    } catch (e) {
      rmSync(file, { force: true });
      const keep = join(opts.dir, `failure-seed${opts.seed}-it${it}.safetensors`);
      writeFileSync(keep, buf);
      throw new FuzzFailure(
        `seed ${opts.seed} iteration ${it} (${kind}: ${desc}): ${(e as Error).message}; file kept at ${keep}`,
        {
          cause: e,
        },
      );
    }
    const ms = performance.now() - s;
    if (ms > 2000) throw new FuzzFailure(`seed ${opts.seed} iteration ${it} (${kind}: ${desc}) took ${ms.toFixed(0)} ms`);
    report.slowestMs = Math.max(report.slowestMs, ms);
    report.iterations++;
    report.maxAllocRatio = Math.max(report.maxAllocRatio, r.allocRatio);
    if (r.loaded) {
      report.loaded++;
      report.byMutator[kind]!.loaded++;
    } else {
      report.rejected++;
      report.byMutator[kind]!.rejected++;
    }
  }
  report.elapsedMs = performance.now() - t0;
  return report;
}
