// STUB: replaced by the task implementation (issue 9).
import type { Task } from './types.js';

export const boolq: Task = {
  name: 'boolq',
  label: '',
  ability: '',
  dataFile: '',
  maxNewTokens: 0,
  paperTotal: null,
  parse: () => {
    throw new Error('boolq: not implemented yet');
  },
  items: () => {
    throw new Error('boolq: not implemented yet');
  },
  paper: () => {
    throw new Error('boolq: not implemented yet');
  },
  clean: () => {
    throw new Error('boolq: not implemented yet');
  },
};
