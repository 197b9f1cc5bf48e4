// A small JSON Schema (draft 2020-12) validator for the keywords our output schemas use (type, properties,
// required, additionalProperties, items, enum, const, pattern, minimum, maximum, anyOf, oneOf). Independent
// of zod, so a test that validates a command's real output against `taskerman schema --output` checks the
// published contract, not the code against itself. An unknown keyword fails loudly rather than passing.

type Schema = Record<string, unknown>;

const KNOWN = new Set([
  '$schema', 'title', 'description', 'type', 'properties', 'required', 'additionalProperties', 'items', 'enum', 'const',
  'pattern', 'minimum', 'maximum', 'anyOf', 'oneOf', 'default', 'format', 'exclusiveMinimum', 'exclusiveMaximum', 'propertyNames',
]);

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

const typeMatches = (want: string, v: unknown) => typeOf(v) === want || (want === 'number' && typeOf(v) === 'integer');

/** Every violation, as "path: what" (empty when the value is valid). */
export function validateJsonSchema(schema: Schema, value: unknown, path = '$'): string[] {
  const errs: string[] = [];
  for (const k of Object.keys(schema)) if (!KNOWN.has(k)) errs.push(`${path}: the validator does not know keyword "${k}"`);
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type as string];
    if (!types.some((t) => typeMatches(t, value))) return [...errs, `${path}: is ${typeOf(value)}, expected ${types.join(' | ')}`];
  }
  if (schema.const !== undefined && JSON.stringify(schema.const) !== JSON.stringify(value)) errs.push(`${path}: must be ${JSON.stringify(schema.const)}`);
  if (Array.isArray(schema.enum) && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) errs.push(`${path}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  if (typeof value === 'string' && typeof schema.pattern === 'string' && !new RegExp(schema.pattern, 'u').test(value)) errs.push(`${path}: "${value}" does not match ${schema.pattern}`);
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && value < schema.minimum) errs.push(`${path}: ${value} < minimum ${schema.minimum}`);
    if (typeof schema.maximum === 'number' && value > schema.maximum) errs.push(`${path}: ${value} > maximum ${schema.maximum}`);
    if (typeof schema.exclusiveMinimum === 'number' && value <= schema.exclusiveMinimum) errs.push(`${path}: ${value} <= ${schema.exclusiveMinimum}`);
    if (typeof schema.exclusiveMaximum === 'number' && value >= schema.exclusiveMaximum) errs.push(`${path}: ${value} >= ${schema.exclusiveMaximum}`);
  }
  if (Array.isArray(value) && schema.items && typeof schema.items === 'object') {
    value.forEach((v, i) => errs.push(...validateJsonSchema(schema.items as Schema, v, `${path}[${i}]`)));
  }
  if (typeOf(value) === 'object') {
    const obj = value as Record<string, unknown>;
    const props = (schema.properties ?? {}) as Record<string, Schema>;
    for (const r of (schema.required ?? []) as string[]) if (!(r in obj)) errs.push(`${path}: missing required "${r}"`);
    for (const [k, v] of Object.entries(obj)) {
      const p = props[k];
      if (p) errs.push(...validateJsonSchema(p, v, `${path}.${k}`));
      else if (schema.additionalProperties === false) errs.push(`${path}: unexpected key "${k}"`);
      else if (schema.additionalProperties && typeof schema.additionalProperties === 'object') errs.push(...validateJsonSchema(schema.additionalProperties as Schema, v, `${path}.${k}`));
    }
  }
  for (const key of ['anyOf', 'oneOf'] as const) {
    const alts = schema[key];
    if (!Array.isArray(alts)) continue;
    const passing = alts.filter((s) => validateJsonSchema(s as Schema, value, path).length === 0).length;
    if (key === 'anyOf' ? passing === 0 : passing !== 1) errs.push(`${path}: matches ${passing} of the ${key} alternatives`);
  }
  return errs;
}
