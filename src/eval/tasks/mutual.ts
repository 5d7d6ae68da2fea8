// STUB: replaced by the task implementation (issue 9).
import type { Task } from './types.js';

export const mutual: Task = {
  name: 'mutual',
  label: '',
  ability: '',
  dataFile: '',
  maxNewTokens: 0,
  paperTotal: null,
  parse: () => {
    throw new Error('mutual: not implemented yet');
  },
  items: () => {
    throw new Error('mutual: not implemented yet');
  },
  paper: () => {
    throw new Error('mutual: not implemented yet');
  },
  clean: () => {
    throw new Error('mutual: not implemented yet');
  },
};
