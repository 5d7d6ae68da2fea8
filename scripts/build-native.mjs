#!/usr/bin/env node
// Builds the native CPU backend (build/Release/lmedit_native.node) with node-gyp.
//
// Run by `npm install` / `npm ci` (package.json "install") and by `npm run build:native`
// (with --strict). Without --strict a failed build is not fatal: lmedit then falls back to its
// pure-TypeScript backend (slow), and this script says so and exits 0. With --strict a failed
// build exits non-zero.
//
// Environment:
//   LMEDIT_NO_BLAS=1        build without OpenBLAS/Accelerate (built-in kernels only)
//   LMEDIT_SKIP_NATIVE=1    do not build at all (non-strict only)
//   npm_config_node_gyp     path of node-gyp.js (npm sets it for lifecycle scripts)
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { detectBlas } from './detect-blas.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const strict = process.argv.includes('--strict');
const truthy = (v) => v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';

function fallbackWarning(why) {
  const bar = '-'.repeat(78);
  console.warn(
    `\n${bar}\nlmedit: WARNING: the native backend was not built (${why}).\n` +
      `lmedit will use its pure-TypeScript backend, which works but is much slower.\n` +
      `To retry: npm run build:native  (needs a C++17 compiler, make and Python 3;\n` +
      `installing OpenBLAS, e.g. libopenblas-dev, makes it much faster).\n${bar}\n`,
  );
}

if (!strict && truthy(process.env.LMEDIT_SKIP_NATIVE)) {
  console.log('lmedit: LMEDIT_SKIP_NATIVE is set; skipping the native build');
  process.exit(0);
}

const blas = detectBlas();
console.log(
  blas.name === 'none'
    ? `lmedit: BLAS: none (${blas.reason}); building the built-in kernels only`
    : `lmedit: BLAS: ${blas.name} (${blas.header}, ${blas.library})`,
);

/** [command, args prefix] that runs node-gyp. */
function nodeGyp() {
  const fromEnv = process.env.npm_config_node_gyp;
  if (fromEnv && existsSync(fromEnv)) return [process.execPath, [fromEnv]];
  const bundled = join(dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js');
  if (existsSync(bundled)) return [process.execPath, [bundled]];
  return [process.platform === 'win32' ? 'npx.cmd' : 'npx', ['--yes', 'node-gyp']];
}

const [cmd, prefix] = nodeGyp();
const args = [...prefix, 'rebuild'];
// Use local Node headers when they exist so no download is needed (npm passes its nodedir
// config through npm_config_nodedir; outside npm we look next to the node binary).
if (!process.env.npm_config_nodedir) {
  const nodeDir = join(dirname(process.execPath), '..');
  if (existsSync(join(nodeDir, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${nodeDir}`);
}
const jobs = process.env.JOBS ?? 'max';
args.push(`--jobs=${jobs}`);
console.log(`lmedit: building the native backend: ${[cmd, ...args].join(' ')}`);
const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: process.env });
const ok = r.status === 0 && existsSync(join(root, 'build', 'Release', 'lmedit_native.node'));
if (ok) {
  console.log(
    `lmedit: native backend built (build/Release/lmedit_native.node, ${blas.name === 'none' ? 'built-in kernels' : blas.name})`,
  );
  process.exit(0);
}
const why = r.error ? `could not run node-gyp: ${r.error.message}` : `node-gyp exited with status ${r.status}`;
if (strict) {
  console.error(`lmedit: native build failed (${why})`);
  process.exit(r.status || 1);
}
fallbackWarning(why);
process.exit(0);
