// STUB: replaced by the task implementation (issue 9).
import type { Task } from './types.js';

export const samsum: Task = {
  name: 'samsum',
  label: '',
  ability: '',
  dataFile: '',
  maxNewTokens: 0,
  paperTotal: null,
  parse: () => {
    throw new Error('samsum: not implemented yet');
  },
  items: () => {
    throw new Error('samsum: not implemented yet');
  },
  paper: () => {
    throw new Error('samsum: not implemented yet');
  },
  clean: () => {
    throw new Error('samsum: not implemented yet');
  },
};
