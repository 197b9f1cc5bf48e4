// terraform/ against the code. Terraform cannot be installed here, so every .tf file is parsed with the
// real HCL parser (@cdktf/hcl2json, HashiCorp's hclsyntax compiled to wasm) and the expressions that
// matter are evaluated by a small evaluator of the HCL expression language below (the subset the module
// uses; anything else throws, naming it). What is checked:
//   - queue names: the module's locals and outputs, evaluated, equal core/queue/queue-names.ts for a table of
//     cluster names and prefixes; so a change to the naming rule in code only (or in HCL only) fails here;
//   - the redrive policy of the global queue, and its defaults against the router's;
//   - each role's policy, as rendered from its aws_iam_policy_document, grants exactly the actions the code
//     needs on exactly the queues it uses: the actions are derived from the SDK commands that
//     core/queue/sqs-work-queue.ts sends in each WorkQueue method, the methods each role calls are read from its
//     sources, so a new SQS call in code without a policy change fails here (roles: scheduler, router,
//     runner, and the operator, i.e. the CLI commands that reach AWS);
//   - the variable validations agree with the code's prefix and cluster-name rules; the README documents
//     every variable and output.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { getExpressionAst, parse } from '@cdktf/hcl2json';
import { EC2_DISCOVERY_IAM_ACTION } from '../../core/discovery/ec2-discovery.js';
import { OptionError } from '../../core/errors.js';
import { queueNames, segment, validatePrefix } from '../../core/queue/queue-names.js';
import { parseTaskSpec } from '../../core/task/task-spec.js';
import { compileRouterOptions, type RouterOptions } from '../../router/router-options.js';

const ROOT = process.cwd();
const TF_DIR = join(ROOT, 'terraform');
const REGION = 'eu-west-1';
const ACCOUNT = '123456789012';
const SQS_ARN = `arn:aws:sqs:${REGION}:${ACCOUNT}:`;
const KMS_KEY = `arn:aws:kms:${REGION}:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;

// ---------------------------------------------------------------------------------------------------------
// A small evaluator of HCL expressions, over the syntax tree hclsyntax produces.

type Value = null | boolean | number | string | Value[] | ValueMap | TfSet | Lazy;
interface ValueMap {
  [k: string]: Value;
}
/** A set (toset, for_each): Terraform keeps sets of strings in lexical order. */
class TfSet {
  constructor(readonly items: Value[]) {}
}
/** A resource or data source instance (or a for_each collection of them): attributes evaluated on demand. */
class Lazy {
  constructor(
    readonly what: string,
    readonly keys: () => string[],
    readonly get: (key: string) => Value,
  ) {}
}

interface AstNode {
  type: string;
  meta?: Record<string, unknown>;
  children?: AstNode[];
  range?: { start: { byte: number }; end: { byte: number } };
}
interface TraversalPart {
  type: string;
  segment: string;
}
type Body = Record<string, unknown>;
type Scope = ReadonlyMap<string, Value>;
const EMPTY: Scope = new Map();

interface TfDoc {
  variable: Record<string, Body>;
  locals: Record<string, unknown>;
  resource: Record<string, Record<string, Body>>;
  data: Record<string, Record<string, Body>>;
  output: Record<string, Body>;
}

const isMap = (v: Value): v is ValueMap => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof TfSet) && !(v instanceof Lazy);
const sortedKeys = (o: object): string[] => Object.keys(o).sort();

function show(v: Value): string {
  if (v instanceof Lazy) return v.what;
  if (v instanceof TfSet) return `toset(${show(v.items)})`;
  return JSON.stringify(v) ?? String(v);
}

function elements(v: Value, fn: string): Value[] {
  if (Array.isArray(v)) return v;
  if (v instanceof TfSet) return v.items;
  throw new Error(`${fn}: expected a list or set, got ${show(v)}`);
}

function str(v: Value, fn: string): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  throw new Error(`${fn}: expected a string, got ${show(v)}`);
}

function num(v: Value, fn: string): number {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof n !== 'number' || Number.isNaN(n)) throw new Error(`${fn}: expected a number, got ${show(v)}`);
  return n;
}

function bool(v: Value, fn: string): boolean {
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === 'false') return v === 'true';
  throw new Error(`${fn}: expected a bool, got ${show(v)}`);
}

/** Terraform's jsonencode: object keys in lexical order (cty sorts attributes), sets as arrays. */
function jsonencode(v: Value): string {
  if (v instanceof Lazy) throw new Error(`jsonencode: cannot encode ${v.what}`);
  if (v instanceof TfSet) return jsonencode(v.items);
  if (Array.isArray(v)) return `[${v.map(jsonencode).join(',')}]`;
  if (isMap(v)) return `{${sortedKeys(v).map((k) => `${JSON.stringify(k)}:${jsonencode(v[k] as Value)}`).join(',')}}`;
  return JSON.stringify(v);
}

/** HCL string functions count characters (grapheme clusters; code points are the same for these names). */
const chars = (s: string): string[] => [...s];

/** RE2 and JavaScript agree on the patterns used here (classes, anchors, quantifiers). */
function re2(pattern: string, flags = ''): RegExp {
  if (/\(\?P<|\\[zApP]/.test(pattern)) throw new Error(`regex: RE2-only syntax in ${pattern}: extend the test evaluator`);
  return new RegExp(pattern, flags);
}

function setOf(items: Value[]): TfSet {
  const seen = new Map<string, Value>();
  for (const i of items) seen.set(jsonencode(i), i);
  return new TfSet([...seen.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v));
}

const FUNCTIONS: Record<string, (args: Value[]) => Value> = {
  length: ([v]) => {
    if (typeof v === 'string') return chars(v).length;
    if (v !== undefined && isMap(v)) return Object.keys(v).length;
    return elements(v ?? null, 'length').length;
  },
  substr: ([s, offset, length]) => {
    const c = chars(str(s ?? null, 'substr'));
    let o = num(offset ?? null, 'substr');
    const l = num(length ?? null, 'substr');
    if (o < 0) o += c.length;
    if (o < 0 || o > c.length) throw new Error('substr: offset out of range');
    return c.slice(o, l < 0 ? c.length : Math.min(c.length, o + l)).join('');
  },
  replace: ([s, search, repl]) => {
    const text = str(s ?? null, 'replace');
    const find = str(search ?? null, 'replace');
    const to = str(repl ?? null, 'replace');
    if (find.length >= 2 && find.startsWith('/') && find.endsWith('/')) return text.replace(re2(find.slice(1, -1), 'g'), to);
    return text.split(find).join(to);
  },
  regex: ([pattern, s]) => {
    const m = re2(str(pattern ?? null, 'regex')).exec(str(s ?? null, 'regex'));
    if (!m) throw new Error('regex: no match');
    return m.length > 1 ? m.slice(1).map((g) => g ?? null) : m[0];
  },
  sha256: ([s]) => createHash('sha256').update(str(s ?? null, 'sha256'), 'utf8').digest('hex'),
  jsonencode: ([v]) => jsonencode(v ?? null),
  trimsuffix: ([s, suffix]) => {
    const t = str(s ?? null, 'trimsuffix');
    const x = str(suffix ?? null, 'trimsuffix');
    return x !== '' && t.endsWith(x) ? t.slice(0, -x.length) : t;
  },
  startswith: ([s, p]) => str(s ?? null, 'startswith').startsWith(str(p ?? null, 'startswith')),
  endswith: ([s, p]) => str(s ?? null, 'endswith').endsWith(str(p ?? null, 'endswith')),
  lower: ([s]) => str(s ?? null, 'lower').toLowerCase(),
  upper: ([s]) => str(s ?? null, 'upper').toUpperCase(),
  tostring: ([s]) => (s === null || s === undefined ? null : str(s, 'tostring')),
  join: ([sep, list]) => elements(list ?? null, 'join').map((x) => str(x, 'join')).join(str(sep ?? null, 'join')),
  // Skips null and, for strings, "" (Terraform's rule); an error when nothing is left.
  coalesce: (args) => {
    const v = args.find((a) => a !== null && a !== '');
    if (v === undefined) throw new Error('coalesce: no non-null, non-empty argument');
    return v;
  },
  toset: ([v]) => setOf(elements(v ?? null, 'toset')),
  tolist: ([v]) => [...elements(v ?? null, 'tolist')],
  concat: (args) => args.flatMap((a) => elements(a, 'concat')),
  flatten: ([v]) => {
    const out: Value[] = [];
    const walk = (x: Value): void => {
      if (Array.isArray(x) || x instanceof TfSet) elements(x, 'flatten').forEach(walk);
      else out.push(x);
    };
    walk(v ?? null);
    return out;
  },
  distinct: ([v]) => {
    const seen = new Map<string, Value>();
    for (const x of elements(v ?? null, 'distinct')) if (!seen.has(jsonencode(x))) seen.set(jsonencode(x), x);
    return [...seen.values()];
  },
  contains: ([list, v]) => elements(list ?? null, 'contains').some((x) => jsonencode(x) === jsonencode(v ?? null)),
  setsubtract: ([a, b]) => {
    const drop = new Set(elements(b ?? null, 'setsubtract').map(jsonencode));
    return setOf(elements(a ?? null, 'setsubtract').filter((x) => !drop.has(jsonencode(x))));
  },
  alltrue: ([v]) => elements(v ?? null, 'alltrue').every((x) => bool(x, 'alltrue')),
  anytrue: ([v]) => elements(v ?? null, 'anytrue').some((x) => bool(x, 'anytrue')),
  keys: ([v]) => {
    if (v instanceof Lazy) return v.keys().sort();
    if (v !== undefined && isMap(v)) return sortedKeys(v);
    throw new Error(`keys: expected a map, got ${show(v ?? null)}`);
  },
  values: ([v]) => {
    if (v !== undefined && isMap(v)) return sortedKeys(v).map((k) => v[k] as Value);
    throw new Error(`values: expected a map, got ${show(v ?? null)}`);
  },
  merge: (args) => {
    const out: ValueMap = {};
    for (const a of args) {
      if (a === null) continue;
      if (!isMap(a)) throw new Error(`merge: expected maps, got ${show(a)}`);
      Object.assign(out, a);
    }
    return out;
  },
  min: (args) => Math.min(...args.map((a) => num(a, 'min'))),
  max: (args) => Math.max(...args.map((a) => num(a, 'max'))),
};

function getAttr(v: Value, key: string, where: string): Value {
  if (v instanceof Lazy) return v.get(key);
  if (isMap(v) && Object.prototype.hasOwnProperty.call(v, key)) return v[key] as Value;
  throw new Error(`${where}: no attribute "${key}" in ${show(v)}`);
}

function index(v: Value, key: Value, where: string): Value {
  if (Array.isArray(v)) {
    const i = num(key, where);
    if (!Number.isInteger(i) || i < 0 || i >= v.length) throw new Error(`${where}: index ${i} out of range`);
    return v[i] as Value;
  }
  if (v instanceof TfSet) throw new Error(`${where}: a set cannot be indexed (Terraform: "Invalid index")`);
  return getAttr(v, str(key, where), where);
}

/** (key, value) pairs of a collection in Terraform's iteration order. */
function entries(v: Value, where: string): [Value, Value][] {
  if (Array.isArray(v)) return v.map((x, i) => [i, x]);
  if (v instanceof TfSet) return v.items.map((x) => [x, x]);
  if (v instanceof Lazy) return v.keys().sort().map((k) => [k, v.get(k)]);
  if (isMap(v)) return sortedKeys(v).map((k) => [k, v[k] as Value]);
  throw new Error(`${where}: cannot iterate over ${show(v)}`);
}

function equal(a: Value, b: Value): boolean {
  return jsonencode(a) === jsonencode(b);
}

interface PolicyStatement {
  Sid?: string;
  Effect: string;
  Action: string[];
  Resource: string[];
}

class TfModule {
  private readonly locals = new Map<string, Value>();
  private readonly inProgress = new Set<string>();

  constructor(
    readonly doc: TfDoc,
    private readonly asts: ReadonlyMap<string, { ast: AstNode; src: string }>,
    private readonly vars: Record<string, Value> = {},
  ) {}

  with(vars: Record<string, Value>): TfModule {
    return new TfModule(this.doc, this.asts, vars);
  }

  variable(name: string): Value {
    if (Object.prototype.hasOwnProperty.call(this.vars, name)) return this.vars[name] as Value;
    const v = this.doc.variable[name];
    if (!v) throw new Error(`var.${name}: no such variable`);
    if (!('default' in v)) throw new Error(`var.${name} has no default: the test must give it`);
    return this.value(v.default, EMPTY);
  }

  local(name: string): Value {
    const cached = this.locals.get(name);
    if (cached !== undefined) return cached;
    if (!(name in this.doc.locals)) throw new Error(`local.${name}: no such local`);
    if (this.inProgress.has(name)) throw new Error(`local.${name}: refers to itself`);
    this.inProgress.add(name);
    try {
      const v = this.value(this.doc.locals[name], EMPTY);
      this.locals.set(name, v);
      return v;
    } finally {
      this.inProgress.delete(name);
    }
  }

  output(name: string): Value {
    const o = this.doc.output[name];
    if (!o) throw new Error(`output "${name}": no such output`);
    return this.value(o.value, EMPTY);
  }

  resource(type: string, name: string): Value {
    const body = this.doc.resource[type]?.[name];
    if (!body) throw new Error(`${type}.${name}: no such resource`);
    return this.instances(`${type}.${name}`, body, (scope) => this.resourceInstance(type, name, body, scope));
  }

  data(type: string, name: string): Value {
    const body = this.doc.data[type]?.[name];
    if (!body) throw new Error(`data.${type}.${name}: no such data source`);
    return this.instances(`data.${type}.${name}`, body, (scope) =>
      new Lazy(`data.${type}.${name}`, () => Object.keys(body), (attr) => {
        if (type === 'aws_iam_policy_document' && attr === 'json') return this.renderPolicy(body, scope);
        if (attr in body) return this.value(body[attr], scope);
        throw new Error(`data.${type}.${name}.${attr}: not modelled by the test evaluator`);
      }),
    );
  }

  /** A resource without for_each is its instance; with for_each, a collection of instances keyed like Terraform's. */
  private instances(what: string, body: Body, make: (scope: Scope) => Value): Value {
    if (body.count !== undefined) throw new Error(`${what}: count is not modelled by the test evaluator (use for_each)`);
    if (body.for_each === undefined) return make(EMPTY);
    const fe = this.value(body.for_each, EMPTY);
    if (Array.isArray(fe)) throw new Error(`${what}: for_each needs a map or a set; Terraform refuses a list (wrap it in toset())`);
    const pairs = new Map(entries(fe, `${what}.for_each`).map(([k, v]) => [str(k, 'for_each'), v]));
    return new Lazy(what, () => [...pairs.keys()], (key) => {
      if (!pairs.has(key)) throw new Error(`${what}["${key}"]: no such instance`);
      return make(new Map([['each', { key, value: pairs.get(key) as Value }]]));
    });
  }

  private resourceInstance(type: string, name: string, body: Body, scope: Scope): Lazy {
    const self: Lazy = new Lazy(`${type}.${name}`, () => Object.keys(body), (attr) => {
      if (attr in body && attr !== 'for_each') return this.value(body[attr], scope);
      const queueName = () => str(self.get('name'), `${type}.${name}.name`);
      if (type === 'aws_sqs_queue' && attr === 'arn') return `${SQS_ARN}${queueName()}`;
      if (type === 'aws_sqs_queue' && (attr === 'url' || attr === 'id')) return `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${queueName()}`;
      if (type === 'aws_iam_policy' && attr === 'arn') {
        const path = 'path' in body ? str(self.get('path'), 'path') : '/';
        return `arn:aws:iam::${ACCOUNT}:policy${path}${str(self.get('name'), 'name')}`;
      }
      throw new Error(`${type}.${name}.${attr}: not modelled by the test evaluator`);
    });
    return self;
  }

  /** aws_iam_policy_document → the policy JSON; only the statement arguments modelled here are allowed. */
  renderPolicy(body: Body, scope: Scope): string {
    const allowed = new Set(['sid', 'effect', 'actions', 'resources']);
    for (const k of Object.keys(body)) {
      if (!['statement', 'dynamic', 'for_each'].includes(k)) throw new Error(`aws_iam_policy_document: "${k}" is not modelled by the test: extend it`);
    }
    const statement = (st: Body, s: Scope): PolicyStatement => {
      for (const k of Object.keys(st)) if (!allowed.has(k)) throw new Error(`policy statement: "${k}" is not modelled by the test: extend it`);
      const list = (k: string) => elements(this.value(st[k] ?? [], s), k).map((x) => str(x, k));
      return {
        ...(st.sid !== undefined ? { Sid: str(this.value(st.sid, s), 'sid') } : {}),
        Effect: st.effect !== undefined ? str(this.value(st.effect, s), 'effect') : 'Allow',
        Action: list('actions'),
        Resource: list('resources'),
      };
    };
    const out: PolicyStatement[] = [];
    for (const st of (body.statement as Body[] | undefined) ?? []) out.push(statement(st, scope));
    const dynamic = (body.dynamic as Record<string, Body[]> | undefined) ?? {};
    for (const [label, blocks] of Object.entries(dynamic)) {
      if (label !== 'statement') throw new Error(`dynamic "${label}" is not modelled by the test`);
      for (const d of blocks) {
        const iterator = d.iterator !== undefined ? String(d.iterator) : label;
        const content = (d.content as Body[] | undefined)?.[0];
        if (!content) throw new Error('dynamic "statement" without content');
        for (const [key, value] of entries(this.value(d.for_each, scope), 'dynamic for_each')) {
          out.push(statement(content, new Map([...scope, [iterator, { key, value }]])));
        }
      }
    }
    return JSON.stringify({ Version: '2012-10-17', Statement: out });
  }

  /** A value as hcl2json gives it: literals as JSON, expressions as "${...}" strings. */
  value(raw: unknown, scope: Scope): Value {
    if (typeof raw === 'string') {
      if (!raw.includes('${')) return raw;
      const parsed = this.asts.get(raw);
      if (!parsed) throw new Error(`no syntax tree for ${raw}`);
      return this.expr(parsed.ast, scope, parsed.src);
    }
    if (raw === null || typeof raw === 'number' || typeof raw === 'boolean') return raw;
    if (Array.isArray(raw)) return raw.map((x) => this.value(x, scope));
    if (typeof raw === 'object') {
      const out: ValueMap = {};
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) out[k] = this.value(v, scope);
      return out;
    }
    throw new Error(`unexpected value ${String(raw)}`);
  }

  private expr(node: AstNode, scope: Scope, src: string): Value {
    const kids = node.children ?? [];
    const kid = (i: number): AstNode => {
      const k = kids[i];
      if (!k) throw new Error(`${node.type}: missing operand ${i} in ${String(node.meta?.value)}`);
      return k;
    };
    const ev = (n: AstNode, s: Scope = scope) => this.expr(n, s, src);
    const meta = node.meta ?? {};
    switch (node.type) {
      case 'templateWrap':
        return ev(kid(0));
      case 'template':
        return kids.map((k) => str(ev(k), 'template interpolation')).join('');
      case 'literalValue':
        if (meta.type === 'string') return String(meta.value);
        if (meta.type === 'number') return Number(meta.value);
        if (meta.type === 'bool') return meta.value === 'true';
        if (meta.value === 'null') return null;
        throw new Error(`literal ${String(meta.value)} of type ${String(meta.type)}`);
      case 'scopeTraversal':
        return this.traverse(meta.traversal as TraversalPart[], scope);
      case 'relativeTraversal':
        return this.apply(ev(kid(0)), meta.traversal as TraversalPart[], String(meta.value));
      case 'index':
        return index(ev(kid(0)), ev(kid(1)), String(meta.value));
      case 'tuple':
        return kids.map((k) => ev(k));
      case 'object': {
        const out: ValueMap = {};
        for (let i = 0; i < kids.length; i += 2) out[this.objectKey(kid(i), scope, src)] = ev(kid(i + 1));
        return out;
      }
      case '':
        // Parentheses.
        return ev(kid(0));
      case 'conditional':
        // HCL evaluates both results but reports only the chosen one's errors: evaluating the chosen one
        // alone is the same.
        return bool(ev(kid(0)), 'condition') ? ev(kid(1)) : ev(kid(2));
      case 'unaryOp': {
        const v = ev(kid(0));
        if (meta.operator === 'negate') return -num(v, '-');
        if (meta.operator === 'logicalNot') return !bool(v, '!');
        throw new Error(`operator ${String(meta.operator)}`);
      }
      case 'binaryOp':
        return this.binary(String(meta.operator), ev(kid(0)), ev(kid(1)));
      case 'function':
        return this.call(String(meta.name), kids, meta.expandedFinalArgument === true, scope, src);
      case 'for':
        return this.forExpr(node, scope, src);
      default:
        throw new Error(`"${node.type}" expressions are not modelled by the test evaluator: ${String(meta.value)}`);
    }
  }

  private objectKey(node: AstNode, scope: Scope, src: string): string {
    // A bare identifier key has no child: its text is the key. Otherwise the key is an expression.
    if (node.type === '' && (node.children ?? []).length === 0) {
      if (!node.range) throw new Error('object key without a source range');
      return Buffer.from(src, 'utf8').subarray(node.range.start.byte, node.range.end.byte).toString('utf8');
    }
    return str(this.expr(node, scope, src), 'object key');
  }

  private binary(op: string, a: Value, b: Value): Value {
    switch (op) {
      // HCL (before 1.12) does not short-circuit: both sides are evaluated, as here.
      case 'logicalAnd':
        return bool(a, '&&') && bool(b, '&&');
      case 'logicalOr':
        return bool(a, '||') || bool(b, '||');
      case 'equal':
        return equal(a, b);
      case 'notEqual':
        return !equal(a, b);
      case 'lessThan':
        return num(a, '<') < num(b, '<');
      case 'lessThanOrEqual':
        return num(a, '<=') <= num(b, '<=');
      case 'greaterThan':
        return num(a, '>') > num(b, '>');
      case 'greaterThanOrEqual':
        return num(a, '>=') >= num(b, '>=');
      case 'add':
        return num(a, '+') + num(b, '+');
      case 'subtract':
        return num(a, '-') - num(b, '-');
      case 'multiply':
        return num(a, '*') * num(b, '*');
      case 'divide':
        return num(a, '/') / num(b, '/');
      case 'modulo':
        return num(a, '%') % num(b, '%');
      default:
        throw new Error(`operator ${op} is not modelled by the test evaluator`);
    }
  }

  private call(name: string, args: AstNode[], expand: boolean, scope: Scope, src: string): Value {
    if (name === 'can' || name === 'try') {
      for (const a of args) {
        try {
          const v = this.expr(a, scope, src);
          return name === 'can' ? true : v;
        } catch {
          // the next argument (try) or false (can)
        }
      }
      if (name === 'can') return false;
      throw new Error('try: every argument failed');
    }
    const fn = FUNCTIONS[name];
    if (!fn) throw new Error(`function ${name}() is not modelled by the test evaluator: add it`);
    const values = args.map((a) => this.expr(a, scope, src));
    if (expand) values.push(...elements(values.pop() ?? null, `${name}(...)`));
    return fn(values);
  }

  private forExpr(node: AstNode, scope: Scope, src: string): Value {
    const meta = node.meta ?? {};
    const kids = node.children ?? [];
    const isObject = typeof meta.keyExpression === 'string' && meta.keyExpression !== '';
    const hasCond = typeof meta.conditionalExpression === 'string' && meta.conditionalExpression !== '';
    if (meta.groupedValue === true) throw new Error('grouping for expressions (...) are not modelled');
    if (kids.length !== 2 + Number(isObject) + Number(hasCond)) throw new Error(`unexpected for expression shape: ${String(meta.value)}`);
    const [coll, ...rest] = kids as [AstNode, ...AstNode[]];
    const keyNode = isObject ? rest.shift() : undefined;
    const valueNode = rest.shift() as AstNode;
    const condNode = hasCond ? rest.shift() : undefined;
    const keyVar = typeof meta.keyVar === 'string' && meta.keyVar !== '' ? meta.keyVar : undefined;
    const valVar = String(meta.valVar);

    const outList: Value[] = [];
    const outMap: ValueMap = {};
    for (const [k, v] of entries(this.expr(coll, scope, src), 'for')) {
      const s = new Map(scope);
      if (keyVar) s.set(keyVar, k);
      s.set(valVar, v);
      if (condNode && !bool(this.expr(condNode, s, src), 'for ... if')) continue;
      const value = this.expr(valueNode, s, src);
      if (keyNode) {
        const key = str(this.expr(keyNode, s, src), 'for key');
        if (key in outMap) throw new Error(`for expression: duplicate key "${key}" (Terraform needs "..." to group)`);
        outMap[key] = value;
      } else {
        outList.push(value);
      }
    }
    return keyNode ? outMap : outList;
  }

  private traverse(parts: TraversalPart[], scope: Scope): Value {
    const [root, ...rest] = parts;
    if (!root) throw new Error('empty traversal');
    const name = root.segment;
    const seg = (i: number): string => {
      const p = rest[i];
      if (!p || p.type !== 'nameTraversal') throw new Error(`${name}: expected a name after it`);
      return p.segment;
    };
    if (scope.has(name)) return this.apply(scope.get(name) as Value, rest, name);
    switch (name) {
      case 'var':
        return this.apply(this.variable(seg(0)), rest.slice(1), `var.${seg(0)}`);
      case 'local':
        return this.apply(this.local(seg(0)), rest.slice(1), `local.${seg(0)}`);
      case 'data':
        return this.apply(this.data(seg(0), seg(1)), rest.slice(2), `data.${seg(0)}.${seg(1)}`);
      case 'each':
      case 'count':
      case 'self':
      case 'path':
      case 'module':
      case 'terraform':
        throw new Error(`${name}.* is not available here`);
      default:
        return this.apply(this.resource(name, seg(0)), rest.slice(1), `${name}.${seg(0)}`);
    }
  }

  private apply(v: Value, parts: TraversalPart[], where: string): Value {
    let cur = v;
    for (const p of parts) {
      if (p.type === 'nameTraversal') cur = getAttr(cur, p.segment, where);
      else cur = index(cur, JSON.parse(p.segment) as Value, where);
    }
    return cur;
  }
}

function mergeDoc(into: TfDoc, file: string, json: Record<string, unknown>): void {
  for (const [kind, section] of Object.entries(json)) {
    if (kind === 'terraform') continue;
    if (kind === 'locals') {
      for (const block of section as Body[]) {
        for (const [k, v] of Object.entries(block)) {
          if (k in into.locals) throw new Error(`${file}: local.${k} is defined twice`);
          into.locals[k] = v;
        }
      }
    } else if (kind === 'variable' || kind === 'output') {
      for (const [name, blocks] of Object.entries(section as Record<string, Body[]>)) {
        if (name in into[kind]) throw new Error(`${file}: ${kind} "${name}" is defined twice`);
        into[kind][name] = blocks[0] as Body;
      }
    } else if (kind === 'resource' || kind === 'data') {
      for (const [type, byName] of Object.entries(section as Record<string, Record<string, Body[]>>)) {
        const t = (into[kind][type] ??= {});
        for (const [name, blocks] of Object.entries(byName)) {
          if (name in t) throw new Error(`${file}: ${kind} ${type}.${name} is defined twice`);
          t[name] = blocks[0] as Body;
        }
      }
    } else {
      throw new Error(`${file}: top-level "${kind}" blocks are not modelled by the test`);
    }
  }
}

async function loadModule(dir: string): Promise<{ module: TfModule; files: string[] }> {
  const files = readdirSync(dir).filter((f) => f.endsWith('.tf')).sort();
  const doc: TfDoc = { variable: {}, locals: {}, resource: {}, data: {}, output: {} };
  const expressions = new Map<string, string>();
  const collect = (file: string, v: unknown): void => {
    if (typeof v === 'string' && v.includes('${')) expressions.set(v, file);
    else if (Array.isArray(v)) v.forEach((x) => collect(file, x));
    else if (v && typeof v === 'object') Object.values(v).forEach((x) => collect(file, x));
  };
  for (const f of files) {
    const json = (await parse(f, readFileSync(join(dir, f), 'utf8'))) as Record<string, unknown>;
    mergeDoc(doc, f, json);
    collect(f, json);
  }
  const asts = new Map<string, { ast: AstNode; src: string }>();
  for (const [expr, file] of expressions) {
    // hcl2json keeps the source of each ${...} and decodes only the literal text around it; quoting the
    // string again gives the template back as long as that text holds no quote or backslash.
    const src = `"${expr}"`;
    const ast = (await getExpressionAst(file, src)) as AstNode | null;
    if (!ast) throw new Error(`${file}: cannot parse ${expr}`);
    asts.set(expr, { ast, src });
  }
  return { module: new TfModule(doc, asts), files };
}

// ---------------------------------------------------------------------------------------------------------
// What the code calls: SQS operations per WorkQueue method (from core/queue/sqs-work-queue.ts), methods per role.

interface MethodOps {
  /** IAM actions on the queue the method is called with. */
  self: Set<string>;
  /** IAM actions on the dead-letter queue named in its argument (ensureQueue). */
  deadLetter: Set<string>;
}

/** Batch APIs are authorized by their single-message action (SendMessageBatch needs sqs:SendMessage). */
const iamActionOf = (operation: string): string => `sqs:${operation.replace(/Batch$/, '')}`;

function sqsActionsByMethod(): { byMethod: Map<string, MethodOps>; imported: string[]; reached: Set<string> } {
  const src = readFileSync(join(ROOT, 'core/queue/sqs-work-queue.ts'), 'utf8');
  // The operations a transport can carry: the members of SqsOperations in core/queue/sqs-transport.ts.
  const transport = readFileSync(join(ROOT, 'core/queue/sqs-transport.ts'), 'utf8');
  const opsList = /export interface SqsOperations \{([^}]*)\}/.exec(transport)?.[1];
  assert.ok(opsList, 'core/queue/sqs-transport.ts declares SqsOperations');
  const imported = [...opsList.matchAll(/^\s*(\w+):/gm)].map((m) => m[1] as string);

  const cls = src.slice(src.indexOf('export class SqsWorkQueue'));
  const header = /^ {2}(?:(?:private|public|protected|static|readonly|async)\s+)*(\w+)\s*(?:<[^>\n]*>)?\(/gm;
  const heads = [...cls.matchAll(header)].map((m) => ({ name: m[1] as string, at: m.index }));
  const bodies = new Map(heads.map((h, i) => [h.name, cls.slice(h.at, heads[i + 1]?.at ?? cls.length)]));

  const direct = new Map<string, { ops: Set<string>; calls: { callee: string; deadLetter: boolean }[] }>();
  for (const [name, body] of bodies) {
    // Every call goes through call() or withUrl(), with the operation's name first.
    const ops = new Set([...body.matchAll(/this\.(?:call|withUrl)\(\s*'(\w+)'/g)].map((m) => m[1] as string));
    const calls = [...body.matchAll(/this\.(\w+)\(\s*([^,)]*)/g)]
      .filter((m) => bodies.has(m[1] as string) && m[1] !== name)
      .map((m) => ({ callee: m[1] as string, deadLetter: /deadLetter/.test(m[2] as string) }));
    direct.set(name, { ops, calls });
  }
  const reached = new Set<string>();
  const memo = new Map<string, MethodOps>();
  const resolve = (name: string, stack: string[] = []): MethodOps => {
    const hit = memo.get(name);
    if (hit) return hit;
    const d = direct.get(name);
    const out: MethodOps = { self: new Set(), deadLetter: new Set() };
    if (!d || stack.includes(name)) return out;
    for (const op of d.ops) {
      reached.add(op);
      out.self.add(iamActionOf(op));
    }
    for (const c of d.calls) {
      const sub = resolve(c.callee, [...stack, name]);
      for (const a of sub.self) (c.deadLetter ? out.deadLetter : out.self).add(a);
      for (const a of sub.deadLetter) out.deadLetter.add(a);
    }
    memo.set(name, out);
    return out;
  };
  const byMethod = new Map([...bodies.keys()].map((n) => [n, resolve(n)]));
  return { byMethod, imported, reached };
}

/** `unscoped`: a call that names no queue (ListQueues), which IAM authorizes on "*" only. */
type QueueKind = 'global' | 'globalDlq' | 'cluster' | 'clusterDlq' | 'node' | 'unscoped';
type Role = 'scheduler' | 'router' | 'runner' | 'operator';
const ROLES: Role[] = ['scheduler', 'router', 'runner', 'operator'];
const DEAD_LETTER_OF: Record<QueueKind, QueueKind | undefined> = { global: 'globalDlq', cluster: 'clusterDlq', node: 'clusterDlq', globalDlq: undefined, clusterDlq: undefined, unscoped: undefined };

/**
 * Which WorkQueue methods each role calls on which queues. The methods are checked against the role's
 * sources below (a method used in code but missing here fails); the queue of each call is read by hand.
 */
const USAGE: Record<Role, { method: string; queue: QueueKind; where: string }[]> = {
  scheduler: [{ method: 'send', queue: 'global', where: 'core/task/emit.ts emitTask' }],
  router: [
    { method: 'ensureQueue', queue: 'global', where: 'Router.start (dead letters: globalDlq)' },
    { method: 'receive', queue: 'global', where: 'Router.run' },
    { method: 'delete', queue: 'global', where: 'Router.route, reject' },
    { method: 'changeVisibility', queue: 'global', where: 'Router.route: another router is fanning out' },
    { method: 'send', queue: 'globalDlq', where: 'Router.reject → sendToDeadLetter' },
    { method: 'ensureQueue', queue: 'cluster', where: 'Router.fanOut (dead letters: clusterDlq)' },
    { method: 'ensureQueue', queue: 'node', where: 'Router.fanOut (dead letters: clusterDlq)' },
    { method: 'sendBatch', queue: 'node', where: 'Router.fanOut' },
    { method: 'send', queue: 'clusterDlq', where: 'Supervisor: a target with no live runner → sendToDeadLetter' },
    { method: 'list', queue: 'unscoped', where: 'FleetScanner.scanQueues (--metrics-port, --notify-url): every "<prefix>--…-dlq"' },
    { method: 'stats', queue: 'global', where: 'FleetScanner.scanQueues: queue depths' },
    { method: 'stats', queue: 'globalDlq', where: 'FleetScanner.scanQueues: queue depths' },
    { method: 'stats', queue: 'clusterDlq', where: 'FleetScanner.scanQueues: queue depths' },
  ],
  runner: [
    { method: 'receive', queue: 'node', where: 'Runner.poll' },
    { method: 'receive', queue: 'cluster', where: 'Runner.poll' },
    { method: 'changeVisibility', queue: 'node', where: 'Runner.heartbeat, giveBack' },
    { method: 'changeVisibility', queue: 'cluster', where: 'Runner.heartbeat, giveBack' },
    { method: 'delete', queue: 'node', where: 'Runner.ack' },
    { method: 'delete', queue: 'cluster', where: 'Runner.ack' },
    { method: 'send', queue: 'clusterDlq', where: 'Runner.deadLetter → sendToDeadLetter' },
  ],
  // The CLI. No command calls ensureQueue: an operator never creates a queue.
  operator: [
    { method: 'send', queue: 'global', where: 'run, submit → core/task/emit.ts emitTask' },
    // dlq redrive sends a message back to the queue named in its taskerman.source_queue attribute, which
    // sendToDeadLetter callers set to: the global queue (Router.reject), a node queue (Supervisor, and
    // Runner.deadLetter for work from a node queue), or the cluster queue (Runner.deadLetter for work from
    // the cluster queue). Nothing is sent to cluster queues yet (the router has no SendMessage there), so
    // nothing can be dead-lettered from one: no send to 'cluster' here either.
    { method: 'send', queue: 'global', where: 'dlq redrive → core/queue/dead-letters.ts redriveDeadLetters' },
    { method: 'send', queue: 'node', where: 'dlq redrive → redriveDeadLetters; resume → core/task/task-control.ts resumeTask' },
    { method: 'stats', queue: 'global', where: 'status of a task with no record → cli/commands/status.ts: does it still wait in the global queue?' },
    { method: 'exists', queue: 'clusterDlq', where: 'dlq --cluster → core/queue/dead-letters.ts deadLetterQueues' },
    { method: 'exists', queue: 'globalDlq', where: 'dlq without --cluster → deadLetterQueues: a wrong prefix or region is an error, not an all-clear' },
    { method: 'list', queue: 'unscoped', where: 'dlq without --cluster → deadLetterQueues: every "<prefix>--…-dlq"' },
    { method: 'receive', queue: 'globalDlq', where: 'dlq list/show/redrive → core/queue/dead-letters.ts scan' },
    { method: 'receive', queue: 'clusterDlq', where: 'dlq list/show/redrive → scan' },
    { method: 'changeVisibility', queue: 'globalDlq', where: 'scan: what it did not consume becomes visible again' },
    { method: 'changeVisibility', queue: 'clusterDlq', where: 'scan: what it did not consume becomes visible again' },
    { method: 'delete', queue: 'globalDlq', where: 'dlq redrive → redriveDeadLetters, once sent back' },
    { method: 'delete', queue: 'clusterDlq', where: 'dlq redrive → redriveDeadLetters, once sent back' },
    { method: 'purge', queue: 'globalDlq', where: 'dlq purge (cli/commands/dlq.ts)' },
    { method: 'purge', queue: 'clusterDlq', where: 'dlq purge (cli/commands/dlq.ts)' },
  ],
};

/** Helpers that call a WorkQueue method for their caller. */
const HELPERS: Record<string, string> = { sendToDeadLetter: 'send', emitTask: 'send' };

/**
 * The operator's sources: the CLI command files that call a WorkQueue (or EC2) themselves, and the core
 * modules whose queue-taking functions they call. Whole files are read, so a queue call added anywhere in
 * them is seen.
 *   cli/commands/run.ts      run and submit (submit.ts only calls run.ts's submitSpec) → emitTask;
 *                            run --dry-run → printPlan (plan.ts)
 *   cli/commands/dlq.ts      dlq list/show/redrive/purge → core/queue/dead-letters.ts; purge calls queue.purge itself
 *   cli/commands/control.ts  resume → core/task/task-control.ts resumeTask (cancel and pause: ZooKeeper only)
 *   cli/commands/plan.ts     plan, run --dry-run: buildDiscoveries → EC2 for discovery aws_tags; no queue
 *   core/task/emit.ts, core/queue/dead-letters.ts, core/task/task-control.ts   what those commands call
 * Not sources: the daemon commands (router.ts, runner.ts, scheduler.ts: their roles' policies) and dev.ts
 * (in-memory queues); every other command file touches neither SQS nor EC2, which a test below checks.
 */
const OPERATOR_SOURCES = ['cli/commands/run.ts', 'cli/commands/dlq.ts', 'cli/commands/control.ts', 'cli/commands/plan.ts', 'cli/commands/status.ts', 'cli/commands/ui.ts', 'core/task/emit.ts', 'core/queue/dead-letters.ts', 'core/task/task-control.ts'];
/** CLI command files that are not the operator's, and why. */
const NOT_OPERATOR: Record<string, string> = {
  'cli/commands/router.ts': 'the router daemon: the router policy',
  'cli/commands/runner.ts': 'the runner daemon: the runner policy',
  'cli/commands/scheduler.ts': 'the scheduler daemon: the scheduler policy',
  'cli/commands/dev.ts': 'the embedded mode: in-memory queues',
};

function sourcesOf(role: Role): string[] {
  const dirFiles = (d: string) => (existsSync(join(ROOT, d)) ? readdirSync(join(ROOT, d)).filter((f) => f.endsWith('.ts')).map((f) => join(d, f)) : []);
  if (role === 'scheduler') return ['core/task/emit.ts', ...dirFiles('scheduler')];
  if (role === 'operator') return OPERATOR_SOURCES;
  // The router command also runs the fleet scanner (metrics, notifications), which reads queue depths.
  if (role === 'router') return [...dirFiles('router'), 'core/fleet/fleet-scanner.ts'];
  return dirFiles(role);
}

/** Whether a role's sources build the EC2 discovery adapter (the router's is built by its command). */
function usesEc2Discovery(role: Role): boolean {
  if (role === 'router') return true;
  return sourcesOf(role).some((f) => /\b(?:buildDiscoveries\(|new Ec2TagDiscovery\()/.test(readFileSync(join(ROOT, f), 'utf8')));
}

function methodsCalledBy(role: Role, portMethods: Set<string>): Set<string> {
  const found = new Set<string>();
  for (const f of sourcesOf(role)) {
    const src = readFileSync(join(ROOT, f), 'utf8');
    for (const m of src.matchAll(/\bqueue\.(\w+)\(/g)) if (portMethods.has(m[1] as string)) found.add(m[1] as string);
    for (const [helper, method] of Object.entries(HELPERS)) if (new RegExp(`\\b${helper}\\(`).test(src)) found.add(method);
  }
  return found;
}

/** KMS calls SQS makes for a caller of these methods on an SSE-KMS queue. */
const KMS_ACTIONS: Record<string, string[]> = { send: ['kms:Decrypt', 'kms:GenerateDataKey'], sendBatch: ['kms:Decrypt', 'kms:GenerateDataKey'], receive: ['kms:Decrypt'] };
/** The queues the module encrypts with var.kms_master_key_arn (the router creates the others, SQS-encrypted). */
const KMS_QUEUES = new Set<QueueKind>(['global', 'globalDlq']);

type Grants = Map<string, Set<string>>;

function addGrant(g: Grants, resource: string, actions: Iterable<string>): void {
  const s = g.get(resource) ?? new Set<string>();
  for (const a of actions) s.add(a);
  if (s.size > 0) g.set(resource, s);
}

function grantsOf(policyJson: Value): Grants {
  const doc = JSON.parse(str(policyJson, 'policy')) as { Statement: PolicyStatement[] };
  const g: Grants = new Map();
  for (const st of doc.Statement) {
    assert.equal(st.Effect, 'Allow', `statement ${st.Sid ?? ''}: only Allow statements are expected`);
    for (const r of st.Resource) addGrant(g, r, st.Action);
  }
  return g;
}

const plain = (g: Grants): Record<string, string[]> =>
  Object.fromEntries([...g.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([r, a]) => [r, [...a].sort()]));

/** IAM's wildcard match (`*` any run of characters, `?` one). */
function iamMatch(pattern: string, s: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  return re.test(s);
}

// ---------------------------------------------------------------------------------------------------------

const SAMPLE_CLUSTERS = [
  'kafka_main', // plain: kept
  'cassandra:geo_counter', // ':' → "_" and a hash
  'cassandra_geo_counter', // what the one above would become without the hash
  'elasticsearch.logs-prod',
  'zk@eu-west-1:main',
  'A1',
  'c'.repeat(30), // plain, 30: kept by both lengths
  'd'.repeat(31), // plain, kept at 40, hashed at 30
  'e'.repeat(40), // plain, kept at 40
  'f'.repeat(41), // plain, hashed at both
  `elasticsearch:${'logs_'.repeat(37)}`, // 199 characters, the longest kind
];
const SAMPLE_NODES = ['cass-geo-1', 'ip-10-0-1-17.eu-west-1.compute.internal', 'i-0a1b2c3d4e5f60001', `node-${'y'.repeat(200)}`];
const PREFIXES = ['taskerman', 'x', 'team_storage_prod_eu_w1x'];

describe('terraform/ module against the code', function () {
  // The HCL parser is a wasm build of the Go one; the first call loads it.
  this.timeout(60_000);

  let tf: TfModule;
  let files: string[];
  before(async () => {
    ({ module: tf, files } = await loadModule(TF_DIR));
  });

  it('parses every .tf file with the HCL parser', () => {
    assert.deepEqual(files, ['iam.tf', 'main.tf', 'outputs.tf', 'variables.tf', 'versions.tf']);
    assert.ok(Object.keys(tf.doc.variable).length > 0 && Object.keys(tf.doc.output).length > 0);
  });

  describe('queue names', () => {
    it('the sample table exercises every branch of segment()', () => {
      const kept40 = SAMPLE_CLUSTERS.filter((c) => segment(c) === c);
      const kept40hashed30 = SAMPLE_CLUSTERS.filter((c) => segment(c) === c && segment(c, 30) !== c);
      const sanitized = SAMPLE_CLUSTERS.filter((c) => /[^A-Za-z0-9_]/.test(c));
      const tooLong = SAMPLE_CLUSTERS.filter((c) => /^[A-Za-z0-9_]+$/.test(c) && c.length > 40);
      assert.ok(kept40.length >= 3 && kept40hashed30.length >= 2 && sanitized.length >= 3 && tooLong.length >= 1);
      for (const c of SAMPLE_CLUSTERS) assert.doesNotThrow(() => parseTaskSpec({ name: 'n', action: 'noop', cluster: c, nodes: ['a'] }), c);
    });

    it('global queue and dead-letter queue: the code\'s names for the default prefix', () => {
      const q = queueNames();
      assert.equal(tf.variable('queue_prefix'), q.prefix);
      assert.equal(tf.output('global_queue_name'), q.global);
      assert.equal(tf.output('global_dlq_name'), q.globalDlq);
      assert.equal(tf.output('global_queue_arn'), `${SQS_ARN}${q.global}`);
    });

    for (const prefix of PREFIXES) {
      it(`per-cluster names evaluated from the HCL equal core/queue/queue-names.ts (prefix "${prefix}")`, () => {
        const q = queueNames(prefix);
        const m = tf.with({ queue_prefix: prefix, clusters: SAMPLE_CLUSTERS });
        assert.equal(m.output('global_queue_name'), q.global);
        assert.equal(m.output('global_dlq_name'), q.globalDlq);
        const out = m.output('cluster_queues') as Record<string, { queue: string; dead_letter_queue: string; node_queue_pattern: string }>;
        assert.deepEqual(Object.keys(out).sort(), [...SAMPLE_CLUSTERS].sort());
        for (const c of SAMPLE_CLUSTERS) {
          const o = out[c];
          assert.ok(o, c);
          assert.equal(o.queue, q.cluster(c), `cluster queue of ${c}`);
          assert.equal(o.dead_letter_queue, q.clusterDlq(c), `dead-letter queue of ${c}`);
          // The node queue of a short node is "<prefix>--n--<seg30>--<node>": its wildcard is the code's.
          assert.equal(o.node_queue_pattern, `${q.node(c, 'n').slice(0, -1)}*`, `node queues of ${c}`);
          for (const n of SAMPLE_NODES) assert.ok(iamMatch(o.node_queue_pattern, q.node(c, n)), `${q.node(c, n)} ~ ${o.node_queue_pattern}`);
          for (const other of SAMPLE_CLUSTERS.filter((x) => x !== c)) {
            for (const n of SAMPLE_NODES) assert.ok(!iamMatch(o.node_queue_pattern, q.node(other, n)), `${c}'s wildcard must not match ${q.node(other, n)}`);
            assert.notEqual(o.queue, q.cluster(other));
          }
        }
      });
    }

    it('agrees with the code even on names a spec refuses (empty, spaces, non-ASCII letters)', () => {
      const odd = ['', 'a b', 'ü-cluster', '-lead', 'x/y'];
      const q = queueNames();
      const out = tf.with({ clusters: odd }).output('cluster_queues') as Record<string, { queue: string }>;
      for (const c of odd) assert.equal(out[c]?.queue, q.cluster(c), JSON.stringify(c));
    });

    it('fit() never shortens a cluster queue, which is why the HCL does not reproduce it', () => {
      const q = queueNames('p'.repeat(24));
      for (const c of SAMPLE_CLUSTERS) assert.equal(q.cluster(c), `${'p'.repeat(24)}--c--${segment(c)}`);
    });

    it('the queue_prefix and clusters validations accept exactly what the code accepts', () => {
      const prefixRule = tf.doc.variable.queue_prefix?.validation as Body[];
      for (const p of ['taskerman', 'x', '_', 'a'.repeat(24), 'a'.repeat(25), '', 'team-a', 'tm:1', 'tâche']) {
        let code = true;
        try {
          validatePrefix(p);
        } catch (err) {
          assert.ok(err instanceof OptionError);
          code = false;
        }
        assert.equal(tf.with({ queue_prefix: p }).value(prefixRule[0]?.condition, EMPTY), code, `prefix ${JSON.stringify(p)}`);
      }
      const clusterRule = tf.doc.variable.clusters?.validation as Body[];
      for (const c of [...SAMPLE_CLUSTERS, '-lead', 'a b', 'x'.repeat(201), 'x'.repeat(200), 'a/b', '']) {
        let code = true;
        try {
          parseTaskSpec({ name: 'n', action: 'noop', cluster: c, nodes: ['a'] });
        } catch {
          code = false;
        }
        assert.equal(tf.with({ clusters: [c] }).value(clusterRule[0]?.condition, EMPTY), code, `cluster ${JSON.stringify(c)}`);
      }
    });
  });

  describe('the global queue', () => {
    it('redrives to the global dead-letter queue after max_receive_count (10, the router\'s default)', () => {
      const q = queueNames();
      const global = tf.resource('aws_sqs_queue', 'global');
      const redrive = JSON.parse(str(getAttr(global, 'redrive_policy', 'global'), 'redrive_policy')) as Record<string, unknown>;
      assert.deepEqual(redrive, { deadLetterTargetArn: `${SQS_ARN}${q.globalDlq}`, maxReceiveCount: 10 });
      const router = compileRouterOptions({} as RouterOptions);
      assert.equal(redrive.maxReceiveCount, router.maxReceiveCount);
      assert.equal(getAttr(global, 'visibility_timeout_seconds', 'global'), router.visibilitySec);
      assert.deepEqual(
        JSON.parse(str(getAttr(tf.with({ max_receive_count: 3 }).resource('aws_sqs_queue', 'global'), 'redrive_policy', 'global'), 'redrive_policy')),
        { deadLetterTargetArn: `${SQS_ARN}${q.globalDlq}`, maxReceiveCount: 3 },
      );
    });

    it('lets only the global queue use its dead-letter queue', () => {
      const allow = tf.resource('aws_sqs_queue_redrive_allow_policy', 'global_dlq');
      assert.equal(getAttr(allow, 'queue_url', 'allow'), `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${queueNames().globalDlq}`);
      assert.deepEqual(JSON.parse(str(getAttr(allow, 'redrive_allow_policy', 'allow'), 'policy')), {
        redrivePermission: 'byQueue',
        sourceQueueArns: [`${SQS_ARN}${queueNames().global}`],
      });
    });

    it('keeps dead letters longer than the queue keeps messages', () => {
      assert.ok(num(tf.variable('dlq_message_retention_seconds'), 'x') > num(tf.variable('message_retention_seconds'), 'x'));
    });
  });

  describe('IAM policies: exactly what the code calls', () => {
    const { byMethod, imported, reached } = sqsActionsByMethod();
    const portMethods = new Set(['ensureQueue', 'exists', 'send', 'sendBatch', 'receive', 'delete', 'changeVisibility', 'stats', 'list', 'purge']);

    it('reads the SQS calls of every WorkQueue method from core/queue/sqs-work-queue.ts', () => {
      assert.ok(imported.length >= 5, `operations declared: ${imported.join(', ')}`);
      // Every operation the transport declares is called from some method: nothing escaped the reading.
      assert.deepEqual([...reached].sort(), [...imported].sort());
      for (const m of portMethods) assert.ok((byMethod.get(m)?.self.size ?? 0) > 0, `${m}: no SQS call found`);
      assert.ok(byMethod.get('receive')?.self.has('sqs:ReceiveMessage'));
      assert.ok(byMethod.get('sendBatch')?.self.has('sqs:SendMessage'), 'SendMessageBatch is authorized by sqs:SendMessage');
      assert.ok((byMethod.get('ensureQueue')?.deadLetter.size ?? 0) > 0, 'ensureQueue also creates the dead-letter queue');
    });

    for (const role of ROLES) {
      it(`${role}: the table of queue calls lists every WorkQueue method its sources call`, () => {
        assert.deepEqual([...new Set(USAGE[role].map((u) => u.method))].sort(), [...methodsCalledBy(role, portMethods)].sort());
      });
    }

    it('operator: its sources are every CLI command that reaches SQS or EC2, bar the daemons and dev', () => {
      // The core functions that take a WorkQueue: calling one reaches SQS.
      const queueFns = new Set<string>();
      for (const f of coreSources()) {
        for (const m of readFileSync(join(ROOT, f), 'utf8').matchAll(/export (?:async )?function (\w+)\(([^)]*)\)/g)) {
          if (/:\s*WorkQueue\b/.test(m[2] as string)) queueFns.add(m[1] as string);
        }
      }
      assert.ok(['emitTask', 'deadLetterQueues', 'listDeadLetters', 'redriveDeadLetters', 'resumeTask'].every((f) => queueFns.has(f)), [...queueFns].join(', '));
      const reaches = (src: string): boolean =>
        /\.queue\b|\bopenQueue\(|\bbuildDiscoveries\(|\bEc2TagDiscovery\b/.test(src) || [...queueFns].some((fn) => new RegExp(`\\b${fn}\\(`).test(src));
      const commands = readdirSync(join(ROOT, 'cli/commands')).filter((f) => f.endsWith('.ts')).map((f) => `cli/commands/${f}`);
      for (const f of Object.keys(NOT_OPERATOR)) assert.ok(commands.includes(f), `${f} is gone: update NOT_OPERATOR`);
      for (const f of OPERATOR_SOURCES) assert.ok(existsSync(join(ROOT, f)), `${f} is gone: update OPERATOR_SOURCES`);
      const reaching = commands.filter((f) => reaches(readFileSync(join(ROOT, f), 'utf8')) && !(f in NOT_OPERATOR)).sort();
      assert.deepEqual(reaching, OPERATOR_SOURCES.filter((f) => f.startsWith('cli/commands/')).sort());
      // The core modules in the sources are exactly those defining a queue function a command source calls.
      const called = new Set<string>();
      for (const f of reaching) for (const fn of queueFns) if (new RegExp(`\\b${fn}\\(`).test(readFileSync(join(ROOT, f), 'utf8'))) called.add(fn);
      const coreOf = (fn: string) => coreSources().find((x) => new RegExp(`export (?:async )?function ${fn}\\(`).test(readFileSync(join(ROOT, x), 'utf8')));
      assert.deepEqual([...new Set([...called].map(coreOf))].sort(), OPERATOR_SOURCES.filter((f) => f.startsWith('core/')).sort());
    });

    /** The grants a role needs, from USAGE and the code's SQS and EC2 calls. `cluster` scopes the runner. */
    function expected(role: Role, prefix: string, cluster?: string, kmsKey?: string): Grants {
      const q = queueNames(prefix);
      const arnOf = (kind: QueueKind): string => {
        if (kind === 'unscoped') return '*';
        if (kind === 'global') return `${SQS_ARN}${q.global}`;
        if (kind === 'globalDlq') return `${SQS_ARN}${q.globalDlq}`;
        if (cluster === undefined) {
          // The router and the operator work on any cluster: the wildcard of each kind.
          return `${SQS_ARN}${{ cluster: `${prefix}--c--*`, clusterDlq: `${prefix}--c--*-dlq`, node: `${prefix}--n--*` }[kind]}`;
        }
        if (kind === 'cluster') return `${SQS_ARN}${q.cluster(cluster)}`;
        if (kind === 'clusterDlq') return `${SQS_ARN}${q.clusterDlq(cluster)}`;
        return `${SQS_ARN}${q.node(cluster, 'n').slice(0, -1)}*`;
      };
      const g: Grants = new Map();
      for (const u of USAGE[role]) {
        const ops = byMethod.get(u.method);
        assert.ok(ops, `${u.method} is a method of SqsWorkQueue`);
        addGrant(g, arnOf(u.queue), ops.self);
        const dlq = DEAD_LETTER_OF[u.queue];
        if (ops.deadLetter.size > 0) {
          assert.ok(dlq, `${u.method} on ${u.queue}: which dead-letter queue?`);
          addGrant(g, arnOf(dlq), ops.deadLetter);
        }
        if (kmsKey && KMS_QUEUES.has(u.queue)) addGrant(g, kmsKey, KMS_ACTIONS[u.method] ?? []);
      }
      if (usesEc2Discovery(role)) addGrant(g, '*', [EC2_DISCOVERY_IAM_ACTION]);
      return g;
    }

    it('EC2: the discovery adapter calls only DescribeInstances', () => {
      const src = readFileSync(join(ROOT, 'core/discovery/ec2-discovery.ts'), 'utf8');
      const commands = [...src.matchAll(/\b(\w+)Command\b/g)].map((m) => `ec2:${m[1] as string}`);
      assert.deepEqual([...new Set(commands)], [EC2_DISCOVERY_IAM_ACTION]);
    });

    for (const prefix of ['taskerman', 'team_storage_prod_eu_w1x']) {
      for (const kms of [undefined, KMS_KEY]) {
        const label = `prefix "${prefix}"${kms ? ', SSE-KMS' : ''}`;
        const vars = { queue_prefix: prefix, clusters: SAMPLE_CLUSTERS, kms_master_key_arn: kms ?? null };

        it(`scheduler, router and operator policies (${label})`, () => {
          const m = tf.with(vars);
          for (const role of ['scheduler', 'router', 'operator'] as const) {
            const policy = getAttr(m.resource('aws_iam_policy', role), 'policy', role);
            assert.deepEqual(plain(grantsOf(policy)), plain(expected(role, prefix, undefined, kms)), role);
            assert.equal(m.output(`${role}_policy_json`), policy);
          }
        });

        it(`one runner policy per cluster, scoped to that cluster's queues (${label})`, () => {
          const m = tf.with(vars);
          const policies = m.resource('aws_iam_policy', 'runner');
          assert.ok(policies instanceof Lazy);
          assert.deepEqual(policies.keys().sort(), [...SAMPLE_CLUSTERS].sort());
          const json = m.output('runner_policy_json') as ValueMap;
          for (const c of SAMPLE_CLUSTERS) {
            const p: Value = policies.get(c);
            assert.deepEqual(plain(grantsOf(getAttr(p, 'policy', c))), plain(expected('runner', prefix, c, kms)), c);
            assert.equal(json[c], getAttr(p, 'policy', c));
            const name = str(getAttr(p, 'name', c), 'name');
            assert.match(name, /^[\w+=,.@-]{1,128}$/, `IAM policy name ${name}`);
          }
          const names = SAMPLE_CLUSTERS.map((c) => getAttr(policies.get(c), 'name', c));
          assert.equal(new Set(names).size, names.length, 'policy names are distinct');
          const arns = m.output('runner_policy_arns') as ValueMap;
          assert.equal(arns['cassandra:geo_counter'], `arn:aws:iam::${ACCOUNT}:policy/${prefix}-runner-${segment('cassandra:geo_counter')}`);
        });
      }
    }

    it('attaches each policy to the roles given, and a runner role only to a listed cluster', () => {
      const m = tf.with({
        clusters: ['kafka:main', 'zk_main'],
        scheduler_role_names: ['scheduler'],
        router_role_names: ['router-a', 'router-b'],
        operator_role_names: ['oncall', 'ci-deploy'],
        runner_role_names: { 'kafka:main': ['kafka-nodes'], zk_main: ['zk-nodes', 'zk-canary'] },
      });
      const attachments = (r: string): Record<string, [Value, Value]> => {
        const all = m.resource('aws_iam_role_policy_attachment', r);
        assert.ok(all instanceof Lazy);
        return Object.fromEntries(all.keys().sort().map((k) => [k, [getAttr(all.get(k), 'role', k), getAttr(all.get(k), 'policy_arn', k)]]));
      };
      const policy = (name: string) => `arn:aws:iam::${ACCOUNT}:policy/${name}`;
      assert.deepEqual(attachments('scheduler'), { scheduler: ['scheduler', policy('taskerman-scheduler')] });
      assert.deepEqual(attachments('router'), { 'router-a': ['router-a', policy('taskerman-router')], 'router-b': ['router-b', policy('taskerman-router')] });
      assert.deepEqual(attachments('operator'), { 'ci-deploy': ['ci-deploy', policy('taskerman-operator')], oncall: ['oncall', policy('taskerman-operator')] });
      assert.deepEqual(attachments('runner'), {
        'kafka:main|kafka-nodes': ['kafka-nodes', policy(`taskerman-runner-${segment('kafka:main')}`)],
        'zk_main|zk-canary': ['zk-canary', policy('taskerman-runner-zk_main')],
        'zk_main|zk-nodes': ['zk-nodes', policy('taskerman-runner-zk_main')],
      });
      const pre = (tf.doc.resource.aws_iam_role_policy_attachment?.runner?.lifecycle as Body[] | undefined)?.[0]?.precondition as Body[] | undefined;
      const stray = tf.with({ clusters: ['zk_main'], runner_role_names: { 'kafka:main': ['kafka-nodes'] } });
      assert.equal(stray.value(pre?.[0]?.condition, new Map([['each', { key: 'kafka:main|kafka-nodes', value: { cluster: 'kafka:main', role: 'kafka-nodes' } }]])), false);
    });
  });

  it('the README documents every variable and output', () => {
    const readme = readFileSync(join(TF_DIR, 'README.md'), 'utf8');
    for (const name of [...Object.keys(tf.doc.variable), ...Object.keys(tf.doc.output)]) {
      assert.ok(readme.includes(`\`${name}\``), `terraform/README.md does not mention \`${name}\``);
    }
    for (const [name, v] of Object.entries({ ...tf.doc.variable, ...tf.doc.output })) assert.ok(typeof v.description === 'string' && v.description.length > 10, `${name} has no description`);
  });
});

/** Every TypeScript source under core/, as repo-relative paths (core/ has a folder per concept). */
function coreSources(): string[] {
  return (readdirSync(join(ROOT, 'core'), { recursive: true }) as string[]).filter((f) => f.endsWith('.ts')).map((f) => `core/${f}`).sort();
}
