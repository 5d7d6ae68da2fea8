/**
 * Sharded checkpoints and loadCheckpoint: cross-shard validation (missing shard, listed-but-absent,
 * duplicates), layout detection, and the refusal of PyTorch pickle files.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as T from '../tensor/index.js';
import { SafetensorsError, saveSafetensors } from './safetensors.js';
import { loadCheckpoint, loadShardedSafetensors, readShardIndex } from './sharded.js';

const TINY_LLAMA = fileURLToPath(new URL('../../../shared/reference/models/tiny-llama/', import.meta.url));

let root = '';
before(() => {
  root = mkdtempSync(join(tmpdir(), 'lmedit-shard-'));
});
after(() => rmSync(root, { recursive: true, force: true }));

const vec = (...xs: number[]): T.Tensor => T.Tensor.fromStorage(new Float32Array(xs), 'float32', [xs.length]);

/** A directory with two shards and an index; `edit` may change the weight map before writing. */
function shardedDir(edit?: (wm: Record<string, string>) => void): string {
  const dir = mkdtempSync(join(root, 'ck-'));
  saveSafetensors(join(dir, 's1.safetensors'), { a: vec(1, 2), b: vec(3) }, { format: 'pt' });
  saveSafetensors(join(dir, 's2.safetensors'), { c: vec(4, 5, 6) });
  const wm: Record<string, string> = { a: 's1.safetensors', b: 's1.safetensors', c: 's2.safetensors' };
  edit?.(wm);
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: 24 }, weight_map: wm }));
  return dir;
}

describe('sharded safetensors', () => {
  test('loads every shard; weight_map order; names and dtype options apply', () => {
    const dir = shardedDir();
    const ck = loadCheckpoint(dir);
    assert.equal(ck.format, 'sharded');
    assert.deepEqual([...ck.tensors.keys()], ['a', 'b', 'c']);
    assert.deepEqual(ck.tensors.get('c')!.toArray(), [4, 5, 6]);
    assert.deepEqual(ck.metadata, { format: 'pt' });
    assert.deepEqual(ck.index!.metadata, { total_size: 24 });
    assert.equal(ck.files.length, 2);
    const some = loadShardedSafetensors(join(dir, 'model.safetensors.index.json'), {
      names: (n) => n !== 'b',
      dtype: 'bfloat16',
    });
    assert.deepEqual([...some.tensors.keys()], ['a', 'c']);
    assert.equal(some.tensors.get('a')!.dtype, 'bfloat16');
  });

  test('a missing shard is named, with the tensors it should hold', () => {
    const dir = shardedDir((wm) => (wm['c'] = 's3.safetensors'));
    assert.throws(
      () => loadCheckpoint(dir),
      (e: unknown) => e instanceof SafetensorsError && /missing shard.*s3\.safetensors \(1 tensors\)/.test(e.message),
    );
  });

  test('a tensor listed in the index but absent from its shard', () => {
    const dir = shardedDir((wm) => (wm['zzz'] = 's2.safetensors'));
    assert.throws(() => loadCheckpoint(dir), /"zzz".*s2\.safetensors does not contain it/);
    const moved = shardedDir((wm) => (wm['a'] = 's2.safetensors'));
    assert.throws(() => loadCheckpoint(moved), /"a".*does not contain it \(it is in s1\.safetensors\)/);
  });

  test('a tensor stored in two shards', () => {
    const dir = shardedDir();
    saveSafetensors(join(dir, 's2.safetensors'), { c: vec(4, 5, 6), a: vec(9, 9) });
    assert.throws(() => loadCheckpoint(dir), /"a".*stored in two shards: s1\.safetensors and s2\.safetensors/);
  });

  test('bad index files', () => {
    const dir = mkdtempSync(join(root, 'idx-'));
    const p = join(dir, 'model.safetensors.index.json');
    writeFileSync(p, '{"weight_map": {"a": "../../etc/passwd"}}');
    assert.throws(() => readShardIndex(p), /outside the checkpoint directory/);
    writeFileSync(p, '{"weight_map": {"a": 3}}');
    assert.throws(() => readShardIndex(p), /not a file name/);
    writeFileSync(p, '{"metadata": {}}');
    assert.throws(() => readShardIndex(p), /no "weight_map"/);
    writeFileSync(p, '{"weight_map": ');
    assert.throws(
      () => readShardIndex(p),
      (e: unknown) => e instanceof SafetensorsError && e.message.startsWith(p) && /not valid JSON/.test(e.message),
    );
  });
});

describe('loadCheckpoint layout detection', () => {
  test('model.safetensors, a lone *.safetensors, or the file itself', () => {
    const dir = mkdtempSync(join(root, 'single-'));
    saveSafetensors(join(dir, 'model.safetensors'), { w: vec(1) });
    saveSafetensors(join(dir, 'other.safetensors'), { v: vec(2) });
    assert.deepEqual([...loadCheckpoint(dir).tensors.keys()], ['w']);
    assert.deepEqual([...loadCheckpoint(join(dir, 'other.safetensors')).tensors.keys()], ['v']);
    rmSync(join(dir, 'model.safetensors'));
    assert.deepEqual([...loadCheckpoint(dir).tensors.keys()], ['v']);
    saveSafetensors(join(dir, 'third.safetensors'), { u: vec(3) });
    assert.throws(() => loadCheckpoint(dir), /several safetensors checkpoints/);
  });

  test('PyTorch pickle files are refused with conversion instructions', () => {
    const dir = mkdtempSync(join(root, 'pickle-'));
    writeFileSync(join(dir, 'pytorch_model.bin'), 'PK');
    writeFileSync(join(dir, 'config.json'), '{}');
    assert.throws(
      () => loadCheckpoint(dir),
      (e: unknown) => {
        const m = (e as Error).message;
        assert.match(m, /pytorch_model\.bin/);
        assert.match(m, /unpickling can execute arbitrary code/);
        assert.match(m, /safe_serialization=True/);
        assert.match(m, /safetensors\.torch import save_file/);
        return true;
      },
    );
    assert.throws(() => loadCheckpoint(join(dir, 'pytorch_model.bin')), /unpickling/);
  });

  test('empty and missing directories', () => {
    const dir = mkdtempSync(join(root, 'empty-'));
    mkdirSync(join(dir, 'sub'));
    assert.throws(() => loadCheckpoint(dir), /no checkpoint found.*contains: sub/);
    assert.throws(() => loadCheckpoint(join(dir, 'nope')), /does not exist/);
  });

  test(
    'tiny-llama reference model',
    { skip: existsSync(TINY_LLAMA) ? false : `shared data absent: ${TINY_LLAMA} not found` },
    () => {
      const ck = loadCheckpoint(TINY_LLAMA);
      assert.equal(ck.format, 'single');
      assert.equal(ck.tensors.size, 39);
      assert.deepEqual(ck.tensors.get('lm_head.weight')!.shape, [512, 64]);
    },
  );
});
