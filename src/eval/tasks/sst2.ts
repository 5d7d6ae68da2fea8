// STUB: replaced by the task implementation (issue 9).
import type { Task } from './types.js';

export const sst2: Task = {
  name: 'sst2',
  label: '',
  ability: '',
  dataFile: '',
  maxNewTokens: 0,
  paperTotal: null,
  parse: () => {
    throw new Error('sst2: not implemented yet');
  },
  items: () => {
    throw new Error('sst2: not implemented yet');
  },
  paper: () => {
    throw new Error('sst2: not implemented yet');
  },
  clean: () => {
    throw new Error('sst2: not implemented yet');
  },
};
