// STUB: replaced by the task implementation (issue 9).
import type { Task } from './types.js';

export const gsm8k: Task = {
  name: 'gsm8k',
  label: '',
  ability: '',
  dataFile: '',
  maxNewTokens: 0,
  paperTotal: null,
  parse: () => {
    throw new Error('gsm8k: not implemented yet');
  },
  items: () => {
    throw new Error('gsm8k: not implemented yet');
  },
  paper: () => {
    throw new Error('gsm8k: not implemented yet');
  },
  clean: () => {
    throw new Error('gsm8k: not implemented yet');
  },
};
