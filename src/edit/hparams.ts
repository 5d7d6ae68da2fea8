/**
 * Typed hyperparameter parsing shared by the method folders. A method declares its fields once,
 * as a schema (`{ ... } as const satisfies Schema`); the parser reads files with it and the
 * TypeScript type is derived from it (`type RomeHParams = HParamsOf<typeof R_ROME_SCHEMA>`), so
 * the two cannot drift. EasyEdit YAML files load unchanged (same field names), unknown or
 * missing fields are errors naming the file and key, run-environment fields of EasyEdit
 * (device, stats_dir, ...) are accepted and ignored, and PyYAML-style number strings ("5e-4")
 * are cast as EasyEdit casts them. lmedit's own fields are snake_case like EasyEdit's.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';

/** The TypeScript type of each field type (`parseWithSchema` coerces to these). */
export interface FieldValues {
  int: number;
  float: number;
  bool: boolean;
  string: string;
  'int[]': number[];
  'string[]': string[];
  'int[][]': number[][];
  /** null reads as false */
  'float|false': number | false;
  'int|null': number | null;
  'float|null': number | null;
  'string|null': string | null;
  /** taken as it is */
  any: unknown;
}

export type FieldType = keyof FieldValues;

export interface FieldSpec {
  type: FieldType;
  /** the values a 'string' field may take; the field's TypeScript type is their union */
  oneOf?: readonly string[];
  /** when absent the field is required */
  default?: unknown;
  doc?: string;
}

export type Schema = Readonly<Record<string, FieldSpec>>;

type ValueOf<F extends FieldSpec> = F extends { oneOf: readonly (infer V)[] } ? V : FieldValues[F['type']];

/** The object `parseWithSchema(raw, schema)` returns: one property per field, defaults filled in. */
export type HParamsOf<S extends Schema> = { -readonly [K in keyof S]: ValueOf<S[K]> };

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

function coerce(type: FieldType, v: unknown, where: string, shown: FieldType = type): unknown {
  const bad = (): never => {
    throw new Error(`${where}: expected ${shown}, got ${JSON.stringify(v)}`);
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
      return v === false || v === null ? false : coerce('float', v, where, type);
    case 'int|null':
    case 'float|null':
    case 'string|null':
      return v === null ? null : coerce(type.replace('|null', '') as FieldType, v, where, type);
    case 'bool':
      return typeof v === 'boolean' ? v : bad();
    case 'string':
      return typeof v === 'string' ? v : bad();
    case 'int[]':
      return Array.isArray(v) && v.every((x) => Number.isInteger(x)) ? [...(v as number[])] : bad();
    case 'string[]':
      return Array.isArray(v) && v.every((x) => typeof x === 'string') ? [...(v as string[])] : bad();
    case 'int[][]':
      return Array.isArray(v) && v.every((r) => Array.isArray(r) && r.every((x) => Number.isInteger(x)))
        ? (v as number[][]).map((r) => [...r])
        : bad();
  }
}

/** "subjectIndexRule" -> " (did you mean \"subject_index_rule\"?)" when that field exists. */
function snakeHint(key: string, known: Schema): string {
  const snake = key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  return snake !== key && snake in known ? ` (did you mean "${snake}"?)` : '';
}

/**
 * Validate `raw` against `schema` (+ the environment fields). Returns a plain object with
 * defaults filled in. `algName` is checked against `alg_name` when the file has one.
 */
export function parseWithSchema<S extends Schema>(raw: unknown, schema: S, source: string, algName?: string): HParamsOf<S> {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw new Error(`${source}: hyperparameters must be a mapping`);
  const obj = raw as Record<string, unknown>;
  const all: Schema = { ...ENVIRONMENT_FIELDS, ...schema };
  const unknown = Object.keys(obj).filter((k) => !(k in all));
  if (unknown.length) {
    const list = unknown.map((k) => `"${k}"${snakeHint(k, all)}`).join(', ');
    throw new Error(`${source}: unknown field(s) ${list} (known: ${Object.keys(schema).join(', ')})`);
  }
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(schema)) {
    if (key in obj) out[key] = coerce(spec.type, obj[key], `${source}: field "${key}"`);
    else if ('default' in spec) out[key] = structuredClone(spec.default);
    else throw new Error(`${source}: missing required field "${key}"`);
  }
  checkChoices(out, schema, source);
  if (
    algName &&
    typeof obj['alg_name'] === 'string' &&
    obj['alg_name'] !== '' &&
    obj['alg_name'].toUpperCase() !== algName.toUpperCase()
  ) {
    throw new Error(`${source}: alg_name is "${obj['alg_name']}" but this is ${algName}`);
  }
  return out as HParamsOf<S>;
}

/** Check the `oneOf` fields of a parsed or hand-built hyperparameter object (the error quotes the field's doc). */
export function checkChoices(hp: object, schema: Schema, source: string): void {
  for (const [key, { oneOf, doc }] of Object.entries(schema)) {
    const v = (hp as Record<string, unknown>)[key];
    if (oneOf && !oneOf.includes(v as string)) {
      const choices = oneOf.map((c) => `"${c}"`).join(', ');
      throw new Error(`${source}: field "${key}": expected one of ${choices}, got ${JSON.stringify(v)}${doc ? ` (${doc})` : ''}`);
    }
  }
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
