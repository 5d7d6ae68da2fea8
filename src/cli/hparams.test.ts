/**
 * `lmedit hparams`: every preset of every method exports as YAML that reads back as exactly the
 * preset (so README examples can start from an exported file); unknown presets are clear errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse as parseYaml } from 'yaml';
import { getMethod, METHOD_NAMES } from '../edit/registry.js';
import { presetYaml } from './hparams.js';

test('every preset of every method round-trips through its exported YAML', async () => {
  let n = 0;
  for (const name of METHOD_NAMES) {
    const method = await getMethod(name);
    for (const [key, hp] of Object.entries(method.presets)) {
      const text = await presetYaml(name, key);
      assert.match(text, new RegExp(`^alg_name: ${name.startsWith('ft') ? 'FT' : method.name}$`, 'm'), `${name} ${key}`);
      assert.deepEqual(method.parseHParams(parseYaml(text), `${name}/${key}.yaml`), hp, `${name} ${key}`);
      n++;
    }
  }
  assert.ok(n > 50, `${n} presets`);
});

test('an unknown preset names the method, a near key and the list', async () => {
  await assert.rejects(
    presetYaml('rome', 'gpt2-x'),
    /ROME has no preset "gpt2-x" \(did you mean "gpt2-xl"\?\); presets: gpt2-xl, /,
  );
});
