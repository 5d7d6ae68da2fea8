/**
 * Corpus reading and chunking: files and folders, JSONL, split modes, code-point cuts, budgets,
 * defaults and errors — with a character tokenizer so every id is predictable.
 */
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  corpusChunks,
  corpusFiles,
  corpusId,
  corpusTokenIds,
  firstCodePoints,
  goldenCovRecipe,
  resolveCorpus,
} from './corpus.js';
import { charTokenizer, tempDir, tinyGpt2 } from './testing.js';

const tok = charTokenizer();
const ids = (s: string): number[] => tok.encode(s);
const tmp = tempDir();
after(() => tmp.remove());

const folder = join(tmp.dir, 'corpus');
mkdirSync(join(folder, 'sub'), { recursive: true });
writeFileSync(join(folder, 'a.txt'), 'abc\r\ndef\r\n \r\nghi\r\n');
writeFileSync(join(folder, 'sub', 'b.jsonl'), '{"text": "xyz"}\n\n{"text": "uv", "other": 1}\n');
writeFileSync(join(folder, 'ignored.md'), 'not a corpus file');

describe('corpus', () => {
  test('a folder is read recursively in sorted order; unknown extensions are skipped', () => {
    assert.deepEqual(
      corpusFiles(folder).map((f) => f.slice(folder.length + 1)),
      ['a.txt', join('sub', 'b.jsonl')],
    );
    assert.throws(() => corpusFiles(join(folder, 'ignored.md')), /unsupported file type/);
    assert.throws(() => corpusFiles(join(folder, 'nope')), /does not exist/);
  });

  test('split file / line / paragraph; CRLF kept; JSONL text field', () => {
    const file = corpusTokenIds(resolveCorpus({ path: folder, nSamples: 10 }, null, null), tok);
    assert.deepEqual(file, ids('abc\r\ndef\r\n \r\nghi\r\n' + 'xyz' + 'uv'));
    const texts = (split: 'line' | 'paragraph'): number[][] =>
      [
        ...corpusChunks(resolveCorpus({ path: join(folder, 'a.txt'), split, chunkLength: 100, nSamples: 10 }, null, null), tok),
      ].map((c) => [...c.ids]);
    assert.deepEqual(texts('line'), [ids('abc\r\n'), ids('def\r\n'), ids('ghi\r\n')]);
    assert.deepEqual(texts('paragraph'), [ids('abc\r\ndef\r\n'), ids('ghi\r\n')]);
  });

  test('chunking, overflow truncate, nSamples, maxTokens cut the last chunk', () => {
    const c = resolveCorpus({ path: folder, chunkLength: 4, maxTokens: 14 }, null, null);
    const chunks = [...corpusChunks(c, tok)];
    assert.deepEqual(
      chunks.map((x) => x.ids.length),
      [4, 4, 4, 2],
    );
    assert.deepEqual(
      chunks.map((x) => x.index),
      [0, 1, 2, 3],
    );
    const t = [
      ...corpusChunks(resolveCorpus({ path: folder, chunkLength: 4, overflow: 'truncate', nSamples: 2 }, null, null), tok),
    ];
    assert.deepEqual(
      t.map((x) => [...x.ids]),
      [ids('abc\r'), ids('xyz')],
    );
  });

  test('firstChars counts code points (Python s[:n]) and BOS is per text', () => {
    assert.equal(firstCodePoints('a😀b😀c', 3), 'a😀b');
    writeFileSync(join(tmp.dir, 'emoji.txt'), '😀😀😀abc');
    const c = resolveCorpus({ path: join(tmp.dir, 'emoji.txt'), firstChars: 4, addBos: true, nSamples: 1 }, null, null);
    assert.deepEqual(corpusTokenIds(c, tok), [0, ...ids('😀😀😀a')]);
  });

  test('defaults: chunk min(max positions, 1024), budget 10·d_k; the golden recipe', () => {
    const model = tinyGpt2();
    const r = resolveCorpus({ path: folder }, model, 32);
    assert.equal(r.chunkLength, 64);
    assert.equal(r.maxTokens, 320);
    assert.equal(resolveCorpus({ path: folder, nSamples: 5 }, model, 32).maxTokens, null);
    assert.equal(resolveCorpus({ path: folder }, null, 6400).chunkLength, 1024);
    assert.throws(() => resolveCorpus({ path: folder, chunkLength: 65 }, model, 32), /exceeds the model's 64 positions/);
    assert.throws(() => resolveCorpus({ path: folder, maxTokens: 0 }, model, 32), /positive integer/);
    const g = goldenCovRecipe('x.raw');
    assert.deepEqual(
      [g.firstChars, g.maxTokens, g.chunkLength, g.addBos, g.dummyPrefix],
      [20000, 2000, 128, false, 'unless_space'],
    );
  });

  test('JSONL errors name the file and line', () => {
    const bad = join(tmp.dir, 'bad.jsonl');
    writeFileSync(bad, '{"text": "ok"}\n{oops\n');
    assert.throws(() => corpusTokenIds(resolveCorpus({ path: bad, nSamples: 9 }, null, null), tok), /bad\.jsonl:2: invalid JSON/);
    writeFileSync(bad, '{"body": "ok"}\n');
    assert.throws(
      () => corpusTokenIds(resolveCorpus({ path: bad, nSamples: 9 }, null, null), tok),
      /bad\.jsonl:1: no string field "text"/,
    );
  });

  test('corpus id changes with the contents', () => {
    const f = join(tmp.dir, 'id.txt');
    writeFileSync(f, 'one');
    const c = resolveCorpus({ path: f, identity: 'content' }, null, 8);
    const id1 = corpusId(c);
    writeFileSync(f, 'two');
    assert.notEqual(corpusId(c), id1);
    assert.equal(corpusId(c), corpusId(c));
  });
});
