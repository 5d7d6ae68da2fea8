#!/usr/bin/env node
// Runs the compiled CLI (dist/) when present, else the TypeScript sources through tsx.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const compiled = join(root, 'dist', 'cli', 'index.js');
let mod;
if (existsSync(compiled)) {
  mod = await import(pathToFileURL(compiled).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  mod = await import(pathToFileURL(join(root, 'src', 'cli', 'index.ts')).href);
}
try {
  await mod.main(process.argv);
} catch (e) {
  console.error(`lmedit: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
}
