/**
 * Hugging Face hub ids -> local model directories, through the standard HF cache layout
 * (refs/, snapshots/ symlinks into blobs/), downloading missing files with resume and sha256 checks.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readFileSync, readlinkSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { copyFileSync, lstatSync, symlinkSync, writeFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, relative, resolve as resolvePath } from 'node:path';
import { INDEX_FILE, SINGLE_FILE, readShardIndex } from './sharded.js';
import { ProgressLine } from '../util/progress.js';

export const DEFAULT_ENDPOINT = 'https://huggingface.co';
/** Files fetched when present (404 is fine); config.json and the weights are required. */
export const OPTIONAL_FILES: readonly string[] = [
  'generation_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'vocab.json',
  'merges.txt',
  'tokenizer.model',
];

type Env = Readonly<Record<string, string | undefined>>;

export interface ResolveModelOptions {
  /** branch, tag or commit hash (default 'main') */
  revision?: string;
  /** hub cache directory (default $HF_HUB_CACHE, $HF_HOME/hub or ~/.cache/huggingface/hub) */
  cacheDir?: string;
  /** hub endpoint (default $HF_ENDPOINT or https://huggingface.co) */
  endpoint?: string;
  /** access token (default $HF_TOKEN, then the token file written by `huggingface-cli login`) */
  token?: string;
  /** never touch the network (default: $HF_HUB_OFFLINE is 1/true/yes/on) */
  offline?: boolean;
  /** more optional files to fetch besides OPTIONAL_FILES */
  extraFiles?: readonly string[];
  /** progress on stderr: a bar on a TTY, periodic lines otherwise (default true) */
  progress?: boolean;
  /** environment to read the HF_* variables from (default process.env) */
  env?: Env;
  /** timeout of each metadata request, ms (default 10 000) */
  metadataTimeoutMs?: number;
  /** a download with no data for this long is aborted (and can resume later), ms (default 60 000) */
  stallTimeoutMs?: number;
}

/** A hub request failed for a reason other than the network (auth, missing repo, bad checksum...). */
export class HubError extends Error {
  override readonly name = 'HubError';
  constructor(
    readonly repoId: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The hub could not be reached (connection refused, DNS, timeout, dropped download). */
class NetworkError extends Error {
  override readonly name = 'NetworkError';
}

function isTrue(v: string | undefined): boolean {
  return v !== undefined && ['1', 'true', 'yes', 'on'].includes(v.trim().toLowerCase());
}

function hfHome(env: Env): string {
  return env['HF_HOME'] || join(env['XDG_CACHE_HOME'] || join(homedir(), '.cache'), 'huggingface');
}

/**
 * The hub cache directory huggingface_hub uses with this environment.
 * @example hfHubCacheDir() // '/home/me/.cache/huggingface/hub'
 */
export function hfHubCacheDir(env: Env = process.env): string {
  return env['HF_HUB_CACHE'] || env['HUGGINGFACE_HUB_CACHE'] || join(hfHome(env), 'hub');
}

/**
 * The cache folder name of a model repo.
 * @example repoFolderName('meta-llama/Llama-2-7b-hf') // 'models--meta-llama--Llama-2-7b-hf'
 */
export function repoFolderName(repoId: string, repoType: RepoType = 'model'): string {
  return `${repoType}s--${repoId.split('/').join('--')}`;
}

/** Hub repository kinds lmedit reads: models (weights, tokenizers) and datasets (parquet task data). */
export type RepoType = 'model' | 'dataset';

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$/;

/**
 * True for a syntactically valid hub model id: `name` or `org/name`.
 * @example isHubRepoId('gpt2-xl') // true
 */
export function isHubRepoId(s: string): boolean {
  const parts = s.split('/');
  if (parts.length > 2) return false;
  return parts.every((p) => NAME_RE.test(p) && !p.includes('--') && !p.includes('..') && !p.endsWith('.') && !p.endsWith('-'));
}

/** A header value safe to use as one path component. */
function safeComponent(v: string): boolean {
  return v.length > 0 && v.length <= 255 && v !== '.' && v !== '..' && !/[/\\\0]/.test(v);
}

function safeRelPath(p: string): boolean {
  return !isAbsolute(p) && p.split('/').every(safeComponent) && !p.includes('\\');
}

const COMMIT_RE = /^[0-9a-f]{40}$/;
const SHA256_RE = /^[0-9a-f]{64}$/;

interface Ctx {
  repoId: string;
  /** the repo's URL path: `org/name` for models, `datasets/org/name` for datasets */
  urlRepo: string;
  revision: string;
  repoDir: string;
  endpoint: string;
  token: string | undefined;
  tokenSource: string;
  progress: boolean;
  metaTimeoutMs: number;
  stallTimeoutMs: number;
}

interface FileMeta {
  commit: string;
  etag: string;
  size: number | null;
}

function readToken(env: Env): { token: string | undefined; source: string } {
  const fromEnv = env['HF_TOKEN'] || env['HUGGING_FACE_HUB_TOKEN'];
  if (fromEnv) return { token: fromEnv.trim(), source: 'HF_TOKEN' };
  const file = env['HF_TOKEN_PATH'] || join(hfHome(env), 'token');
  try {
    const t = readFileSync(file, 'utf8').trim();
    if (t) return { token: t, source: file };
  } catch {
    // no token file
  }
  return { token: undefined, source: 'HF_TOKEN' };
}

function fileUrl(ctx: Ctx, revision: string, file: string): string {
  const path = file.split('/').map(encodeURIComponent).join('/');
  return `${ctx.endpoint}/${ctx.urlRepo}/resolve/${encodeURIComponent(revision)}/${path}`;
}

async function doFetch(url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    const why = cause?.code ?? cause?.message ?? (e as Error).message;
    throw new NetworkError(`${url}: ${why}`, { cause: e });
  }
}

function authHeaders(ctx: Ctx): Record<string, string> {
  return ctx.token ? { authorization: `Bearer ${ctx.token}` } : {};
}

function httpError(ctx: Ctx, file: string, res: Response): HubError {
  const code = res.headers.get('x-error-code') ?? '';
  const where = `${ctx.repoId} (revision ${ctx.revision})`;
  if (res.status === 401 || res.status === 403) {
    if (code === 'GatedRepo') {
      return new HubError(
        ctx.repoId,
        `${where} is gated: request access at ${ctx.endpoint}/${ctx.repoId} and set HF_TOKEN to a token of the account that has it` +
          (ctx.token ? ` (the token from ${ctx.tokenSource} has no access yet)` : ''),
      );
    }
    return new HubError(
      ctx.repoId,
      ctx.token
        ? `${where}: the hub answered ${res.status} for ${file}; the token from ${ctx.tokenSource} was rejected or cannot read this repo. ` +
            'Check HF_TOKEN (https://huggingface.co/settings/tokens) and that the repo id is right.'
        : `${where}: the hub answered ${res.status} for ${file}: the repo is private or gated, or does not exist. ` +
            'Set HF_TOKEN to an access token that can read it (https://huggingface.co/settings/tokens).',
    );
  }
  if (res.status === 404 && code === 'RepoNotFound') {
    return new HubError(ctx.repoId, `${ctx.repoId}: repository not found on ${ctx.endpoint} (if it is private, set HF_TOKEN)`);
  }
  if (res.status === 404 && code === 'RevisionNotFound') {
    return new HubError(ctx.repoId, `${ctx.repoId}: revision "${ctx.revision}" not found`);
  }
  return new HubError(ctx.repoId, `${where}: HTTP ${res.status} ${res.statusText} for ${file}`);
}

/** HEAD a file; null when the file does not exist in the repo. */
async function fetchMeta(ctx: Ctx, revision: string, file: string): Promise<FileMeta | null> {
  let url = fileUrl(ctx, revision, file);
  let res: Response | undefined;
  for (let hop = 0; hop < 10; hop++) {
    res = await doFetch(url, {
      method: 'HEAD',
      redirect: 'manual',
      headers: { ...authHeaders(ctx), 'accept-encoding': 'identity' },
      signal: AbortSignal.timeout(ctx.metaTimeoutMs),
    });
    const loc = res.headers.get('location');
    // relative redirects (renamed repos) are followed; an absolute one points at the CDN and this
    // response already carries the metadata
    if (res.status >= 300 && res.status < 400 && loc && !/^([a-z][a-z0-9+.-]*:|\/\/)/i.test(loc)) {
      url = new URL(loc, url).href;
      continue;
    }
    break;
  }
  if (!res) throw new HubError(ctx.repoId, 'unreachable');
  if (res.status === 404 && !['RepoNotFound', 'RevisionNotFound'].includes(res.headers.get('x-error-code') ?? '')) return null;
  if (!(res.ok || (res.status >= 300 && res.status < 400))) throw httpError(ctx, file, res);
  const commit = res.headers.get('x-repo-commit');
  const rawEtag = res.headers.get('x-linked-etag') ?? res.headers.get('etag');
  if (!commit || !rawEtag) {
    throw new HubError(
      ctx.repoId,
      `${ctx.endpoint} sent no X-Repo-Commit/ETag for ${ctx.repoId}/${file}: is HF_ENDPOINT a Hugging Face hub (or a proxy that strips headers)?`,
    );
  }
  const etag = rawEtag.replace(/^W\//, '').replace(/^"|"$/g, '');
  if (!safeComponent(commit) || !safeComponent(etag)) {
    throw new HubError(ctx.repoId, `unusable commit "${commit}" or ETag "${etag}" for ${ctx.repoId}/${file}`);
  }
  const sizeHeader = res.headers.get('x-linked-size') ?? res.headers.get('content-length');
  const size = sizeHeader !== null && /^\d+$/.test(sizeHeader) ? Number(sizeHeader) : null;
  return { commit, etag, size };
}

// ---- progress ----------------------------------------------------------------------------

function fmtBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

const PROGRESS_MIN_BYTES = 1 << 20;

// ---- cache -------------------------------------------------------------------------------

function snapshotDir(ctx: Ctx, commit: string): string {
  return join(ctx.repoDir, 'snapshots', commit);
}

/** Points snapshots/{commit}/{file} at the blob (relative symlink; a copy where symlinks fail). */
function linkSnapshot(blob: string, snapPath: string): void {
  mkdirSync(dirname(snapPath), { recursive: true });
  const rel = relative(dirname(snapPath), blob);
  let st;
  try {
    st = lstatSync(snapPath);
  } catch {
    st = null;
  }
  if (st) {
    if (st.isSymbolicLink() && readlinkSync(snapPath) === rel) return;
    unlinkSync(snapPath);
  }
  try {
    symlinkSync(rel, snapPath);
  } catch {
    copyFileSync(blob, snapPath);
  }
}

function writeRef(ctx: Ctx, commit: string): void {
  if (ctx.revision === commit) return;
  const ref = join(ctx.repoDir, 'refs', ctx.revision);
  let cur: string | null = null;
  try {
    cur = readFileSync(ref, 'utf8').trim();
  } catch {
    // no ref yet
  }
  if (cur === commit) return;
  mkdirSync(dirname(ref), { recursive: true });
  const tmp = `${ref}.${process.pid}.tmp`;
  writeFileSync(tmp, commit);
  renameSync(tmp, ref);
}

function markNoExist(ctx: Ctx, commit: string, file: string): void {
  const p = join(ctx.repoDir, '.no_exist', commit, file);
  try {
    mkdirSync(dirname(p), { recursive: true });
    if (!existsSync(p)) writeFileSync(p, '');
  } catch {
    // a cache hint only
  }
}

async function hashFile(path: string, hash: Hash): Promise<void> {
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
}

/** Downloads one file into blobs/{etag} (resuming blobs/{etag}.incomplete) and links the snapshot. */
async function ensureFile(ctx: Ctx, commit: string, file: string, meta: FileMeta): Promise<void> {
  const blobsDir = join(ctx.repoDir, 'blobs');
  const blob = join(blobsDir, meta.etag);
  const snapPath = join(snapshotDir(ctx, commit), file);
  if (!existsSync(blob)) {
    mkdirSync(blobsDir, { recursive: true });
    await download(ctx, commit, file, meta, blob);
  }
  linkSnapshot(blob, snapPath);
}

async function download(ctx: Ctx, commit: string, file: string, meta: FileMeta, blob: string): Promise<void> {
  const inc = `${blob}.incomplete`;
  const wantSha = SHA256_RE.test(meta.etag) ? meta.etag : null;
  let have = existsSync(inc) ? statSync(inc).size : 0;
  if (meta.size !== null && have > meta.size) {
    unlinkSync(inc);
    have = 0;
  }
  let hash = wantSha ? createHash('sha256') : null;
  if (hash && have > 0) await hashFile(inc, hash);
  const label = `${ctx.repoId}/${file}`;

  // a partial file that already has every byte (interrupted just before the rename) needs no request
  const complete = meta.size !== null && have === meta.size && existsSync(inc);
  if (!complete) {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const arm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => controller.abort(new Error(`no data for ${ctx.stallTimeoutMs} ms`)), ctx.stallTimeoutMs);
    };
    arm();
    let res: Response;
    try {
      res = await doFetch(fileUrl(ctx, commit, file), {
        headers: { ...authHeaders(ctx), 'accept-encoding': 'identity', ...(have > 0 ? { range: `bytes=${have}-` } : {}) },
        redirect: 'follow',
        signal: controller.signal,
      });
    } catch (e) {
      clearTimeout(timer);
      throw e;
    }
    if (res.status === 416 && have > 0) {
      // the partial file is useless for this server: start over
      clearTimeout(timer);
      await res.body?.cancel();
      unlinkSync(inc);
      return download(ctx, commit, file, meta, blob);
    }
    if (!res.ok) {
      clearTimeout(timer);
      await res.body?.cancel();
      if (res.status === 404) throw new HubError(ctx.repoId, `${ctx.repoId}: ${file} disappeared at commit ${commit} (HTTP 404)`);
      throw httpError(ctx, file, res);
    }
    if (have > 0) {
      const range = res.headers.get('content-range');
      const start = res.status === 206 && range ? /^bytes (\d+)-/.exec(range)?.[1] : undefined;
      if (start === undefined || Number(start) !== have) {
        // the server ignored or misread the Range request: restart from byte 0
        have = 0;
        hash = wantSha ? createHash('sha256') : null;
        if (res.status === 206) {
          clearTimeout(timer);
          await res.body?.cancel();
          unlinkSync(inc);
          return download(ctx, commit, file, meta, blob);
        }
      }
    }
    const progress = new ProgressLine(ctx.progress && (meta.size === null || meta.size >= PROGRESS_MIN_BYTES), {
      label: `downloading ${label}`,
      total: meta.size,
      initial: have,
      format: fmtBytes,
    });
    let fh: FileHandle | null = null;
    let done = have;
    try {
      fh = await open(inc, have > 0 ? 'a' : 'w');
      if (res.body) {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          arm();
          await fh.write(chunk);
          hash?.update(chunk);
          done += chunk.length;
          progress.update(done);
          if (meta.size !== null && done > meta.size) break;
        }
      }
      await fh.sync();
    } catch (e) {
      progress.stop(false);
      if (e instanceof HubError) throw e;
      throw new NetworkError(
        `download of ${label} broke off at ${fmtBytes(done)}: ${(e as Error).message}; ` +
          `the partial file ${inc} is kept and the next attempt resumes it`,
        { cause: e },
      );
    } finally {
      clearTimeout(timer);
      await fh?.close();
    }
    progress.stop(true);
    if (meta.size !== null && done < meta.size) {
      throw new NetworkError(`download of ${label} ended at ${done} of ${meta.size} bytes; the next attempt resumes it`);
    }
    if (meta.size !== null && done > meta.size) {
      unlinkSync(inc);
      throw new HubError(ctx.repoId, `${label}: the server sent more than the announced ${meta.size} bytes; download discarded`);
    }
  }
  if (hash && wantSha) {
    const got = hash.digest('hex');
    if (got !== wantSha) {
      unlinkSync(inc);
      throw new HubError(
        ctx.repoId,
        `${label}: checksum mismatch: expected sha256 ${wantSha}, got ${got}; the corrupt download was deleted (try again)`,
      );
    }
  }
  renameSync(inc, blob);
}

// ---- resolution --------------------------------------------------------------------------

/** What a usable snapshot lacks (empty = complete). */
function missingFromSnapshot(snap: string): string[] {
  const missing: string[] = [];
  if (!existsSync(join(snap, 'config.json'))) missing.push('config.json');
  if (existsSync(join(snap, SINGLE_FILE))) return missing;
  if (!existsSync(join(snap, INDEX_FILE))) {
    missing.push(`${SINGLE_FILE} (or ${INDEX_FILE} and its shards)`);
    return missing;
  }
  try {
    const idx = readShardIndex(join(snap, INDEX_FILE));
    for (const s of idx.shards) if (!existsSync(join(snap, s))) missing.push(s);
  } catch (e) {
    missing.push(`a readable ${INDEX_FILE} (${(e as Error).message})`);
  }
  return missing;
}

function readRef(ctx: Ctx): string | null {
  if (COMMIT_RE.test(ctx.revision)) return ctx.revision;
  try {
    const c = readFileSync(join(ctx.repoDir, 'refs', ctx.revision), 'utf8').trim();
    return safeComponent(c) ? c : null;
  } catch {
    return null;
  }
}

function fromCache(ctx: Ctx, offline: boolean, reason: string, cause?: unknown): string {
  const commit = readRef(ctx);
  const snap = commit ? snapshotDir(ctx, commit) : null;
  const missing = snap ? missingFromSnapshot(snap) : ['config.json', `${SINGLE_FILE} (or ${INDEX_FILE} and its shards)`];
  if (snap && missing.length === 0) return snap;
  const searched = snap ? `Searched ${snap}` : `Searched ${ctx.repoDir} (it has no refs/${ctx.revision})`;
  throw new HubError(
    ctx.repoId,
    `cannot resolve ${ctx.repoId} (revision ${ctx.revision}): ${reason}, and the local cache lacks ${missing.join(', ')}. ` +
      `${searched}. ` +
      (offline
        ? 'Unset HF_HUB_OFFLINE to download it, or pass a local model directory instead.'
        : `Check the network (or HF_ENDPOINT=${ctx.endpoint}) and try again, or pass a local model directory instead.`),
    cause === undefined ? undefined : { cause },
  );
}

async function fromHub(ctx: Ctx, extraFiles: readonly string[]): Promise<string> {
  if (COMMIT_RE.test(ctx.revision)) {
    const snap = snapshotDir(ctx, ctx.revision);
    if (existsSync(snap) && missingFromSnapshot(snap).length === 0) return snap;
  }
  const cfg = await fetchMeta(ctx, ctx.revision, 'config.json');
  if (!cfg)
    throw new HubError(
      ctx.repoId,
      `${ctx.repoId} (revision ${ctx.revision}) has no config.json: is it a transformers model repo?`,
    );
  const commit = cfg.commit;
  writeRef(ctx, commit);
  await ensureFile(ctx, commit, 'config.json', cfg);
  for (const f of [...OPTIONAL_FILES, ...extraFiles]) {
    if (!safeRelPath(f)) throw new HubError(ctx.repoId, `invalid file name "${f}"`);
    const m = await fetchMeta(ctx, commit, f);
    if (m) await ensureFile(ctx, commit, f, m);
    else markNoExist(ctx, commit, f);
  }
  const single = await fetchMeta(ctx, commit, SINGLE_FILE);
  if (single) {
    await ensureFile(ctx, commit, SINGLE_FILE, single);
    return snapshotDir(ctx, commit);
  }
  markNoExist(ctx, commit, SINGLE_FILE);
  const index = await fetchMeta(ctx, commit, INDEX_FILE);
  if (!index) {
    markNoExist(ctx, commit, INDEX_FILE);
    const pickle = await fetchMeta(ctx, commit, 'pytorch_model.bin');
    throw new HubError(
      ctx.repoId,
      `${ctx.repoId} (revision ${ctx.revision}) has no ${SINGLE_FILE} or ${INDEX_FILE}` +
        (pickle
          ? ': it only has PyTorch pickle weights (pytorch_model.bin), which lmedit does not load because unpickling can execute ' +
            'code. Look for a revision with safetensors (e.g. the "refs/pr/N" conversion PR) or convert it locally with ' +
            'transformers: from_pretrained(...).save_pretrained(dir, safe_serialization=True).'
          : '.'),
    );
  }
  await ensureFile(ctx, commit, INDEX_FILE, index);
  const idx = readShardIndex(join(snapshotDir(ctx, commit), INDEX_FILE));
  for (const shard of idx.shards) {
    if (!safeRelPath(shard)) throw new HubError(ctx.repoId, `${INDEX_FILE} names an unsafe shard path "${shard}"`);
    const m = await fetchMeta(ctx, commit, shard);
    if (!m) throw new HubError(ctx.repoId, `${ctx.repoId}: ${INDEX_FILE} lists shard ${shard}, which the repo does not have`);
    await ensureFile(ctx, commit, shard, m);
  }
  return snapshotDir(ctx, commit);
}

/**
 * Resolves a local directory or a hub model id to a local directory holding config.json, the
 * tokenizer files and the safetensors weights. An existing path is returned as is; a hub id is
 * looked up in (and, when online, downloaded into) the standard Hugging Face cache.
 * @example
 * const dir = await resolveModelDir('gpt2-xl');             // ~/.cache/huggingface/hub/models--gpt2-xl/snapshots/<sha>
 * const local = await resolveModelDir('./my-checkpoint');   // './my-checkpoint'
 */
export async function resolveModelDir(idOrPath: string, opts: ResolveModelOptions = {}): Promise<string> {
  if (existsSync(idOrPath)) return idOrPath;
  if (!isHubRepoId(idOrPath)) {
    throw new Error(`${idOrPath}: no such file or directory, and not a hub model id ("name" or "org/name")`);
  }
  const ctx = makeCtx(idOrPath, 'model', opts);
  if (opts.offline ?? isTrue((opts.env ?? process.env)['HF_HUB_OFFLINE']))
    return fromCache(ctx, true, 'offline mode (HF_HUB_OFFLINE=1)');
  try {
    return await fromHub(ctx, opts.extraFiles ?? []);
  } catch (e) {
    if (e instanceof NetworkError) return fromCache(ctx, false, `the hub is unreachable (${e.message})`, e);
    throw e;
  }
}

function makeCtx(repoId: string, repoType: RepoType, opts: ResolveModelOptions): Ctx {
  const env = opts.env ?? process.env;
  const revision = opts.revision ?? 'main';
  if (revision.split('/').some((p) => !safeComponent(p))) throw new Error(`invalid revision "${revision}"`);
  const { token, source } = opts.token !== undefined ? { token: opts.token, source: 'the token option' } : readToken(env);
  return {
    repoId,
    urlRepo: repoType === 'dataset' ? `datasets/${repoId}` : repoId,
    revision,
    repoDir: join(resolvePath(opts.cacheDir ?? hfHubCacheDir(env)), repoFolderName(repoId, repoType)),
    endpoint: (opts.endpoint ?? (env['HF_ENDPOINT'] || DEFAULT_ENDPOINT)).replace(/\/+$/, ''),
    token: token || undefined,
    tokenSource: source,
    progress: (opts.progress ?? true) && !isTrue(env['HF_HUB_DISABLE_PROGRESS_BARS']),
    metaTimeoutMs: opts.metadataTimeoutMs ?? 10_000,
    stallTimeoutMs: opts.stallTimeoutMs ?? 60_000,
  };
}

/**
 * One file of a hub repository (e.g. a dataset's parquet shard) in the Hugging Face cache,
 * downloaded when online (resumable, checksummed), else taken from the cache.
 * @example const path = await resolveHubFile('nyu-mll/glue', 'sst2/validation-00000-of-00001.parquet', { repoType: 'dataset' });
 */
export async function resolveHubFile(
  repoId: string,
  file: string,
  opts: ResolveModelOptions & { repoType?: RepoType } = {},
): Promise<string> {
  if (!isHubRepoId(repoId)) throw new Error(`"${repoId}" is not a hub repository id ("name" or "org/name")`);
  if (!safeRelPath(file)) throw new Error(`invalid file name "${file}"`);
  const ctx = makeCtx(repoId, opts.repoType ?? 'model', opts);
  const cached = (reason: string, cause?: unknown): string => {
    const commit = readRef(ctx);
    const path = commit ? join(snapshotDir(ctx, commit), file) : null;
    if (path && existsSync(path)) return path;
    throw new HubError(
      repoId,
      `cannot get ${repoId}/${file} (revision ${ctx.revision}): ${reason}, and it is not in the cache (${ctx.repoDir}). ` +
        'Check the network or unset HF_HUB_OFFLINE, or pass a local file instead.',
      cause === undefined ? undefined : { cause },
    );
  };
  if (opts.offline ?? isTrue((opts.env ?? process.env)['HF_HUB_OFFLINE'])) return cached('offline mode (HF_HUB_OFFLINE=1)');
  try {
    const meta = await fetchMeta(ctx, ctx.revision, file);
    if (!meta) throw new HubError(repoId, `${repoId} (revision ${ctx.revision}) has no file ${file}`);
    writeRef(ctx, meta.commit);
    await ensureFile(ctx, meta.commit, file, meta);
    return join(snapshotDir(ctx, meta.commit), file);
  } catch (e) {
    if (e instanceof NetworkError) return cached(`the hub is unreachable (${e.message})`, e);
    throw e;
  }
}
