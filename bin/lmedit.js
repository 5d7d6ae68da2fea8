#!/usr/bin/env node
// In a source checkout, run the TypeScript sources through tsx (always current); in an
// installed package (no src/), run the compiled dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'src', 'cli', 'index.ts');
let mod;
if (existsSync(source) && process.env.LMEDIT_USE_DIST !== '1') {
  const { register } = await import('tsx/esm/api');
  register();
  mod = await import(pathToFileURL(source).href);
} else {
  mod = await import(pathToFileURL(join(root, 'dist', 'cli', 'index.js')).href);
}
try {
  await mod.main(process.argv);
} catch (e) {
  console.error(`lmedit: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
}
