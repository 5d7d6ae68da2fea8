// Tokenizer tests: GPT-2 and tok512 goldens (../shared/reference/tokenizer/golden.json), stories260K greedy
// text, LLaMA-2 32k tokenizer.bin, a run.c port as naive twin, file validation and loader dispatch.
// Tests that need ../shared (or $LMEDIT_SHARED) skip with a message when it is absent.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  hfTokenizerFromJson,
  loadHfTokenizer,
  loadLlama2cTokenizer,
  loadTokenizer,
  parseLlama2cTokenizer,
  type DummyPrefixMode,
  type JsonObject,
  type Llama2cTokenizer,
  type Tokenizer,
} from './index.js';

const repoRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const SHARED = process.env['LMEDIT_SHARED'] ?? resolve(repoRoot, '..', 'shared');
const shared = (...parts: string[]): string => join(SHARED, ...parts);
/** node:test `skip` value: false when every file exists, else the reason. */
const needs = (...paths: string[]): string | false => {
  const missing = paths.filter((p) => !existsSync(shared(p)));
  return missing.length === 0 ? false : `needs ${missing.join(', ')} under ${SHARED} (../shared or $LMEDIT_SHARED)`;
};
const readJson = <T>(...parts: string[]): T => JSON.parse(readFileSync(shared(...parts), 'utf8')) as T;

interface Gpt2Case {
  text: string;
  ids: number[];
  decoded: string;
}
interface Tok512Case {
  text: string;
  ids_dummy_always: number[];
  ids_dummy_unless_space: number[];
  ids_dummy_never: number[];
  decoded_never: string;
}
interface Golden {
  gpt2: { cases: Gpt2Case[] };
  tok512: { cases: Tok512Case[]; stories260K_selfcheck: { first_line_ids_from_golden: number[] } };
}
const GOLDEN = 'reference/tokenizer/golden.json';
const golden = (): Golden => readJson<Golden>(GOLDEN);
const MODES: readonly DummyPrefixMode[] = ['always', 'unless_space', 'never'];
const expectedIds = (c: Tok512Case, mode: DummyPrefixMode): number[] => c[`ids_dummy_${mode}`];

const ROUND_TRIP = [
  'Hello world',
  'café naïve façade — «quotes» ½ ∑',
  '東京タワー 한국어 العربية עברית',
  'emoji 🙂👍🏽 family 👨‍👩‍👧‍👦 flag 🇫🇷 keycap 1️⃣',
  'line one\r\nline two\rline three\n\n\ttabbed',
  'combining e\u0301 vs é, zero\u200bwidth, nbsp\u00a0here',
  '   many   spaces   ',
  '<|endoftext|> and <s> as text',
];

/** A seeded PRNG (mulberry32) for reproducible random strings. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
function randomText(rand: () => number, len: number, alphabet: string[]): string {
  let s = '';
  for (let i = 0; i < len; i++) s += alphabet[Math.floor(rand() * alphabet.length)] ?? '';
  return s;
}
const ALPHABET = [...'abcdefghijklmnopqrstuvwxyz      ,.\'"!?0123456789ABCDEFGHIJK', 'é', '東', '🙂', '\r\n', '\t', 'ñ', 'ß'];

/** Naive twin: karpathy/llama2.c run.c `encode` ported literally (string concat + lookup, quadratic). */
function runcEncode(tok: Llama2cTokenizer, text: string, dummyPrefix: boolean): number[] {
  const str = tok.pieces.map((p) => Buffer.from(p).toString('latin1'));
  const vocab = new Map<string, number>();
  str.forEach((s, i) => vocab.has(s) || vocab.set(s, i));
  const tokens: number[] = [];
  if (text.length > 0 && dummyPrefix) tokens.push(vocab.get(' ') ?? -1);
  const bytes = Buffer.from(text, 'utf8');
  let buf = '';
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i] ?? 0;
    if ((c & 0xc0) !== 0x80) buf = '';
    buf += String.fromCharCode(c);
    if (i + 1 < bytes.length && ((bytes[i + 1] ?? 0) & 0xc0) === 0x80 && buf.length < 4) continue;
    const id = vocab.get(buf);
    if (id !== undefined) tokens.push(id);
    else for (const ch of buf) tokens.push(ch.charCodeAt(0) + 3);
    buf = '';
  }
  for (;;) {
    let best = Math.fround(-1e10);
    let bestId = -1;
    let bestIdx = -1;
    for (let i = 0; i + 1 < tokens.length; i++) {
      const id = vocab.get((str[tokens[i] ?? 0] ?? '') + (str[tokens[i + 1] ?? 0] ?? ''));
      if (id !== undefined && (tok.scores[id] ?? -Infinity) > best) [best, bestId, bestIdx] = [tok.scores[id] ?? 0, id, i];
    }
    if (bestIdx < 0) return tokens;
    tokens[bestIdx] = bestId;
    tokens.splice(bestIdx + 1, 1);
  }
}

/** A llama2.c tokenizer.bin image: int32 max_token_length, then per token float32 score, int32 len, bytes. */
function tokenizerBin(pieces: readonly [string, number][], maxLen?: number): Uint8Array {
  const enc = pieces.map(([p, s]) => [Buffer.from(p, 'utf8'), s] as const);
  const out = Buffer.alloc(4 + enc.reduce((n, [b]) => n + 8 + b.length, 0));
  out.writeInt32LE(maxLen ?? Math.max(...enc.map(([b]) => b.length)), 0);
  let off = 4;
  for (const [b, s] of enc) {
    out.writeFloatLE(s, off);
    out.writeInt32LE(b.length, off + 4);
    b.copy(out, off + 8);
    off += 8 + b.length;
  }
  return new Uint8Array(out);
}
const BASE: [string, number][] = [
  ['<unk>', 0],
  ['\n<s>\n', 0],
  ['\n</s>\n', 0],
  ...Array.from({ length: 256 }, (_, b): [string, number] => [`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`, 0]),
];

function checkRoundTrips(encode: (t: string) => number[], decode: (ids: number[]) => string): void {
  for (const text of ROUND_TRIP) assert.equal(decode(encode(text)), text, `round trip of ${JSON.stringify(text)}`);
}

describe('GPT-2 byte-level BPE (@huggingface/tokenizers)', { skip: needs('data/gpt2-tokenizer/tokenizer.json', GOLDEN) }, () => {
  let loaded: Promise<Tokenizer> | undefined;
  const load = (): Promise<Tokenizer> => (loaded ??= loadTokenizer(shared('data/gpt2-tokenizer')));

  test('tokenizer.json: every golden case, ids and decode, exact', async () => {
    const tok = await load();
    assert.equal(tok.kind, 'hf');
    assert.equal(tok.vocabSize, 50257);
    for (const c of golden().gpt2.cases) {
      assert.deepEqual(tok.encode(c.text), c.ids, `encode ${JSON.stringify(c.text)}`);
      assert.equal(tok.decode(c.ids), c.decoded, `decode ${JSON.stringify(c.text)}`);
    }
  });

  test('slow layout (vocab.json + merges.txt) builds the same tokenizer', async () => {
    const tok = await loadHfTokenizer(shared('data/gpt2-tokenizer'), { layout: 'vocab+merges' });
    for (const c of golden().gpt2.cases) assert.deepEqual(tok.encode(c.text), c.ids, JSON.stringify(c.text));
    assert.equal(tok.tokenToId('<|endoftext|>'), 50256);
    for (const file of ['vocab.json', 'tokenizer.json']) {
      const viaFile = await loadTokenizer(shared('data/gpt2-tokenizer', file));
      assert.deepEqual(viaFile.encode('The Eiffel Tower'), [464, 412, 733, 417, 8765], file);
    }
  });

  test('special tokens, ids <-> strings, no truncation, id checks', async () => {
    const tok = await load();
    assert.deepEqual(tok.encode('a<|endoftext|>b'), [64, 50256, 65]);
    assert.equal(tok.decode([50256, 64]), '<|endoftext|>a');
    assert.equal(tok.decode([50256, 64], { skipSpecialTokens: true }), 'a');
    assert.equal(tok.bosId, 50256); // GPT2Tokenizer's defaults without a tokenizer_config.json
    assert.equal(tok.eosId, 50256);
    assert.equal(tok.padId, null);
    assert.deepEqual(tok.encode('Hello', { addBos: true }), [50256, 15496]);
    assert.equal(tok.idToToken(995), 'Ġworld');
    assert.equal(tok.tokenToId('Ġworld'), 995);
    assert.equal(tok.tokenToId('definitely not a token'), null);
    assert.equal(tok.idToToken(10 ** 6), null);
    assert.equal(tok.decodeToken(30266), '\uFFFD'); // first half of 東
    assert.equal(tok.decode([30266, 109]), '東');
    assert.equal(tok.decode([]), '');
    assert.throws(() => tok.decode([50257]), RangeError);
    assert.throws(() => tok.decode([1.5]), RangeError);
    // tokenizer.json says truncation max_length 50: never applied
    assert.equal(tok.encode('word '.repeat(200)).length, 201);
    // dummy-prefix modes do nothing on a tokenizer without one
    assert.deepEqual(tok.encode(' Paris', { dummyPrefix: 'always' }), tok.encode(' Paris'));
  });

  test('round trips (unicode, emoji, CRLF) and wikitext with CRLF', async () => {
    const tok = await load();
    checkRoundTrips(
      (t) => tok.encode(t),
      (ids) => tok.decode(ids),
    );
    const wikiPath = shared('data/wikitext/wikitext-2-raw-test.raw');
    if (existsSync(wikiPath)) {
      const wiki = readFileSync(wikiPath, 'utf8').slice(0, 50_000);
      assert.ok(wiki.includes('\r\n'));
      assert.equal(tok.decode(tok.encode(wiki)), wiki);
    }
  });

  test(
    'model folder with tokenizer_config.json (tiny-gpt2)',
    { skip: needs('reference/models/tiny-gpt2/tokenizer_config.json') },
    async () => {
      const tok = await loadTokenizer(shared('reference/models/tiny-gpt2'));
      assert.equal(tok.bosId, 50256);
      assert.equal(tok.eosId, 50256);
      assert.deepEqual(tok.encode('Hello world'), [15496, 995]);
      const spaced = await loadHfTokenizer(shared('reference/models/tiny-gpt2'), { addPrefixSpace: true });
      assert.deepEqual(spaced.encode('Hello world'), [18435, 995]);
      assert.deepEqual(spaced.encode(' Hello world'), [18435, 995]);
      assert.deepEqual(spaced.encode('Hello world', { dummyPrefix: 'never' }), [15496, 995]);
      assert.deepEqual(spaced.encode(' Hello', { dummyPrefix: 'always' }), [220, 18435]);
    },
  );
});

describe('tok512 (llama2.c tokenizer.bin, stories260K)', { skip: needs('data/stories260K/tok512.bin', GOLDEN) }, () => {
  const load = (): Promise<Tokenizer> => loadTokenizer(shared('data/stories260K'));

  test('every golden case in the three dummy-prefix modes, and decode', async () => {
    const tok = await load();
    assert.equal(tok.kind, 'llama2c');
    assert.equal(tok.vocabSize, 512);
    for (const c of golden().tok512.cases) {
      for (const mode of MODES) {
        assert.deepEqual(
          tok.encode(c.text, { addBos: false, dummyPrefix: mode }),
          expectedIds(c, mode),
          `${mode} ${JSON.stringify(c.text)}`,
        );
      }
      assert.equal(tok.decode(c.ids_dummy_never), c.decoded_never);
      // llama2.c: after BOS the leading (dummy-prefix) space is stripped
      assert.equal(tok.decode([1, ...c.ids_dummy_always], { skipSpecialTokens: true }), c.text);
    }
  });

  test('defaults follow run.c: BOS + dummy prefix; addSpecialTokens:false drops BOS', async () => {
    const tok = await load();
    const always = golden().tok512.cases[0]?.ids_dummy_always ?? [];
    assert.deepEqual(tok.encode('Hello world'), [1, ...always]);
    assert.deepEqual(tok.encode('Hello world', { addSpecialTokens: false }), always);
    assert.deepEqual(tok.encode('', {}), [1]);
    assert.equal(tok.bosId, 1);
    assert.equal(tok.eosId, 2);
    assert.equal(tok.padId, null);
    assert.equal(tok.idToToken(1), '<s>');
    assert.equal(tok.tokenToId('</s>'), 2);
    assert.equal(tok.tokenToId(' t'), 259);
    assert.equal(tok.decode([1, 403, 2]), '<s>Once</s>');
    assert.equal(tok.decode([1, 403, 2], { skipSpecialTokens: true }), 'Once');
    assert.throws(() => tok.decode([512]), /out of range/);
  });

  test('stories260K greedy 200 tokens decode to the recorded llama2.c text; self-check line re-encodes', async () => {
    const tok = await load();
    const g = readJson<{ bos_id: number; greedy_token_ids: number[]; text: string }>('data/stories260K/golden_greedy_200.json');
    assert.equal(tok.decode([g.bos_id, ...g.greedy_token_ids], { skipSpecialTokens: true }), g.text);
    const firstLine = g.text.split('\n')[0] ?? '';
    assert.deepEqual(tok.encode(firstLine, { addBos: false }), golden().tok512.stories260K_selfcheck.first_line_ids_from_golden);
  });

  test('round trips, byte fallback assembled across tokens', async () => {
    const tok = await load();
    checkRoundTrips(
      (t) => tok.encode(t, { addBos: false, dummyPrefix: 'never' }),
      (ids) => tok.decode(ids),
    );
    checkRoundTrips(
      (t) => tok.encode(t),
      (ids) => tok.decode(ids, { skipSpecialTokens: true }),
    );
    const smile = tok.encode('🙂', { addBos: false, dummyPrefix: 'never' });
    assert.deepEqual(smile, [0xf0 + 3, 0x9f + 3, 0x99 + 3, 0x82 + 3]);
    assert.equal(tok.decodeToken(smile[0] ?? 0), '\uFFFD');
    assert.equal(tok.decode(smile), '🙂');
  });

  test('naive twin: the run.c port gives the same ids (goldens, random text, wikitext)', async () => {
    const tok = await loadLlama2cTokenizer(shared('data/stories260K/tok512.bin'));
    const texts = golden().tok512.cases.map((c) => c.text);
    const rand = rng(1);
    for (let i = 0; i < 40; i++) texts.push(randomText(rand, 1 + Math.floor(rand() * 200), ALPHABET));
    const wikiPath = shared('data/wikitext/wikitext-2-raw-test.raw');
    if (existsSync(wikiPath)) texts.push(readFileSync(wikiPath, 'utf8').slice(0, 1500));
    for (const t of texts) {
      assert.deepEqual(tok.encode(t, { addBos: false }), runcEncode(tok, t, true), JSON.stringify(t.slice(0, 60)));
      assert.deepEqual(tok.encode(t, { addBos: false, dummyPrefix: 'never' }), runcEncode(tok, t, false));
    }
  });

  test(
    'tiny-llama reference folder (tok512.bin beside config.json) loads as llama2c',
    { skip: needs('reference/models/tiny-llama/tok512.bin') },
    async () => {
      const tok = await loadTokenizer(shared('reference/models/tiny-llama'));
      assert.equal(tok.kind, 'llama2c');
      assert.deepEqual(tok.encode('Hello world', { addBos: false }), golden().tok512.cases[0]?.ids_dummy_always);
    },
  );
});

describe('LLaMA-2 32k (llama2.c tokenizer.bin)', { skip: needs('data/llama2-tokenizer/tokenizer.bin') }, () => {
  test('known SentencePiece ids, BOS, round trips', async () => {
    const tok = await loadTokenizer(shared('data/llama2-tokenizer'));
    assert.equal(tok.kind, 'llama2c');
    assert.equal(tok.vocabSize, 32000);
    assert.equal(tok.bosId, 1);
    assert.deepEqual(tok.encode('Hello world'), [1, 15043, 3186]);
    assert.deepEqual(tok.encode('Hello world', { addBos: false }), [15043, 3186]);
    assert.deepEqual(tok.encode('\n', { addBos: false, dummyPrefix: 'never' }), [13]); // <0x0A>
    assert.equal(tok.idToToken(15043), ' Hello');
    checkRoundTrips(
      (t) => tok.encode(t),
      (ids) => tok.decode(ids, { skipSpecialTokens: true }),
    );
  });

  test('naive twin and heap merge agree with run.c', async () => {
    const tok = await loadLlama2cTokenizer(shared('data/llama2-tokenizer/tokenizer.bin'));
    const rand = rng(2);
    for (let i = 0; i < 20; i++) {
      const t = randomText(rand, 1 + Math.floor(rand() * 300), ALPHABET);
      assert.deepEqual(tok.encode(t, { addBos: false }), runcEncode(tok, t, true), JSON.stringify(t.slice(0, 60)));
    }
    // long stretches with no safe split point go through the heap; compare with run.c's scan
    const letters = [...'abcdefghijklmnopqrstuvwxyz'];
    for (let i = 0; i < 5; i++) {
      const ids = [...randomText(rand, 400, letters)].map((ch) => tok.tokenToId(ch) ?? 0);
      assert.deepEqual(tok.mergeIds(ids, 'heap'), tok.mergeIds(ids, 'scan'));
    }
  });

  test(
    'tokenizer.model (SentencePiece protobuf) is recognised with a clear error',
    { skip: needs('data/llama2-tokenizer/tokenizer.model') },
    async () => {
      const msg = /tokenizer\.model is a SentencePiece model \(protobuf\).*use tokenizer\.json.*or tokenizer\.bin/;
      await assert.rejects(loadTokenizer(shared('data/llama2-tokenizer/tokenizer.model')), msg);
      const dir = mkdtempSync(join(tmpdir(), 'lmedit-tok-'));
      try {
        symlinkSync(shared('data/llama2-tokenizer/tokenizer.model'), join(dir, 'tokenizer.model'));
        await assert.rejects(loadTokenizer(dir), msg);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});

/** tokenizer.json in Hugging Face's LLaMA layout, converted from a llama2.c vocabulary (as LlamaConverter does). */
function llamaTokenizerJson(tok: Llama2cTokenizer, style: 'legacy' | 'metaspace'): JsonObject {
  const specials = ['<unk>', '<s>', '</s>'];
  const names = tok.pieces.map((p, i) => specials[i] ?? new TextDecoder().decode(p).replaceAll(' ', '\u2581'));
  const vocab: Record<string, number> = {};
  names.forEach((n, i) => (vocab[n] ??= i));
  const order = names
    .map((_, i) => i)
    .slice(259)
    .sort((a, b) => (tok.scores[b] ?? 0) - (tok.scores[a] ?? 0));
  const merges: [string, string][] = [];
  for (const id of order) {
    const cps = [...(names[id] ?? '')];
    for (let k = 1; k < cps.length; k++) {
      const [a, b] = [cps.slice(0, k).join(''), cps.slice(k).join('')];
      if (vocab[a] !== undefined && vocab[b] !== undefined) merges.push([a, b]);
    }
  }
  const metaspace = { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'first', split: false };
  return {
    added_tokens: specials.map((content, id) => ({ id, content, special: true, normalized: false })),
    normalizer:
      style === 'legacy'
        ? {
            type: 'Sequence',
            normalizers: [
              { type: 'Prepend', prepend: '\u2581' },
              { type: 'Replace', pattern: { String: ' ' }, content: '\u2581' },
            ],
          }
        : null,
    pre_tokenizer: style === 'legacy' ? null : metaspace,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [],
      special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
    },
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: '\u2581' }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        { type: 'Strip', content: ' ', start: 1, stop: 0 },
      ],
    },
    model: { type: 'BPE', unk_token: '<unk>', fuse_unk: true, byte_fallback: true, vocab, merges },
  };
}

describe(
  'HF SentencePiece-BPE with byte fallback (tok512 as a LLaMA tokenizer.json)',
  { skip: needs('data/stories260K/tok512.bin', GOLDEN) },
  () => {
    for (const style of ['legacy', 'metaspace'] as const) {
      test(`${style}: goldens in the three dummy-prefix modes, BOS from the template, round trips`, async () => {
        const base = await loadLlama2cTokenizer(shared('data/stories260K/tok512.bin'));
        const tok = hfTokenizerFromJson(llamaTokenizerJson(base, style), { bos_token: '<s>', eos_token: { content: '</s>' } });
        assert.equal(tok.bosId, 1);
        assert.equal(tok.eosId, 2);
        assert.equal(tok.hasDummyPrefix, true);
        for (const c of golden().tok512.cases) {
          for (const mode of MODES) {
            assert.deepEqual(
              tok.encode(c.text, { addBos: false, dummyPrefix: mode }),
              expectedIds(c, mode),
              `${mode} ${JSON.stringify(c.text)}`,
            );
          }
          if (c.text !== '') assert.deepEqual(tok.encode(c.text, { dummyPrefix: 'always' }), [1, ...c.ids_dummy_always]);
          assert.deepEqual(tok.encode(c.text, { addSpecialTokens: false, dummyPrefix: 'never' }), c.ids_dummy_never);
        }
        const encodeText = (t: string): number[] => tok.encode(t.replaceAll('<s>', '[s]'), { dummyPrefix: 'always' });
        const decodeText = (ids: number[]): string => tok.decode(ids, { skipSpecialTokens: true }).replaceAll('[s]', '<s>');
        checkRoundTrips(encodeText, decodeText); // '<s>' in text is the BOS special token in HF tokenizers
        assert.deepEqual(tok.encode('a<s>', { addBos: false, dummyPrefix: 'never' }), [412, 1]);
        assert.equal(tok.decode([1, 403]), '<s> Once');
      });
    }
  },
);

describe('llama2.c tokenizer.bin validation and loader dispatch (synthetic, no ../shared)', () => {
  const pieces: [string, number][] = [...BASE, [' ', -5], ['a', -1], ['b', -2], ['ab', -3], [' ab', -4]];

  test('a small synthetic vocabulary encodes by score', () => {
    const tok = parseLlama2cTokenizer(tokenizerBin(pieces), 'synthetic.bin');
    assert.equal(tok.vocabSize, 264);
    assert.deepEqual(tok.encode('ab', { addBos: false }), [263]); // ' ' + 'ab' -> ' ab'
    assert.deepEqual(tok.encode('abc', { addBos: false, dummyPrefix: 'never' }), [262, 99 + 3]); // c: byte fallback
    assert.equal(tok.decode([1, 263, 99 + 3]), '<s>abc');
  });

  test('truncated, absurd lengths, bad header, missing byte tokens: errors name the file', async () => {
    const good = tokenizerBin(pieces);
    const src = 'bad.bin';
    assert.throws(() => parseLlama2cTokenizer(good.slice(0, 2), src), /bad\.bin: .*too short/);
    assert.throws(() => parseLlama2cTokenizer(good.slice(0, good.length - 1), src), /bad\.bin: .*truncated in token 263/);
    assert.throws(() => parseLlama2cTokenizer(good.slice(0, 4 + 6), src), /bad\.bin: .*truncated at token 0/);
    const absurd = good.slice();
    new DataView(absurd.buffer).setInt32(8, 1 << 30, true); // length of token 0
    assert.throws(() => parseLlama2cTokenizer(absurd, src), /bad\.bin: .*token 0 .*length 1073741824/);
    const header = good.slice();
    new DataView(header.buffer).setInt32(0, -7, true);
    assert.throws(() => parseLlama2cTokenizer(header, src), /bad\.bin: .*max_token_length -7/);
    assert.throws(
      () =>
        parseLlama2cTokenizer(
          tokenizerBin([
            ['<unk>', 0],
            ['a', 0],
          ]),
          src,
        ),
      /only 2 tokens/,
    );
    const swapped: [string, number][] = pieces.map(([p, s], i) => [i === 70 ? 'x' : p, s]);
    assert.throws(() => parseLlama2cTokenizer(tokenizerBin(swapped), src), /token 70 is "x", expected byte token <0x43>/);
    assert.throws(() => parseLlama2cTokenizer(good, src, { vocabSize: 300 }), /truncated at token 264/);
    assert.equal(parseLlama2cTokenizer(good, src, { vocabSize: 260 }).vocabSize, 260);

    const dir = mkdtempSync(join(tmpdir(), 'lmedit-tok-'));
    try {
      await assert.rejects(
        loadTokenizer(dir),
        /no tokenizer found\. Looked for: tokenizer\.json; vocab\.json \+ merges\.txt; tokenizer\.bin/,
      );
      await assert.rejects(loadTokenizer(join(dir, 'missing')), /no such file or folder/);
      writeFileSync(join(dir, 'tok9.bin'), good.slice(0, 99));
      await assert.rejects(
        loadTokenizer(dir),
        new RegExp(`${join(dir, 'tok9.bin').replace(/[.\\/]/g, '\\$&')}: not a valid llama2\\.c tokenizer\\.bin: truncated`),
      );
      writeFileSync(join(dir, 'tok9.bin'), good);
      assert.equal((await loadTokenizer(dir)).kind, 'llama2c');
      writeFileSync(join(dir, 'tokenizer.json'), '{"not": "a tokenizer"}');
      await assert.rejects(loadTokenizer(dir), /tokenizer\.json: not a tokenizer\.json/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
