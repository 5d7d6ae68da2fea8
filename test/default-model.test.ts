/**
 * Every editing method on the default model (the one `lmedit edit` uses with no --model), with its
 * world preset. Training that model takes ~5 minutes, so the test uses the cached one in
 * $LMEDIT_HOME: .ci/run caches it with `npm run demo` first and sets LMEDIT_REQUIRE_DEFAULT_MODEL=1,
 * which turns "not cached" into a failure; elsewhere the test skips with a message.
 */
import { test } from 'node:test';
import { openModel } from '../src/models/index.js';
import { worldStatsProvider } from '../src/cli/default-model.js';
import { editRequests, readWorld } from '../src/world/index.js';
import { assertShares, cachedDefaultModel, methodShares } from './world-edits.js';

test('every method edits the default world model with its world preset (greedy continuation = target)', async (t) => {
  const dir = cachedDefaultModel(t);
  if (!dir) return;
  const { model, tokenizer } = await openModel(dir);
  const world = await readWorld(dir);
  const stats = worldStatsProvider(tokenizer, dir, world, { cacheDir: false });
  try {
    const shares = await methodShares(model, tokenizer, stats, editRequests(world, 6, 1));
    t.diagnostic(`share of single edits whose target is the greedy continuation: ${JSON.stringify(shares)}`);
    assertShares(shares);
  } finally {
    stats.dispose();
    model.dispose();
  }
});
