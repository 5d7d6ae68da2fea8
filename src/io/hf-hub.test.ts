/**
 * Hub resolution against a fake hub on 127.0.0.1: cache layout, offline reuse, resume with Range,
 * checksum mismatch, 401 handling and the offline error message.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as T from '../tensor/index.js';
import { saveSafetensors } from './safetensors.js';
import { loadCheckpoint } from './sharded.js';
import {
  HubError,
  hfHubCacheDir,
  isHubRepoId,
  repoFolderName,
  resolveHubFile,
  resolveModelDir,
  type ResolveModelOptions,
} from './hf-hub.js';

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const gitSha1 = (b: Buffer): string => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');

interface FakeRepo {
  commit: string;
  files: Map<string, Buffer>;
  lfs: Set<string>;
  /** token required (401 without it) */
  token?: string;
}

interface Logged {
  method: string;
  url: string;
  range: string | undefined;
  auth: string | undefined;
}

/** A minimal hub: /{repo}/resolve/{rev}/{file} (HEAD/GET), LFS files redirected to /cdn/{sha256}. */
class FakeHub {
  readonly repos = new Map<string, FakeRepo>();
  readonly log: Logged[] = [];
  /** serve corrupted bytes for these sha256s (the ETag stays the true hash) */
  readonly corrupt = new Set<string>();
  /** cut the connection after this many bytes of the next GET of this sha256 */
  readonly dropAfter = new Map<string, number>();
  /** old repo id -> new one (answered with a relative 307, as the hub does for renamed repos) */
  readonly renamed = new Map<string, string>();
  private server: Server | null = null;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
  count(): number {
    return this.log.length;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '/';
    this.log.push({ method: req.method ?? '', url, range: req.headers.range, auth: req.headers.authorization });
    const cdn = /^\/cdn\/([0-9a-f]{64})$/.exec(url);
    if (cdn) return this.serveBlob(req, res, cdn[1]!);
    const m = /^\/(.+?)\/resolve\/([^/]+)\/(.+)$/.exec(url);
    if (!m) return this.reply(res, 404, {});
    const [repoId, rev, file] = [m[1]!, decodeURIComponent(m[2]!), m[3]!.split('/').map(decodeURIComponent).join('/')];
    const target = this.renamed.get(repoId);
    if (target) return this.reply(res, 307, { location: `/${target}/resolve/${m[2]!}/${m[3]!}` });
    const repo = this.repos.get(repoId);
    if (!repo) return this.reply(res, 401, { 'x-error-code': 'RepoNotFound' });
    if (repo.token && req.headers.authorization !== `Bearer ${repo.token}`) return this.reply(res, 401, {});
    if (rev !== 'main' && rev !== repo.commit) return this.reply(res, 404, { 'x-error-code': 'RevisionNotFound' });
    const content = repo.files.get(file);
    if (!content) return this.reply(res, 404, { 'x-error-code': 'EntryNotFound', 'x-repo-commit': repo.commit });
    if (repo.lfs.has(file)) {
      const sha = sha256(content);
      return this.reply(res, 302, {
        location: `${this.url}/cdn/${sha}`,
        'x-repo-commit': repo.commit,
        'x-linked-etag': `"${sha}"`,
        'x-linked-size': String(content.length),
        etag: '"not-the-content-hash"',
      });
    }
    res.writeHead(200, { 'x-repo-commit': repo.commit, etag: `"${gitSha1(content)}"`, 'content-length': content.length });
    res.end(req.method === 'HEAD' ? undefined : content);
  }

  private serveBlob(req: IncomingMessage, res: ServerResponse, sha: string): void {
    let content: Buffer | undefined;
    for (const r of this.repos.values()) for (const c of r.files.values()) if (sha256(c) === sha) content = c;
    if (!content) return this.reply(res, 404, {});
    if (this.corrupt.has(sha)) {
      content = Buffer.from(content);
      content[content.length >> 1]! ^= 0xff;
    }
    let start = 0;
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (range) start = Number(range[1]);
    if (start > content.length) return this.reply(res, 416, {});
    const body = content.subarray(start);
    const headers: Record<string, string | number> = { 'content-length': body.length, etag: `"${sha}"` };
    if (range) headers['content-range'] = `bytes ${start}-${content.length - 1}/${content.length}`;
    res.writeHead(range ? 206 : 200, headers);
    if (req.method === 'HEAD') return void res.end();
    const drop = this.dropAfter.get(sha);
    if (drop !== undefined) {
      this.dropAfter.delete(sha);
      res.write(body.subarray(0, drop), () => setTimeout(() => res.socket?.destroy(), 50));
      return;
    }
    res.end(body);
  }

  private reply(res: ServerResponse, status: number, headers: Record<string, string>): void {
    res.writeHead(status, headers);
    res.end();
  }
}

const hub = new FakeHub();
let root = '';
const COMMIT = 'a'.repeat(39) + '1';

function weights(seed: number, names: string[]): Map<string, T.Tensor> {
  const m = new Map<string, T.Tensor>();
  for (const [i, n] of names.entries()) {
    const a = new Float32Array(50_000);
    for (let j = 0; j < a.length; j++) a[j] = Math.sin(seed * 1000 + i * 100 + j);
    m.set(n, T.Tensor.fromStorage(a, 'float32', [250, 200]));
  }
  return m;
}

function safetensorsBytes(tensors: Map<string, T.Tensor>): Buffer {
  const p = join(root, `tmp-${Math.random().toString(36).slice(2)}.safetensors`);
  saveSafetensors(p, tensors, { format: 'pt' });
  const b = readFileSync(p);
  rmSync(p);
  return b;
}

const CONFIG = Buffer.from(JSON.stringify({ model_type: 'gpt2', n_embd: 200 }));
let MODEL: Buffer = Buffer.alloc(0);

/** A fresh HF_HOME and options pointing at the fake hub. */
function setup(extra: Record<string, string> = {}): { home: string; opts: ResolveModelOptions } {
  const home = mkdtempSync(join(root, 'home-'));
  return { home, opts: { env: { HF_HOME: home, HF_ENDPOINT: hub.url, ...extra }, progress: false } };
}

function closedPortUrl(): Promise<string> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => resolve(`http://127.0.0.1:${port}`));
    });
  });
}

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'lmedit-hub-'));
  await hub.start();
  MODEL = safetensorsBytes(weights(1, ['transformer.wte.weight', 'transformer.h.0.mlp.c_fc.weight']));
  hub.repos.set('test-org/tiny', {
    commit: COMMIT,
    files: new Map([
      ['config.json', CONFIG],
      ['tokenizer.json', Buffer.from('{"version":"1.0"}')],
      ['model.safetensors', MODEL],
    ]),
    lfs: new Set(['model.safetensors']),
  });
  const shard1 = safetensorsBytes(weights(2, ['model.embed_tokens.weight']));
  const shard2 = safetensorsBytes(weights(3, ['lm_head.weight', 'model.norm.weight']));
  const index = {
    metadata: { total_size: shard1.length + shard2.length },
    weight_map: {
      'model.embed_tokens.weight': 'model-00001-of-00002.safetensors',
      'lm_head.weight': 'model-00002-of-00002.safetensors',
      'model.norm.weight': 'model-00002-of-00002.safetensors',
    },
  };
  hub.repos.set('sharded', {
    commit: 'b'.repeat(40),
    files: new Map([
      ['config.json', CONFIG],
      ['model.safetensors.index.json', Buffer.from(JSON.stringify(index))],
      ['special_tokens_map.json', Buffer.alloc(0)],
      ['model-00001-of-00002.safetensors', shard1],
      ['model-00002-of-00002.safetensors', shard2],
    ]),
    lfs: new Set(['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']),
  });
  hub.repos.set('test-org/private', {
    commit: 'c'.repeat(40),
    files: new Map([
      ['config.json', CONFIG],
      ['model.safetensors', MODEL],
    ]),
    lfs: new Set(['model.safetensors']),
    token: 'hf_secret',
  });
  hub.repos.set('datasets/test-org/tasks', {
    commit: 'e'.repeat(40),
    files: new Map([['sst2/validation-00000-of-00001.parquet', Buffer.from('PAR1 pretend parquet PAR1')]]),
    lfs: new Set(['sst2/validation-00000-of-00001.parquet']),
  });
  hub.repos.set('test-org/pickled', {
    commit: 'd'.repeat(40),
    files: new Map([
      ['config.json', CONFIG],
      ['pytorch_model.bin', Buffer.from('not really a pickle')],
    ]),
    lfs: new Set(),
  });
});
after(async () => {
  await hub.stop();
  rmSync(root, { recursive: true, force: true });
});

describe('resolveModelDir', { timeout: 30_000 }, () => {
  test('ids, paths and cache locations', () => {
    assert.ok(isHubRepoId('gpt2-xl'));
    assert.ok(isHubRepoId('meta-llama/Llama-2-7b-hf'));
    assert.ok(!isHubRepoId('a/b/c') && !isHubRepoId('../x') && !isHubRepoId('x--y') && !isHubRepoId(''));
    assert.equal(repoFolderName('meta-llama/Llama-2-7b-hf'), 'models--meta-llama--Llama-2-7b-hf');
    assert.equal(hfHubCacheDir({ HF_HUB_CACHE: '/c', HF_HOME: '/h' }), '/c');
    assert.equal(hfHubCacheDir({ HF_HOME: '/h' }), join('/h', 'hub'));
    assert.match(hfHubCacheDir({}), /huggingface[/\\]hub$/);
  });

  test('an existing path is returned as is; a bad id is a clear error', async () => {
    assert.equal(await resolveModelDir(root), root);
    await assert.rejects(resolveModelDir('./no/such/dir'), /no such file or directory, and not a hub model id/);
  });

  test('downloads into the standard cache layout; loadCheckpoint reads the snapshot', async () => {
    const { home, opts } = setup();
    const dir = await resolveModelDir('test-org/tiny', opts);
    const repoDir = join(home, 'hub', 'models--test-org--tiny');
    assert.equal(dir, join(repoDir, 'snapshots', COMMIT));
    assert.equal(readFileSync(join(repoDir, 'refs', 'main'), 'utf8'), COMMIT);
    const modelLink = join(dir, 'model.safetensors');
    assert.ok(lstatSync(modelLink).isSymbolicLink());
    assert.equal(readlinkSync(modelLink), join('..', '..', 'blobs', sha256(MODEL)));
    assert.equal(readlinkSync(join(dir, 'config.json')), join('..', '..', 'blobs', gitSha1(CONFIG)));
    assert.ok(readFileSync(modelLink).equals(MODEL));
    assert.ok(existsSync(join(dir, 'tokenizer.json')));
    assert.ok(!existsSync(join(dir, 'generation_config.json')));
    assert.ok(existsSync(join(repoDir, '.no_exist', COMMIT, 'generation_config.json')));
    assert.deepEqual(
      readdirSync(join(repoDir, 'blobs')).sort(),
      [gitSha1(CONFIG), sha256(MODEL), gitSha1(Buffer.from('{"version":"1.0"}'))].sort(),
    );
    const ck = loadCheckpoint(dir);
    assert.deepEqual([...ck.tensors.keys()].sort(), ['transformer.h.0.mlp.c_fc.weight', 'transformer.wte.weight']);
    assert.equal(ck.tensors.get('transformer.wte.weight')!.at(0, 1), Math.fround(Math.sin(1001)));

    // second resolution: offline (no request at all), and with the hub unreachable
    const n = hub.count();
    assert.equal(await resolveModelDir('test-org/tiny', { ...opts, env: { ...opts.env, HF_HUB_OFFLINE: '1' } }), dir);
    assert.equal(hub.count(), n);
    const down = await closedPortUrl();
    assert.equal(await resolveModelDir('test-org/tiny', { ...opts, endpoint: down }), dir);
    // online again: metadata requests only, nothing downloaded twice
    await resolveModelDir('test-org/tiny', opts);
    assert.ok(hub.log.slice(n).every((r) => r.method === 'HEAD'));
    // a commit hash whose snapshot is complete needs no network
    const m = hub.count();
    assert.equal(await resolveModelDir('test-org/tiny', { ...opts, revision: COMMIT }), dir);
    assert.equal(hub.count(), m);
  });

  test('sharded checkpoints: index and every shard', async () => {
    const { opts } = setup();
    const dir = await resolveModelDir('sharded', opts);
    assert.match(dir, /models--sharded[/\\]snapshots[/\\]b{40}$/);
    assert.equal(readFileSync(join(dir, 'special_tokens_map.json')).length, 0);
    const ck = loadCheckpoint(dir);
    assert.equal(ck.format, 'sharded');
    assert.deepEqual([...ck.tensors.keys()], ['model.embed_tokens.weight', 'lm_head.weight', 'model.norm.weight']);
  });

  test('an interrupted download resumes from the .incomplete file with a Range request', async () => {
    const { home, opts } = setup();
    const sha = sha256(MODEL);
    hub.dropAfter.set(sha, 150_000);
    await assert.rejects(resolveModelDir('test-org/tiny', opts), (e: unknown) => {
      assert.ok(e instanceof HubError);
      assert.match(e.message, /model\.safetensors/);
      assert.match(e.message, /broke off|ended at/);
      return true;
    });
    const inc = join(home, 'hub', 'models--test-org--tiny', 'blobs', `${sha}.incomplete`);
    const partial = statSync(inc).size;
    assert.ok(partial > 0 && partial <= 150_000, `partial size ${partial}`);
    const n = hub.count();
    const dir = await resolveModelDir('test-org/tiny', opts);
    const gets = hub.log.slice(n).filter((r) => r.method === 'GET' && r.url === `/cdn/${sha}`);
    assert.equal(gets.length, 1);
    assert.equal(gets[0]!.range, `bytes=${partial}-`);
    assert.ok(readFileSync(join(dir, 'model.safetensors')).equals(MODEL));
    assert.ok(!existsSync(inc));
  });

  test('a checksum mismatch is detected and the bad file is not kept', async () => {
    const { home, opts } = setup();
    const sha = sha256(MODEL);
    hub.corrupt.add(sha);
    try {
      await assert.rejects(resolveModelDir('test-org/tiny', opts), (e: unknown) => {
        assert.ok(e instanceof HubError);
        assert.match(e.message, /checksum mismatch/);
        assert.ok(e.message.includes(sha));
        return true;
      });
    } finally {
      hub.corrupt.delete(sha);
    }
    const blobs = readdirSync(join(home, 'hub', 'models--test-org--tiny', 'blobs'));
    assert.ok(!blobs.some((b) => b.startsWith(sha)), `left behind: ${blobs.join(', ')}`);
    assert.ok(!existsSync(join(home, 'hub', 'models--test-org--tiny', 'snapshots', COMMIT, 'model.safetensors')));
  });

  test('401 without a token names HF_TOKEN; HF_TOKEN is sent as a Bearer token', async () => {
    const { opts } = setup();
    await assert.rejects(resolveModelDir('test-org/private', opts), (e: unknown) => {
      assert.ok(e instanceof HubError);
      assert.match(e.message, /401/);
      assert.match(e.message, /HF_TOKEN/);
      assert.match(e.message, /test-org\/private/);
      return true;
    });
    await assert.rejects(resolveModelDir('test-org/private', { ...opts, env: { ...opts.env, HF_TOKEN: 'wrong' } }), /rejected/);
    const dir = await resolveModelDir('test-org/private', { ...opts, env: { ...opts.env, HF_TOKEN: 'hf_secret' } });
    assert.ok(readFileSync(join(dir, 'model.safetensors')).equals(MODEL));
    // the token never travels to another origin (here the CDN is the same origin, so it is sent)
    assert.ok(hub.log.some((r) => r.auth === 'Bearer hf_secret'));
  });

  test('offline with an empty cache: the error names the repo, the missing files and the path searched', async () => {
    const { home, opts } = setup({ HF_HUB_OFFLINE: '1' });
    const n = hub.count();
    await assert.rejects(resolveModelDir('test-org/tiny', opts), (e: unknown) => {
      assert.ok(e instanceof HubError);
      assert.match(e.message, /test-org\/tiny/);
      assert.match(e.message, /HF_HUB_OFFLINE/);
      assert.match(e.message, /config\.json/);
      assert.match(e.message, /model\.safetensors/);
      assert.ok(e.message.includes(join(home, 'hub', 'models--test-org--tiny')), e.message);
      return true;
    });
    assert.equal(hub.count(), n);
    // the hub unreachable and nothing cached
    const down = await closedPortUrl();
    await assert.rejects(
      resolveModelDir('test-org/tiny', { ...opts, env: { HF_HOME: home }, endpoint: down }),
      /unreachable.*config\.json/s,
    );
    // a ref but a snapshot missing the weights
    const repoDir = join(home, 'hub', 'models--test-org--tiny');
    mkdirSync(join(repoDir, 'refs'), { recursive: true });
    mkdirSync(join(repoDir, 'snapshots', COMMIT), { recursive: true });
    writeFileSync(join(repoDir, 'refs', 'main'), COMMIT);
    writeFileSync(join(repoDir, 'snapshots', COMMIT, 'config.json'), '{}');
    await assert.rejects(resolveModelDir('test-org/tiny', opts), (e: unknown) => {
      assert.ok(e instanceof Error);
      assert.ok(!/lacks config\.json/.test(e.message));
      assert.match(e.message, /lacks model\.safetensors/);
      assert.ok(e.message.includes(join(repoDir, 'snapshots', COMMIT)));
      return true;
    });
  });

  test('renamed repos: relative redirects are followed, the cache uses the requested id', async () => {
    const { home, opts } = setup();
    hub.renamed.set('old-tiny', 'test-org/tiny');
    const dir = await resolveModelDir('old-tiny', opts);
    assert.equal(dir, join(home, 'hub', 'models--old-tiny', 'snapshots', COMMIT));
    assert.ok(readFileSync(join(dir, 'model.safetensors')).equals(MODEL));
  });

  test('a repo with only pytorch_model.bin explains why it is not loaded', async () => {
    const { opts } = setup();
    await assert.rejects(resolveModelDir('test-org/pickled', opts), /pickle.*execute/s);
  });

  test('unknown repos and revisions', async () => {
    const { opts } = setup();
    await assert.rejects(resolveModelDir('test-org/nope', opts), /HF_TOKEN/);
    await assert.rejects(resolveModelDir('test-org/tiny', { ...opts, revision: 'v9' }), /revision "v9" not found/);
  });
});

describe('resolveHubFile', { timeout: 30_000 }, () => {
  test('a dataset file lands in the datasets-- cache folder and is reused offline', async () => {
    const { home, opts } = setup();
    const file = 'sst2/validation-00000-of-00001.parquet';
    const path = await resolveHubFile('test-org/tasks', file, { ...opts, repoType: 'dataset' });
    assert.equal(path, join(home, 'hub', repoFolderName('test-org/tasks', 'dataset'), 'snapshots', 'e'.repeat(40), file));
    assert.equal(readFileSync(path, 'utf8'), 'PAR1 pretend parquet PAR1');
    assert.ok(repoFolderName('test-org/tasks', 'dataset').startsWith('datasets--'));
    const n = hub.count();
    assert.equal(await resolveHubFile('test-org/tasks', file, { ...opts, repoType: 'dataset', offline: true }), path);
    assert.equal(hub.count(), n, 'offline resolution makes no request');
    await assert.rejects(
      resolveHubFile('test-org/tasks', 'sst2/missing.parquet', { ...opts, repoType: 'dataset' }),
      /has no file sst2\/missing\.parquet/,
    );
    await assert.rejects(
      resolveHubFile('test-org/tasks', 'other.parquet', { ...opts, repoType: 'dataset', offline: true }),
      /not in the cache/,
    );
  });
});
