/**
 * Locating ../shared (real data and PyTorch goldens) for the tests in test/: the helpers live in
 * src/testing.ts (test support, not built), so that unit tests under src/ never import from test/.
 */
export * from '../../src/testing.js';
