import { Validator } from '@seriousme/openapi-schema-validator';
import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { ERROR_CATALOGUE, ERROR_CODES, type ErrorCode } from '../core/errors.ts';
import { SchemaSet } from './openapi-schemas.ts';
import { openApiDocument } from './openapi.ts';
import { ROUTE_TABLE, ROUTES } from './routes/index.ts';

type Json = Record<string, any>;
const doc = openApiDocument(ROUTE_TABLE, '0.0.0-test') as Json;
const operations = Object.entries(doc.paths as Json).flatMap(([path, item]) =>
  Object.entries(item as Json).map(([method, op]) => ({ path, method, op: op as Json })));

/** Follows a local `$ref` (`#/components/…`). */
function deref(node: Json): Json {
  if (typeof node.$ref !== 'string') return node;
  return (node.$ref as string).slice(2).split('/').reduce((at: Json, key) => at[key], doc);
}

/** The error codes an operation documents, by status. */
function documentedErrors(op: Json): Map<number, ErrorCode[]> {
  const out = new Map<number, ErrorCode[]>();
  for (const [status, ref] of Object.entries(op.responses as Json)) {
    const schema = deref(ref as Json).content?.['application/json']?.schema;
    const codes = schema?.allOf?.[1]?.properties?.error?.properties?.code?.enum as ErrorCode[] | undefined;
    if (codes) out.set(Number(status), codes);
  }
  return out;
}

describe('the OpenAPI document', () => {
  it('validates as OpenAPI 3.1', async () => {
    const validator = new Validator();
    const res = await validator.validate(structuredClone(doc));
    expect(res.errors).toBeUndefined();
    expect(res.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('has one operation per route of the table and nothing else', () => {
    const documented = operations.map((o) => `${o.method.toUpperCase()} ${o.path}`).sort();
    const declared = ROUTE_TABLE.map((r) => `${r.method.toUpperCase()} ${r.path}`).sort();
    expect(documented).toEqual(declared);
    expect(new Set(operations.map((o) => o.op.operationId)).size).toBe(ROUTE_TABLE.length);
  });

  it('documents every code of the error catalogue, with its status', () => {
    expect(doc.components.schemas.ErrorCode.enum).toEqual(ERROR_CODES);
    for (const code of ERROR_CODES) {
      expect(doc.components.schemas.ErrorCode.description).toContain(`| \`${code}\` | ${ERROR_CATALOGUE[code].status} |`);
    }
    expect(doc.components.schemas.ErrorEnvelope.required).toEqual(['error']);
  });

  it('answers each route\'s error codes under their catalogue status, and no others', () => {
    for (const r of ROUTE_TABLE) {
      const op = operations.find((o) => o.path === r.path && o.method === r.method)!.op;
      const byStatus = documentedErrors(op);
      for (const [status, codes] of byStatus) {
        for (const code of codes) expect(ERROR_CATALOGUE[code].status, `${r.operationId} ${code}`).toBe(status);
      }
      expect([...byStatus.values()].flat().sort(), r.operationId).toEqual([...r.errors].sort());
    }
  });

  it('names the credentials of each route, from the schemes it defines', () => {
    expect(Object.keys(doc.components.securitySchemes)).toEqual(expect.arrayContaining(['apiKey', 'sessionToken', 'adminJwt']));
    for (const r of ROUTE_TABLE) {
      const op = operations.find((o) => o.path === r.path && o.method === r.method)!.op;
      expect(op.security, r.operationId).toEqual(r.auth.map((s) => ({ [s]: [] })));
      for (const s of r.auth) expect(doc.components.securitySchemes[s], s).toBeDefined();
    }
  });

  it('carries the rate-limit headers on keyed answers and Retry-After on 429 and 503', () => {
    for (const r of ROUTES.keyed) {
      const op = operations.find((o) => o.path === r.path && o.method === r.method)!.op;
      for (const [status, ref] of Object.entries(op.responses as Json)) {
        const headers = Object.keys(deref(ref as Json).headers ?? {});
        expect(headers, `${r.operationId} ${status}`).toContain('X-Request-Id');
        if (status !== '401') expect(headers, `${r.operationId} ${status}`).toContain('X-RateLimit-Remaining');
        if (status === '429' || status === '503') expect(headers, `${r.operationId} ${status}`).toContain('Retry-After');
      }
    }
  });

  it('documents streams and binary bodies by their media types', () => {
    const media = (method: string, path: string) => Object.keys(operations.find((o) => o.path === path && o.method === method)!.op.responses['200'].content);
    expect(media('post', '/execute')).toEqual(['application/json', 'text/event-stream']);
    expect(media('get', '/executions/{id}/events')).toEqual(['text/event-stream']);
    expect(media('get', '/files/read')).toEqual(['application/octet-stream']);
    expect(media('get', '/files/download')).toEqual(['application/x-tar']);
    const upload = operations.find((o) => o.path === '/files/upload')!.op;
    expect(Object.keys(upload.requestBody.content)).toEqual(['application/x-tar']);
  });
});

describe('the route table', () => {
  it('groups routes by the credentials of where they are mounted', () => {
    for (const r of ROUTES.open) expect([[], ['metricsToken']], r.path).toContainEqual([...r.auth]);
    for (const r of ROUTES.admin) {
      expect(r.auth, r.path).toEqual(['adminJwt']);
      expect(r.path.startsWith('/admin/'), r.path).toBe(true);
    }
    for (const r of ROUTES.keyed) expect(r.auth[0], r.path).toBe('apiKey');
  });

  it('declares path parameters exactly as the path names them', () => {
    for (const r of ROUTE_TABLE) {
      const named = [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      expect(Object.keys(r.params?.shape ?? {}), r.path).toEqual(named);
    }
  });
});

describe('SchemaSet', () => {
  it('refuses one name for two schemas and two names for one schema', () => {
    const set = new SchemaSet();
    const a = z.object({ a: z.string() });
    set.ref('A', a, 'output');
    expect(set.ref('A', a, 'output')).toEqual({ $ref: '#/components/schemas/A' });
    expect(() => set.ref('A', z.object({ b: z.string() }), 'output')).toThrow(/two schemas/);
    expect(() => set.ref('A', a, 'input')).toThrow(/two schemas/);
    expect(() => set.ref('B', a, 'output')).toThrow(/named both/);
  });

  it('references a named schema wherever it is nested', () => {
    const set = new SchemaSet();
    const inner = z.object({ n: z.number().int() });
    set.ref('Inner', inner, 'output');
    set.ref('Outer', z.object({ list: z.array(inner) }), 'output');
    const out = set.toJson();
    expect(out.Outer).toEqual({ type: 'object', properties: { list: { type: 'array', items: { $ref: '#/components/schemas/Inner' } } }, required: ['list'] });
    expect(out.Inner).toEqual({ type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] });
  });
});
