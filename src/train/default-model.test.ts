/**
 * The default-model cache: a directory is used only when every file matches its recorded
 * checksum; a missing checksum file, a changed byte or a missing file means "rebuild".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultModelPath, lmeditHome, verifyModelDir } from './default-model.js';
import { createHash } from 'node:crypto';

test('verifyModelDir accepts only a directory whose files match checksums.json', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lmedit-home-'));
  try {
    assert.equal(verifyModelDir(dir), false, 'no checksums: not a model');
    const files = { 'config.json': '{"model_type":"llama"}', 'model.safetensors': 'weights' };
    for (const [f, c] of Object.entries(files)) writeFileSync(join(dir, f), c);
    const sums = Object.fromEntries(Object.entries(files).map(([f, c]) => [f, createHash('sha256').update(c).digest('hex')]));
    writeFileSync(join(dir, 'checksums.json'), JSON.stringify(sums));
    assert.equal(verifyModelDir(dir), true);
    writeFileSync(join(dir, 'model.safetensors'), 'weightz');
    assert.equal(verifyModelDir(dir), false, 'a changed byte');
    writeFileSync(join(dir, 'model.safetensors'), 'weights');
    unlinkSync(join(dir, 'config.json'));
    assert.equal(verifyModelDir(dir), false, 'a missing file');
    writeFileSync(join(dir, 'checksums.json'), '{not json');
    assert.equal(verifyModelDir(dir), false, 'a corrupt checksum file');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the cache lives under $LMEDIT_HOME, named by world version and recipe', () => {
  const prev = process.env['LMEDIT_HOME'];
  process.env['LMEDIT_HOME'] = '/tmp/somewhere';
  try {
    assert.equal(lmeditHome(), '/tmp/somewhere');
    assert.match(defaultModelPath(), /^\/tmp\/somewhere\/models\/world-v\d+-[0-9a-f]{8}$/);
  } finally {
    if (prev === undefined) delete process.env['LMEDIT_HOME'];
    else process.env['LMEDIT_HOME'] = prev;
  }
});
