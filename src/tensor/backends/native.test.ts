/**
 * Native backend conformance: every kernel against the reference backend (float64 oracle).
 * When the addon does not load, this fails under LMEDIT_REQUIRE_NATIVE=1 (CI) and skips otherwise.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runConformance } from './conformance.case.js';
import { loadNativeBackend, nativeLoadError } from './native.js';
import { referenceBackend } from './reference/index.js';

const native = loadNativeBackend();

if (native !== null) {
  runConformance(native, referenceBackend, { skip: {} });
} else if (process.env['LMEDIT_REQUIRE_NATIVE'] === '1') {
  test('native backend loads (LMEDIT_REQUIRE_NATIVE=1)', () => {
    assert.fail(`the native backend did not load: ${nativeLoadError() ?? 'no reason given'}`);
  });
} else {
  test(
    'native backend conformance',
    {
      skip: `native backend not available (nativeLoadError(): ${nativeLoadError() ?? 'no reason given'}); set LMEDIT_REQUIRE_NATIVE=1 to make this a failure`,
    },
    () => {},
  );
}
