#!/usr/bin/env node
// Detects a CBLAS + LAPACK provider for the native addon and prints it in a form binding.gyp
// can consume through `<!@(node scripts/detect-blas.mjs <what>)`:
//
//   node scripts/detect-blas.mjs defines       -> "LMEDIT_HAVE_CBLAS LMEDIT_HAVE_LAPACK ..." or ""
//   node scripts/detect-blas.mjs include_dirs  -> extra include directories (may be empty)
//   node scripts/detect-blas.mjs libraries     -> linker flags, e.g. "-lopenblas" (may be empty)
//   node scripts/detect-blas.mjs name          -> "openblas", "accelerate" or "none"
//   node scripts/detect-blas.mjs describe      -> one human-readable line
//   node scripts/detect-blas.mjs json          -> everything as JSON
//
// Supported: OpenBLAS on Linux (Debian/Ubuntu multiarch, Fedora/RHEL, Arch, Alpine, conda-style
// prefixes), Accelerate on macOS (best effort, untested). Set LMEDIT_NO_BLAS=1 to force the
// "absent" result (the addon then compiles its built-in kernels only). Set LMEDIT_BLAS_PREFIX to
// an install prefix (with include/ and lib/) to look there first.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

function truthy(v) {
  return v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';
}

function multiarchDirs() {
  const out = [];
  for (const base of ['/usr/lib', '/usr/include']) {
    try {
      for (const name of readdirSync(base)) if (/-linux-gnu|-linux-musl/.test(name)) out.push(join(base, name));
    } catch {
      /* not there */
    }
  }
  return out;
}

/** Returns { name, defines[], includeDirs[], libraries[], header, library, reason }. */
export function detectBlas(env = process.env, platform = process.platform) {
  const none = (reason) => ({ name: 'none', defines: [], includeDirs: [], libraries: [], header: null, library: null, reason });
  if (truthy(env.LMEDIT_NO_BLAS)) return none('LMEDIT_NO_BLAS is set');

  if (platform === 'darwin') {
    const fw = '/System/Library/Frameworks/Accelerate.framework';
    const sdkOk = existsSync(fw) || existsSync('/Library/Developer/CommandLineTools/SDKs');
    if (!sdkOk) return none('Accelerate.framework not found');
    return {
      name: 'accelerate',
      defines: ['LMEDIT_HAVE_CBLAS', 'LMEDIT_HAVE_LAPACK', 'LMEDIT_ACCELERATE'],
      includeDirs: [],
      libraries: ['-framework Accelerate'],
      header: 'Accelerate/Accelerate.h',
      library: fw,
      reason: 'macOS Accelerate',
    };
  }

  const prefixes = [];
  if (env.LMEDIT_BLAS_PREFIX) prefixes.push(env.LMEDIT_BLAS_PREFIX);
  if (env.CONDA_PREFIX) prefixes.push(env.CONDA_PREFIX);
  prefixes.push('/usr/local', '/usr', '/opt/openblas', '/opt/homebrew/opt/openblas', '/usr/local/opt/openblas');

  // Candidate headers: [cblas.h path, include dir to add ('' when it is on the default path)].
  const headers = [];
  for (const p of prefixes) {
    const inc = join(p, 'include');
    const isDefault = p === '/usr' || p === '/usr/local';
    headers.push([join(inc, 'openblas', 'cblas.h'), join(inc, 'openblas')]);
    headers.push([join(inc, 'cblas.h'), isDefault ? '' : inc]);
  }
  for (const d of multiarchDirs()) {
    if (d.startsWith('/usr/include/')) {
      headers.push([join(d, 'cblas.h'), '']); // Debian multiarch: on the default search path
      headers.push([join(d, 'openblas-pthread', 'cblas.h'), join(d, 'openblas-pthread')]);
      headers.push([join(d, 'openblas-openmp', 'cblas.h'), join(d, 'openblas-openmp')]);
      headers.push([join(d, 'openblas-serial', 'cblas.h'), join(d, 'openblas-serial')]);
    }
  }
  const header = headers.find(([h]) => existsSync(h));

  const libDirs = [];
  for (const p of prefixes) libDirs.push(join(p, 'lib'), join(p, 'lib64'));
  for (const d of multiarchDirs()) if (d.startsWith('/usr/lib/')) libDirs.push(d);
  libDirs.push('/lib64', '/usr/lib64');
  let library = null;
  let libDir = null;
  for (const d of libDirs) {
    for (const f of ['libopenblas.so', 'libopenblas.dylib', 'libopenblas.a']) {
      if (existsSync(join(d, f))) {
        library = join(d, f);
        libDir = d;
        break;
      }
    }
    if (library) break;
  }
  if (!header) return none('cblas.h not found (install libopenblas-dev / openblas-devel)');
  if (!library) return none(`found ${header[0]} but no libopenblas library`);
  const isSystemLibDir = libDir === '/usr/lib' || libDir === '/usr/lib64' || /^\/usr\/lib\/[^/]+-linux-/.test(libDir);
  const libraries = [];
  if (!isSystemLibDir) libraries.push(`-L${libDir}`, `-Wl,-rpath,${libDir}`);
  libraries.push('-lopenblas');
  return {
    name: 'openblas',
    defines: ['LMEDIT_HAVE_CBLAS', 'LMEDIT_HAVE_LAPACK', 'LMEDIT_OPENBLAS'],
    includeDirs: header[1] ? [header[1]] : [],
    libraries,
    header: header[0],
    library,
    reason: 'OpenBLAS found',
  };
}

const isMain = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  const r = detectBlas();
  const what = process.argv[2] ?? 'describe';
  switch (what) {
    case 'defines':
      console.log(r.defines.join(' '));
      break;
    case 'include_dirs':
      console.log(r.includeDirs.join(' '));
      break;
    case 'libraries':
      console.log(r.libraries.join(' '));
      break;
    case 'name':
      console.log(r.name);
      break;
    case 'json':
      console.log(JSON.stringify(r, null, 2));
      break;
    case 'describe':
    default:
      console.log(
        r.name === 'none'
          ? `BLAS: none (${r.reason}); the addon uses its built-in kernels`
          : `BLAS: ${r.name} (header ${r.header}, library ${r.library})`,
      );
  }
}
