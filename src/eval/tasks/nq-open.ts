// STUB: replaced by the task implementation (issue 9).
import type { Task } from './types.js';

export const nqOpen: Task = {
  name: 'nq-open',
  label: '',
  ability: '',
  dataFile: '',
  maxNewTokens: 0,
  paperTotal: null,
  parse: () => {
    throw new Error('nq-open: not implemented yet');
  },
  items: () => {
    throw new Error('nq-open: not implemented yet');
  },
  paper: () => {
    throw new Error('nq-open: not implemented yet');
  },
  clean: () => {
    throw new Error('nq-open: not implemented yet');
  },
};
