// STUB: replaced by the task implementation (issue 9).
import type { Task } from './types.js';

export const conll2003: Task = {
  name: 'conll2003',
  label: '',
  ability: '',
  dataFile: '',
  maxNewTokens: 0,
  paperTotal: null,
  parse: () => {
    throw new Error('conll2003: not implemented yet');
  },
  items: () => {
    throw new Error('conll2003: not implemented yet');
  },
  paper: () => {
    throw new Error('conll2003: not implemented yet');
  },
  clean: () => {
    throw new Error('conll2003: not implemented yet');
  },
};
