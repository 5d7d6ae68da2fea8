/**
 * A study across machines (BullMQ on Redis): workers as child processes, a Redis of the test's
 * own on a free port bound to 127.0.0.1 (stopped at the end). Checked against the one-machine run
 * of the same study, byte for byte: three workers; a worker SIGKILLed in the middle of a chain
 * together with the coordinator SIGKILLed and restarted; a deterministic failure recorded after
 * its attempts; and a worker whose model differs refusing every job with a clear error.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { modelDir, sharedPath, skipNoShared } from './golden/shared.js';
import { readResultLines } from '../src/study/results.js';
import { keyString } from '../src/study/types.js';

const bin = resolve(fileURLToPath(new URL('../bin/lmedit.js', import.meta.url)));
const redisServer = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).stdout.trim();
const skip =
  skipNoShared || (redisServer ? false : 'redis-server is not installed (apt-get install -y redis-server; .ci/run does)');

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

/** A child process with its stderr collected, and a way to wait for a line in it. */
class Proc {
  readonly child: ChildProcess;
  err = '';
  private readonly exited: Promise<number | null>;

  constructor(args: string[], env: NodeJS.ProcessEnv = process.env) {
    this.child = spawn(process.execPath, [bin, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    this.child.stderr!.on('data', (b: Buffer) => (this.err += b.toString()));
    this.exited = new Promise((r) => this.child.on('exit', (code) => r(code)));
  }

  async waitFor(re: RegExp, seconds = 180): Promise<void> {
    const t0 = Date.now();
    while (!re.test(this.err)) {
      if (this.child.exitCode !== null) throw new Error(`exited before ${re}:\n${this.err}`);
      if (Date.now() - t0 > seconds * 1000) throw new Error(`no ${re} after ${seconds} s:\n${this.err}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  exit(): Promise<number | null> {
    return this.exited;
  }

  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }
}

describe('studies across machines: BullMQ + Redis (stories260K)', { skip }, () => {
  let dir = '';
  let url = '';
  let redis: ChildProcess | null = null;
  let file = '';
  let want = '';
  const workers: Proc[] = [];

  const worker = (...extra: string[]): Proc => {
    const w = new Proc(['worker', '--queue', url, '--lock-seconds', '3', ...extra]);
    workers.push(w);
    return w;
  };
  const coordinator = (out: string, attempts = 2): Proc =>
    new Proc(['study', 'run', file, '--out', out, '--queue', url, '--attempts', String(attempts)]);
  const stopWorkers = async (): Promise<void> => {
    for (const w of workers.splice(0)) {
      w.kill('SIGINT');
      const t = setTimeout(() => w.kill('SIGKILL'), 20_000);
      await w.exit();
      clearTimeout(t);
    }
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lmedit-queue-'));
    const port = await freePort();
    url = `redis://127.0.0.1:${port}`;
    redis = spawn(
      redisServer,
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
      {
        stdio: 'ignore',
      },
    );
    for (let i = 0; i < 100; i++) {
      if (spawnSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8' }).stdout?.trim() === 'PONG') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    // an absurd learning rate makes FT-L's weights overflow: a deterministic failure (NaN/Inf)
    const bad = join(dir, 'ft-bad.yaml');
    const ftPreset = spawnSync(process.execPath, [bin, 'hparams', 'export', 'stories260K', '--method', 'ft-l', '--out', bad], {
      encoding: 'utf8',
    });
    assert.equal(ftPreset.status, 0, ftPreset.stderr);
    writeFileSync(
      bad,
      readFileSync(bad, 'utf8')
        .replace(/^lr: .*$/m, 'lr: 1.0e+38')
        .replace(/^norm_constraint: .*$/m, 'norm_constraint: false'),
    );
    file = join(dir, 'study.yaml');
    writeFileSync(
      file,
      stringify({
        name: 'queue-test',
        model: { path: modelDir('stories260K') },
        methods: [
          { method: 'rome' },
          { method: 'rome', rect: { keep: 0.4, mode: 'rect' } },
          { name: 'FT-L-exploding', method: 'ft-l', hparams: bad },
        ],
        mode: { sequential: true, batch_sizes: [1], checkpoints: [0, 1, 2, 3] },
        data: { file: sharedPath('data', 'zsre', 'zsre_mend_eval_portability_gpt4.json') },
        tasks: { names: ['sst2', 'rte'], limit: 2, scorer: 'both', batch_size: 4 },
        metrics: { enabled: true, order: 'post-each' },
      }),
    );
    const ref = spawnSync(process.execPath, [bin, 'study', 'run', file, '--out', join(dir, 'single'), '--quiet'], {
      encoding: 'utf8',
      timeout: 300_000,
    });
    assert.equal(ref.status, 1, `the exploding cell fails the one-machine run too\n${ref.stderr}`);
    want = readFileSync(join(dir, 'single', 'results.jsonl'), 'utf8');
    const lines = readResultLines(join(dir, 'single', 'results.jsonl')).lines;
    assert.ok(lines.length > 50, `a real study: ${lines.length} lines`);
    assert.ok(lines.some((l) => l.key.kind === 'failure' && l.key.cell === 'FT-L-exploding/b1'));
  });

  after(async () => {
    await stopWorkers();
    redis?.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });

  test('three workers give the one-machine results.jsonl byte for byte; the failing job is retried, then recorded', async () => {
    for (let i = 0; i < 3; i++) worker();
    const c = coordinator(join(dir, 'three'));
    assert.equal(await c.exit(), 1, `the failed cell makes the exit status 1\n${c.err}`);
    const got = readFileSync(join(dir, 'three', 'results.jsonl'), 'utf8');
    assert.equal(got, want, 'identical to the one-machine run');
    const lines = readResultLines(join(dir, 'three', 'results.jsonl')).lines;
    assert.equal(new Set(lines.map((l) => keyString(l.key))).size, lines.length, 'no duplicates');
    assert.match(
      workers.map((w) => w.err).join('\n'),
      /FT-L-exploding\/b1 of run .*, attempt 2/,
      'the deterministic failure got its second attempt',
    );
    assert.match(c.err, /FT-L-exploding\/b1 failed: .*(NaN|Inf|finite)/);
    const status = spawnSync(process.execPath, [bin, 'study', 'status', join(dir, 'three')], { encoding: 'utf8' });
    assert.match(status.stdout, /FT-L-exploding\/b1 +FAILED at 1/);
    assert.match(status.stdout, /queue: none of the run.s jobs is in the queue/);
    await stopWorkers();
  });

  test('a worker SIGKILLed mid-chain and the coordinator SIGKILLed and restarted: still identical, resumed from the last reported checkpoint', async () => {
    const out = join(dir, 'killed');
    const w1 = worker();
    worker();
    const first = coordinator(out);
    await first.waitFor(/\[1\/\d+ checkpoints\]/);
    first.kill('SIGKILL');
    await first.exit();
    // the worker on the plain ROME chain dies after that chain's first checkpoint
    const victim = await Promise.race(workers.map((w) => w.waitFor(/job \S+: ROME\/b1 @ 1: /).then(() => w)));
    victim.kill('SIGKILL');
    await victim.exit();
    workers.splice(workers.indexOf(victim), 1);
    if (victim === w1) worker();
    worker();
    const second = coordinator(out);
    assert.equal(await second.exit(), 1, second.err);
    assert.match(second.err, /reattached to study "queue-test"/);
    assert.equal(readFileSync(join(out, 'results.jsonl'), 'utf8'), want, 'identical to the one-machine run');
    assert.match(workers.map((w) => w.err).join('\n'), /ROME\/b1 of run \S+ \(resuming after \d+ reported lines\)/);
    await stopWorkers();
  });

  test('Ctrl-C twice on a worker puts its job back in the queue (no attempt counted); other workers finish it, identical', async () => {
    const out = join(dir, 'released');
    const a = worker();
    const c = coordinator(out);
    await a.waitFor(/job \S+: ROME(\+RECT-40%)?\/b1 of run/);
    a.kill('SIGINT');
    await a.waitFor(/finishing the current job/);
    a.kill('SIGINT');
    assert.equal(await a.exit(), 0, a.err);
    assert.match(a.err, /stopped; back in the queue/);
    workers.splice(workers.indexOf(a), 1);
    worker();
    worker();
    assert.equal(await c.exit(), 1, c.err);
    assert.equal(readFileSync(join(out, 'results.jsonl'), 'utf8'), want, 'identical to the one-machine run');
    assert.doesNotMatch(
      workers.map((w) => w.err).join('\n'),
      /ROME(\+RECT-40%)?\/b1 of run \S+.*, attempt 2/,
      'the release cost no attempt',
    );
    await stopWorkers();
  });

  test("a worker whose model differs from the coordinator's refuses the jobs, naming the file", async () => {
    const models = join(dir, 'models');
    cpSync(modelDir('stories260K'), join(models, 'hf'), { recursive: true });
    const weights = ['model.safetensors', 'pytorch_model.bin'].map((f) => join(models, 'hf', f)).find(existsSync)!;
    const bytes = readFileSync(weights);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 1;
    writeFileSync(weights, bytes);
    worker('--models-dir', models);
    const c = coordinator(join(dir, 'mismatch'), 1);
    assert.equal(await c.exit(), 1, c.err);
    const lines = readResultLines(join(dir, 'mismatch', 'results.jsonl')).lines;
    const failures = lines.filter((l) => l.key.kind === 'failure');
    assert.equal(failures.length, 4, 'every unit failed');
    for (const f of failures)
      assert.match(String(f.values['error']), /model .*: model\.safetensors differs from the coordinator's/);
    assert.equal(lines.filter((l) => l.key.kind === 'task').length, 0, 'nothing was computed on the wrong model');
    await stopWorkers();
  });
});
