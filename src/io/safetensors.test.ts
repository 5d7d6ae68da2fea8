/**
 * safetensors reader/writer: round trips for every dtype (views included), dtype conversion on load,
 * header validation errors, atomic writes, and the real checkpoints under ../shared (skipped if absent).
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as T from '../tensor/index.js';
import type { DType, Storage } from '../tensor/index.js';
import { SafetensorsError, loadSafetensors, readSafetensorsHeader, saveSafetensors } from './safetensors.js';

const SHARED = fileURLToPath(new URL('../../../shared/', import.meta.url));
const STORIES = join(SHARED, 'data/stories260K/hf/model.safetensors');
const TINY_GPT2 = join(SHARED, 'reference/models/tiny-gpt2/model.safetensors');
const skipIfAbsent = (p: string): string | false =>
  existsSync(p) ? false : `shared data absent: ${p} not found (needs ../shared)`;

let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'lmedit-st-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** A deterministic storage array for dtype with awkward values (NaN, Inf, -0, subnormals, extremes). */
function sample(dtype: DType, n: number, seed = 1): Storage {
  let s = seed >>> 0;
  const next = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s;
  };
  switch (dtype) {
    case 'float32': {
      const a = new Float32Array(n);
      const special = [NaN, Infinity, -Infinity, -0, 1e-45, 3.4028234663852886e38];
      for (let i = 0; i < n; i++) a[i] = i < special.length ? special[i]! : (next() / 2 ** 32 - 0.5) * 100;
      return a;
    }
    case 'float64': {
      const a = new Float64Array(n);
      const special = [NaN, Infinity, -0, 5e-324, Number.MAX_VALUE];
      for (let i = 0; i < n; i++) a[i] = i < special.length ? special[i]! : (next() / 2 ** 32 - 0.5) * 1e10;
      return a;
    }
    case 'float16':
    case 'bfloat16': {
      const a = new Uint16Array(n);
      for (let i = 0; i < n; i++) a[i] = next() & 0xffff;
      return a;
    }
    case 'int32': {
      const a = new Int32Array(n);
      for (let i = 0; i < n; i++) a[i] = next() | 0;
      a[0] = -2147483648;
      if (n > 1) a[1] = 2147483647;
      return a;
    }
    case 'uint8': {
      const a = new Uint8Array(n);
      for (let i = 0; i < n; i++) a[i] = next() & 0xff;
      return a;
    }
  }
}

const bytesOf = (s: Storage): Buffer => Buffer.from(s.buffer, s.byteOffset, s.byteLength);

/** Raw file from a header object and data bytes (for dtypes the writer never produces). */
function writeRaw(path: string, header: unknown, data: Uint8Array = new Uint8Array(0)): void {
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(path, Buffer.concat([len, json, data]));
}

const DTYPES: DType[] = ['float32', 'float64', 'float16', 'bfloat16', 'int32', 'uint8'];

describe('round trips', () => {
  test('every dtype, bit-exact with dtype "keep", including scalars and empty tensors', () => {
    const p = join(dir, 'all.safetensors');
    const src = new Map<string, T.Tensor>();
    for (const [i, dt] of DTYPES.entries()) {
      src.set(`${dt}.matrix`, T.Tensor.fromStorage(sample(dt, 35, i + 1), dt, [5, 7]));
      src.set(`${dt}.scalar`, T.Tensor.fromStorage(sample(dt, 1, i + 9), dt, []));
      src.set(`${dt}.empty`, T.Tensor.fromStorage(sample(dt, 0), dt, [0, 3]));
    }
    saveSafetensors(p, src, { format: 'pt', note: 'ünïcode ✓' });
    const r = loadSafetensors(p, { dtype: 'keep' });
    assert.deepEqual(r.metadata, { format: 'pt', note: 'ünïcode ✓' });
    assert.equal(r.tensors.size, src.size);
    for (const [name, t] of src) {
      const got = r.tensors.get(name);
      assert.ok(got, name);
      assert.equal(got.dtype, t.dtype, name);
      assert.deepEqual(got.shape, t.shape, name);
      assert.ok(bytesOf(got.storage).equals(bytesOf(t.storage)), `${name} bytes differ`);
      assert.equal(got.name, name);
    }
    const h = readSafetensorsHeader(p);
    assert.equal(h.tensors.get('int32.matrix')!.dtype, 'I32');
    assert.equal(h.tensors.get('uint8.matrix')!.dtype, 'U8');
    assert.equal(h.tensors.get('bfloat16.scalar')!.dtype, 'BF16');
    assert.deepEqual(h.tensors.get('float64.scalar')!.shape, []);
  });

  test('header layout: 8-byte aligned, space padded, larger items first, aligned offsets', () => {
    const p = join(dir, 'layout.safetensors');
    saveSafetensors(p, {
      b: T.Tensor.fromStorage(new Uint8Array([1, 2, 3]), 'uint8', [3]),
      a: T.Tensor.fromStorage(new Float64Array([1]), 'float64', [1]),
      c: T.Tensor.fromStorage(new Float32Array([1, 2]), 'float32', [2]),
    });
    const buf = readFileSync(p);
    const n = Number(buf.readBigUInt64LE(0));
    assert.equal(n % 8, 0);
    const text = buf.subarray(8, 8 + n).toString('utf8');
    assert.match(text, /^\{.*\} *$/);
    const h = readSafetensorsHeader(p);
    assert.deepEqual([...h.tensors.keys()], ['a', 'c', 'b']);
    for (const t of h.tensors.values()) {
      const item = t.dtype === 'F64' ? 8 : t.dtype === 'F32' ? 4 : 1;
      assert.equal((h.dataStart + t.dataOffsets[0]) % item, 0);
    }
    assert.equal(buf.length, 8 + n + 8 + 8 + 3);
  });

  test('non-contiguous inputs (transpose, permute, offset slice, stride-0 expand) are written row-major', () => {
    const p = join(dir, 'views.safetensors');
    const base = T.Tensor.fromStorage(sample('float32', 24, 3), 'float32', [2, 3, 4]);
    const half = T.Tensor.fromStorage(sample('float16', 24, 4), 'float16', [2, 3, 4]);
    const ints = T.Tensor.fromStorage(sample('int32', 12, 5), 'int32', [3, 4]);
    const views: Record<string, T.Tensor> = {
      transposed: T.transpose(T.reshape(base, [6, 4])),
      permuted: T.permute(half, [2, 0, 1]),
      sliced: T.narrow(ints, 0, 1, 3), // contiguous but at an offset
      column: T.narrow(ints, 1, 2, 3),
      expanded: T.expand(T.Tensor.fromStorage(new Float64Array([1.5, -2.5]), 'float64', [2, 1]), [2, 3]),
    };
    assert.ok(!views['transposed']!.isContiguous());
    assert.ok(views['sliced']!.isContiguous() && views['sliced']!.offset > 0);
    saveSafetensors(p, views);
    const r = loadSafetensors(p, { dtype: 'keep' });
    for (const [name, v] of Object.entries(views)) {
      const got = r.tensors.get(name)!;
      assert.deepEqual(got.shape, v.shape, name);
      assert.equal(got.dtype, v.dtype, name);
      assert.deepEqual(got.toArray(), v.toArray(), name);
    }
  });

  test('a Record and a Map give the same file', () => {
    const a = T.Tensor.fromStorage(new Float32Array([1, 2]), 'float32', [2]);
    saveSafetensors(join(dir, 'rec.safetensors'), { x: a });
    saveSafetensors(join(dir, 'map.safetensors'), new Map([['x', a]]));
    assert.ok(readFileSync(join(dir, 'rec.safetensors')).equals(readFileSync(join(dir, 'map.safetensors'))));
  });
});

describe('dtype on load', () => {
  test('f16/bf16/f64 convert to float32 by default; "keep" keeps them', () => {
    const p = join(dir, 'conv.safetensors');
    const h = sample('float16', 4096, 11);
    const b = sample('bfloat16', 4096, 12);
    const d = sample('float64', 100, 13);
    saveSafetensors(p, {
      h: T.Tensor.fromStorage(h, 'float16', [64, 64]),
      b: T.Tensor.fromStorage(b, 'bfloat16', [4096]),
      d: T.Tensor.fromStorage(d, 'float64', [100]),
    });
    const conv = loadSafetensors(p);
    assert.equal(conv.tensors.get('h')!.dtype, 'float32');
    assert.equal(conv.tensors.get('b')!.dtype, 'float32');
    assert.equal(conv.tensors.get('d')!.dtype, 'float32');
    const same = (x: number, y: number): boolean => (Number.isNaN(x) && Number.isNaN(y)) || Object.is(x, y);
    const hs = conv.tensors.get('h')!.storage;
    for (let i = 0; i < h.length; i++) assert.ok(same(hs[i]!, T.f16ToNumber(h[i]!)), `f16 ${i}`);
    const bs = conv.tensors.get('b')!.storage;
    for (let i = 0; i < b.length; i++) assert.ok(same(bs[i]!, T.bf16ToNumber(b[i]!)), `bf16 ${i}`);
    const ds = conv.tensors.get('d')!.storage;
    for (let i = 0; i < d.length; i++) assert.ok(same(ds[i]!, Math.fround(d[i]!)), `f64 ${i}`);
    assert.equal(conv.bytesAllocated, 4096 * 4 + 4096 * 4 + 100 * 4);
    const kept = loadSafetensors(p, { dtype: 'keep' });
    assert.equal(kept.tensors.get('b')!.dtype, 'bfloat16');
    assert.ok(kept.tensors.get('b')!.storage instanceof Uint16Array);
    assert.equal(kept.tensors.get('d')!.dtype, 'float64');
  });

  test('float32 -> bfloat16 / float16 on load rounds like numberToBf16 / numberToF16', () => {
    const p = join(dir, 'down.safetensors');
    const f = sample('float32', 1000, 21);
    saveSafetensors(p, { f: T.Tensor.fromStorage(f, 'float32', [1000]) });
    const bf = loadSafetensors(p, { dtype: 'bfloat16' }).tensors.get('f')!;
    const hf = loadSafetensors(p, { dtype: 'float16' }).tensors.get('f')!;
    assert.equal(bf.dtype, 'bfloat16');
    assert.equal(hf.dtype, 'float16');
    for (let i = 0; i < f.length; i++) {
      assert.equal(bf.storage[i], T.numberToBf16(f[i]!), `bf16 ${i}`);
      assert.equal(hf.storage[i], T.numberToF16(f[i]!), `f16 ${i}`);
    }
  });

  test('I64 -> int32 with a range check, BOOL -> uint8', () => {
    const p = join(dir, 'ints.safetensors');
    const ids = new BigInt64Array([0n, -1n, 50256n, 2147483647n, -2147483648n]);
    const mask = new Uint8Array([1, 0, 1]);
    writeRaw(
      p,
      {
        ids: { dtype: 'I64', shape: [5], data_offsets: [0, 40] },
        mask: { dtype: 'BOOL', shape: [3], data_offsets: [40, 43] },
      },
      Buffer.concat([Buffer.from(ids.buffer), mask]),
    );
    const r = loadSafetensors(p);
    assert.equal(r.tensors.get('ids')!.dtype, 'int32');
    assert.deepEqual(r.tensors.get('ids')!.toArray(), [0, -1, 50256, 2147483647, -2147483648]);
    assert.equal(r.tensors.get('mask')!.dtype, 'uint8');
    assert.deepEqual(r.tensors.get('mask')!.toArray(), [1, 0, 1]);

    const big = join(dir, 'big.safetensors');
    writeRaw(
      big,
      { ids: { dtype: 'I64', shape: [2], data_offsets: [0, 16] } },
      Buffer.from(new BigInt64Array([1n, 2n ** 40n]).buffer),
    );
    assert.throws(
      () => loadSafetensors(big),
      (e: unknown) =>
        e instanceof SafetensorsError && /"ids"/.test(e.message) && /1099511627776/.test(e.message) && e.message.includes(big),
    );
  });

  test('unsupported dtypes name the tensor and dtype; the names filter can skip them', () => {
    const p = join(dir, 'f8.safetensors');
    writeRaw(
      p,
      {
        'layer.q': { dtype: 'F8_E4M3', shape: [4], data_offsets: [0, 4] },
        'layer.bias': { dtype: 'F32', shape: [1], data_offsets: [4, 8] },
      },
      new Uint8Array(8),
    );
    assert.throws(
      () => loadSafetensors(p),
      (e: unknown) => e instanceof SafetensorsError && /"layer\.q"/.test(e.message) && /F8_E4M3/.test(e.message),
    );
    const r = loadSafetensors(p, { names: (n) => n !== 'layer.q' });
    assert.deepEqual([...r.tensors.keys()], ['layer.bias']);
    assert.equal(readSafetensorsHeader(p).tensors.get('layer.q')!.dtype, 'F8_E4M3');
  });

  test('a failed load frees what it allocated', () => {
    const p = join(dir, 'late-fail.safetensors');
    writeRaw(
      p,
      {
        a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] },
        b: { dtype: 'I64', shape: [1], data_offsets: [16, 24] },
      },
      Buffer.concat([Buffer.alloc(16), Buffer.from(new BigInt64Array([2n ** 50n]).buffer)]),
    );
    const before = T.memoryStats();
    assert.throws(() => loadSafetensors(p), SafetensorsError);
    assert.deepEqual(T.memoryStats(), before);
  });
});

describe('validation', () => {
  const cases: [string, unknown, RegExp][] = [
    ['unknown dtype', { x: { dtype: 'F17', shape: [1], data_offsets: [0, 4] } }, /unknown dtype "F17"/],
    ['negative dim', { x: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, /not a non-negative integer/],
    ['float dim', { x: { dtype: 'F32', shape: [1.5], data_offsets: [0, 4] } }, /not a non-negative integer/],
    ['string dim', { x: { dtype: 'F32', shape: ['1'], data_offsets: [0, 4] } }, /not a non-negative integer/],
    ['size mismatch', { x: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, /needs 8 bytes.*hold 4/],
    ['huge shape', { x: { dtype: 'F32', shape: [2 ** 40, 2 ** 40], data_offsets: [0, 4] } }, /needs more than 4 bytes/],
    ['past EOF', { x: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, /past the end of the data area/],
    ['begin > end', { x: { dtype: 'F32', shape: [0], data_offsets: [4, 0] } }, /begin > end/],
    [
      'overlap',
      { x: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, y: { dtype: 'U8', shape: [2], data_offsets: [2, 4] } },
      /"y".*overlap tensor "x"/,
    ],
    ['offsets missing', { x: { dtype: 'F32', shape: [1] } }, /data_offsets/],
    ['metadata not strings', { __metadata__: { a: 1 } }, /__metadata__/],
    ['not an object', [1, 2], /not a JSON object/],
  ];
  for (const [label, header, re] of cases) {
    test(label, () => {
      const p = join(dir, `bad-${label.replace(/\W/g, '_')}.safetensors`);
      writeRaw(p, header, new Uint8Array(4));
      assert.throws(
        () => loadSafetensors(p),
        (e: unknown) => e instanceof SafetensorsError && re.test(e.message) && e.message.startsWith(p),
        label,
      );
    });
  }
  test('header length bounds, UTF-8 and JSON', () => {
    const p = join(dir, 'hdr.safetensors');
    const check = (buf: Buffer, re: RegExp): void => {
      writeFileSync(p, buf);
      assert.throws(
        () => readSafetensorsHeader(p),
        (e: unknown) => e instanceof SafetensorsError && re.test(e.message),
      );
    };
    const len = (n: bigint): Buffer => {
      const b = Buffer.alloc(8);
      b.writeBigUInt64LE(n);
      return b;
    };
    check(Buffer.alloc(5), /too short/);
    check(Buffer.concat([len(2n ** 63n), Buffer.from('{}')]), /exceeds the 100000000-byte limit/);
    check(Buffer.concat([len(100n), Buffer.from('{}')]), /exceeds the file size/);
    check(Buffer.concat([len(4n), Buffer.from([0x7b, 0xff, 0xfe, 0x7d])]), /not valid UTF-8/);
    check(Buffer.concat([len(3n), Buffer.from('{x}')]), /not valid JSON/);
    assert.throws(
      () => readSafetensorsHeader(join(dir, 'nope.safetensors')),
      (e: unknown) => e instanceof SafetensorsError && /cannot open/.test(e.message),
    );
  });
  test('the writer rejects reserved names, disposed tensors and non-string metadata', () => {
    const p = join(dir, 'w.safetensors');
    const t = T.Tensor.fromStorage(new Float32Array(1), 'float32', [1]);
    assert.throws(() => saveSafetensors(p, { __metadata__: t }), /reserved/);
    assert.throws(() => saveSafetensors(p, { t }, { a: 1 as unknown as string }), /not a string/);
    const d = T.Tensor.fromStorage(new Float32Array(1), 'float32', [1]);
    d.dispose();
    assert.throws(() => saveSafetensors(p, { d }), /disposed/);
    assert.ok(!existsSync(p));
  });
});

describe('atomic write', () => {
  test('an exception mid-write leaves the old file intact and no temporary file behind', () => {
    const sub = mkdtempSync(join(dir, 'atomic-'));
    const p = join(sub, 'model.safetensors');
    saveSafetensors(p, { old: T.Tensor.fromStorage(new Float32Array([1, 2, 3]), 'float32', [3]) });
    const oldBytes = readFileSync(p);
    const tensors = {
      a: T.Tensor.fromStorage(sample('float32', 1 << 16), 'float32', [1 << 16]),
      b: T.Tensor.fromStorage(sample('float32', 1 << 16), 'float32', [1 << 16]),
    };
    let calls = 0;
    assert.throws(
      () =>
        saveSafetensors(p, tensors, undefined, {
          onProgress: () => {
            calls++;
            throw new Error('disk full (simulated)');
          },
        }),
      /simulated/,
    );
    assert.equal(calls, 1);
    assert.ok(readFileSync(p).equals(oldBytes), 'old file changed');
    assert.deepEqual(readdirSync(sub), ['model.safetensors']);
    // a successful save replaces it
    saveSafetensors(p, tensors);
    assert.deepEqual([...loadSafetensors(p).tensors.keys()], ['a', 'b']);
    assert.deepEqual(readdirSync(sub), ['model.safetensors']);
  });
  test('a missing directory is a clear error', () => {
    assert.throws(
      () => saveSafetensors(join(dir, 'no/such/dir/x.safetensors'), {}),
      (e: unknown) => e instanceof SafetensorsError && /temporary file/.test(e.message),
    );
  });
});

describe('real checkpoints', () => {
  test('stories260K', { skip: skipIfAbsent(STORIES) }, () => {
    const h = readSafetensorsHeader(STORIES);
    assert.equal(h.tensors.size, 47);
    assert.deepEqual(h.metadata, { format: 'pt' });
    const r = loadSafetensors(STORIES);
    assert.equal(r.tensors.size, 47);
    const emb = r.tensors.get('model.embed_tokens.weight')!;
    assert.deepEqual(emb.shape, [512, 64]);
    assert.equal(emb.dtype, 'float32');
    assert.equal(emb.at(0, 0), Math.fround(-0.29474878311157227));
    assert.equal(emb.at(511, 63), Math.fround(-0.424032598733902));
    assert.equal(r.tensors.get('model.norm.weight')!.at(0), Math.fround(2.4583089351654053));
    assert.deepEqual(r.tensors.get('model.layers.0.self_attn.k_proj.weight')!.shape, [32, 64]);
    assert.deepEqual(r.tensors.get('model.layers.2.mlp.down_proj.weight')!.shape, [64, 172]);
    assert.equal(r.tensors.get('model.layers.2.mlp.down_proj.weight')!.storage[100], Math.fround(0.02076827548444271));
    assert.ok(!r.tensors.has('lm_head.weight'), 'stories260K ties lm_head to the embedding');
    const only = loadSafetensors(STORIES, { names: (n) => n.startsWith('model.layers.4.') });
    assert.equal(only.tensors.size, 9);
  });

  test('tiny-gpt2 (transformer. prefix) and a bf16 round trip: keep vs convert', { skip: skipIfAbsent(TINY_GPT2) }, () => {
    const r = loadSafetensors(TINY_GPT2);
    assert.equal(r.tensors.size, 52);
    const wte = r.tensors.get('transformer.wte.weight')!;
    assert.deepEqual(wte.shape, [50257, 64]);
    assert.equal(wte.at(0, 0), Math.fround(-0.04644645005464554));
    assert.equal(wte.at(50256, 63), Math.fround(-0.2783975899219513));
    assert.equal(r.tensors.get('transformer.ln_f.weight')!.at(0), Math.fround(1.0958333015441895));
    assert.equal(r.tensors.get('transformer.h.0.attn.c_attn.bias')!.at(5), Math.fround(0.01054566353559494));
    assert.deepEqual(r.tensors.get('transformer.h.3.mlp.c_proj.weight')!.shape, [256, 64]);
    assert.ok(!r.tensors.has('lm_head.weight'));

    const bf = loadSafetensors(TINY_GPT2, { dtype: 'bfloat16' });
    const p = join(dir, 'gpt2-bf16.safetensors');
    saveSafetensors(p, bf.tensors, bf.metadata);
    const kept = loadSafetensors(p, { dtype: 'keep' }).tensors.get('transformer.wte.weight')!;
    const conv = loadSafetensors(p).tensors.get('transformer.wte.weight')!;
    assert.equal(kept.dtype, 'bfloat16');
    assert.equal(conv.dtype, 'float32');
    const ks = kept.storage;
    const cs = conv.storage;
    const ws = wte.storage;
    for (let i = 0; i < ws.length; i += 997) {
      assert.equal(ks[i], T.numberToBf16(ws[i]!));
      assert.equal(cs[i], T.bf16ToNumber(ks[i]!));
      assert.ok(Math.abs(cs[i]! - ws[i]!) <= Math.abs(ws[i]!) * 2 ** -8);
    }
  });
});
