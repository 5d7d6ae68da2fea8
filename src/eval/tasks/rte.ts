// STUB: replaced by the task implementation (issue 9).
import type { Task } from './types.js';

export const rte: Task = {
  name: 'rte',
  label: '',
  ability: '',
  dataFile: '',
  maxNewTokens: 0,
  paperTotal: null,
  parse: () => {
    throw new Error('rte: not implemented yet');
  },
  items: () => {
    throw new Error('rte: not implemented yet');
  },
  paper: () => {
    throw new Error('rte: not implemented yet');
  },
  clean: () => {
    throw new Error('rte: not implemented yet');
  },
};
