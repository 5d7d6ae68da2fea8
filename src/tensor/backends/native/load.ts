/**
 * Finding and loading the addon. Loading is lazy and happens once: a missing or stale build must
 * not break importing lmedit (the reference backend takes over), so failures are remembered as a
 * message for `lmedit doctor` and LMEDIT_BACKEND=native rather than thrown.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { ABI_VERSION, type NativeAddon } from './addon.js';

let addon: NativeAddon | null | undefined;
let loadError: string | null = null;

/** The lmedit package root: walk up from this file to the package.json named "lmedit". */
function packageRoot(): string | null {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj)) {
      try {
        if ((JSON.parse(readFileSync(pj, 'utf8')) as { name?: unknown }).name === 'lmedit') return dir;
      } catch {
        /* unreadable package.json: keep walking */
      }
    }
    const parent = dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

export function loadAddon(): NativeAddon | null {
  if (addon !== undefined) return addon;
  addon = null;
  const root = packageRoot();
  if (root === null) {
    loadError = 'cannot find the lmedit package root (package.json named "lmedit") above ' + import.meta.url;
    return null;
  }
  const file = join(root, 'build', 'Release', 'lmedit_native.node');
  if (!existsSync(file)) {
    loadError = `native addon not built (${file} is missing; run npm run build:native)`;
    return null;
  }
  try {
    const mod = createRequire(import.meta.url)(file) as NativeAddon;
    const abi = mod.info().abi;
    if (abi !== ABI_VERSION) {
      loadError = `native addon ${file} has ABI ${abi}, expected ${ABI_VERSION} (rebuild with npm run build:native)`;
      return null;
    }
    addon = mod;
  } catch (e) {
    loadError = `cannot load native addon ${file}: ${e instanceof Error ? e.message : String(e)}`;
  }
  return addon;
}

/** Why the native backend is unavailable, or null when it loads. */
export function nativeLoadError(): string | null {
  loadAddon();
  return loadError;
}

/** The addon for a kernel call; throws (naming the load error) when it is unavailable. */
export function lib(): NativeAddon {
  const a = loadAddon();
  if (!a) throw new Error(`native backend unavailable: ${loadError ?? 'unknown error'}`);
  return a;
}
