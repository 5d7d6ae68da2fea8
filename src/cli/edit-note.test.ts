import { test } from 'node:test';
import assert from 'node:assert/strict';
import { editDidNotTake } from './edit.js';

test('editDidNotTake: a note when the target probability rose < 10 % or fell, none when it rose more', () => {
  assert.match(editDidNotTake(2, 2)!, /barely changed \(×1\.00\): the edit did not take/);
  assert.match(editDidNotTake(2, 2 - Math.log(1.09))!, /barely changed \(×1\.09\)/);
  assert.match(editDidNotTake(2, 3)!, /fell \(×0\.37\): the edit did not take/);
  assert.equal(editDidNotTake(2, 2 - Math.log(1.11)), null);
  assert.equal(editDidNotTake(5.6, 0.2), null);
});
