/**
 * Typed hyperparameter parsing shared by the method folders: EasyEdit YAML files load
 * unchanged (same field names), unknown or missing fields are errors naming the file and
 * key, and run-environment fields of EasyEdit (device, stats_dir, ...) are accepted and ignored.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';

export type FieldType = 'int' | 'float' | 'bool' | 'string' | 'int[]' | 'string[]' | 'int[][]' | 'float|false' | 'any';

export interface FieldSpec {
  type: FieldType;
  /** when absent the field is required */
  default?: unknown;
  doc?: string;
}

export type Schema = Record<string, FieldSpec>;

/** EasyEdit fields that describe the run environment, not the method: accepted, not used. */
export const ENVIRONMENT_FIELDS: Schema = {
  alg_name: { type: 'string', default: '' },
  model_name: { type: 'string', default: '' },
  device: { type: 'any', default: 0 },
  model_parallel: { type: 'bool', default: false },
  fp16: { type: 'bool', default: false },
  stats_dir: { type: 'string', default: '' },
  results_dir: { type: 'string', default: '' },
  max_length: { type: 'int', default: 40 },
};

function coerce(type: FieldType, v: unknown, where: string): unknown {
  const bad = (): never => {
    throw new Error(`${where}: expected ${type}, got ${JSON.stringify(v)}`);
  };
  switch (type) {
    case 'any':
      return v;
    case 'int': {
      const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
      return typeof n === 'number' && Number.isInteger(n) ? n : bad();
    }
    case 'float': {
      // PyYAML reads "5e-4" as a string; EasyEdit casts such strings, so do we
      const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
      return typeof n === 'number' && Number.isFinite(n) ? n : bad();
    }
    case 'float|false':
      if (v === false || v === null) return false;
      return coerce('float', v, where);
    case 'bool':
      return typeof v === 'boolean' ? v : bad();
    case 'string':
      return typeof v === 'string' ? v : bad();
    case 'int[]':
      return Array.isArray(v) && v.every((x) => Number.isInteger(x)) ? [...(v as number[])] : bad();
    case 'string[]':
      return Array.isArray(v) && v.every((x) => typeof x === 'string') ? [...(v as string[])] : bad();
    case 'int[][]':
      return Array.isArray(v) && v.every((r) => Array.isArray(r) && r.every((x) => Number.isInteger(x))) ? (v as number[][]).map((r) => [...r]) : bad();
  }
}

/**
 * Validate `raw` against `schema` (+ the environment fields). Returns a plain object with
 * defaults filled in. `algName` is checked against `alg_name` when the file has one.
 */
export function parseWithSchema<H>(raw: unknown, schema: Schema, source: string, algName?: string): H {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new Error(`${source}: hyperparameters must be a mapping`);
  const obj = raw as Record<string, unknown>;
  const all: Schema = { ...ENVIRONMENT_FIELDS, ...schema };
  const unknown = Object.keys(obj).filter((k) => !(k in all));
  if (unknown.length) {
    throw new Error(`${source}: unknown field(s) ${unknown.map((k) => `"${k}"`).join(', ')} (known: ${Object.keys(schema).join(', ')})`);
  }
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(schema)) {
    if (key in obj) out[key] = coerce(spec.type, obj[key], `${source}: field "${key}"`);
    else if ('default' in spec) out[key] = structuredClone(spec.default);
    else throw new Error(`${source}: missing required field "${key}"`);
  }
  if (algName && typeof obj['alg_name'] === 'string' && obj['alg_name'] !== '' && obj['alg_name'].toUpperCase() !== algName.toUpperCase()) {
    throw new Error(`${source}: alg_name is "${obj['alg_name']}" but this is ${algName}`);
  }
  return out as H;
}

/** Read a YAML or JSON hyperparameter file into a plain object. */
export function readHParamsFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`${path}: ${(e as Error).message}`);
  }
  try {
    return path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new Error(`${path}: not valid ${path.endsWith('.json') ? 'JSON' : 'YAML'}: ${(e as Error).message}`);
  }
}

/** Resolve a module template such as `transformer.h.{}.mlp.c_proj` for a layer. */
export function moduleAt(template: string, layer: number): string {
  if (!template.includes('{}')) throw new Error(`module template "${template}" has no {} for the layer`);
  return template.replace('{}', String(layer));
}
