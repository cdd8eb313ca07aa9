import { z } from 'zod';

/** A JSON Schema (draft 2020-12, the dialect of OpenAPI 3.1) as a plain object. */
export type JsonSchema = Record<string, unknown>;

const SCHEMAS = '#/components/schemas/';

/**
 * The named schemas of an OpenAPI document, from zod: request bodies as zod reads them (`input`:
 * defaults make a field optional) and answers as the API writes them (`output`). A schema named
 * once is referenced wherever it appears, nested ones included. One name stands for one schema:
 * naming two different ones alike, or a request and an answer alike, throws.
 */
export class SchemaSet {
  private readonly input = z.registry<{ id: string }>();
  private readonly output = z.registry<{ id: string }>();
  private readonly names = new Map<string, { schema: z.ZodType; io: 'input' | 'output' }>();
  private readonly nameOf = new Map<z.ZodType, string>();

  /** Names `schema` for requests (`input`) or answers (`output`); answers its `$ref`. */
  ref(name: string, schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
    const known = this.names.get(name);
    if (known && (known.schema !== schema || known.io !== io)) throw new Error(`schema name ${name} stands for two schemas`);
    const other = this.nameOf.get(schema);
    if (other !== undefined && other !== name) throw new Error(`one schema is named both ${other} and ${name}`);
    if (!known) {
      this.names.set(name, { schema, io });
      this.nameOf.set(schema, name);
      (io === 'input' ? this.input : this.output).add(schema, { id: name });
    }
    return { $ref: `${SCHEMAS}${name}` };
  }

  /** Every named schema, for `components.schemas`. */
  toJson(): Record<string, JsonSchema> {
    return { ...convertRegistry(this.input, 'input'), ...convertRegistry(this.output, 'output') };
  }
}

function convertRegistry(registry: z.core.$ZodRegistry<{ id: string }>, io: 'input' | 'output'): Record<string, JsonSchema> {
  const { schemas } = z.toJSONSchema(registry, { io, target: 'draft-2020-12', unrepresentable: 'any', uri: (id) => `${SCHEMAS}${id}` });
  const out: Record<string, JsonSchema> = {};
  for (const [id, schema] of Object.entries(schemas)) {
    const { $schema: _s, $id: _i, ...rest } = schema as JsonSchema;
    out[id] = tidy(rest, io) as JsonSchema;
  }
  return out;
}

/** A schema that is not named (a query or path parameter), inline. */
export function inlineSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _s, ...rest } = z.toJSONSchema(schema, { io, target: 'draft-2020-12', unrepresentable: 'any' }) as JsonSchema;
  return tidy(rest, io) as JsonSchema;
}

/** A parameter of a query or a path, as OpenAPI lists them. */
export interface ParameterDoc {
  name: string;
  in: 'query' | 'path';
  required: boolean;
  description?: string;
  schema: JsonSchema;
}

/** The parameters of a query or path schema (a zod object): one per property. */
export function parametersOf(schema: z.ZodObject, where: 'query' | 'path'): ParameterDoc[] {
  const json = inlineSchema(schema, 'input');
  const props = (json.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((json.required ?? []) as string[]);
  return Object.entries(props).map(([name, s]) => {
    const { description, ...rest } = s;
    return {
      name, in: where, required: where === 'path' || required.has(name),
      ...(typeof description === 'string' ? { description } : {}), schema: rest,
    };
  });
}

/**
 * Drops what only restates JavaScript's safe-integer range (zod writes it on every `.int()`),
 * so that a documented bound is a real one; in answers, also `additionalProperties: false`
 * (what zod's parsing would strip): answers may gain fields, and a client must not break then.
 */
function tidy(value: unknown, io: 'input' | 'output'): unknown {
  if (Array.isArray(value)) return value.map((v) => tidy(v, io));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if ((k === 'maximum' && v === Number.MAX_SAFE_INTEGER) || (k === 'minimum' && v === Number.MIN_SAFE_INTEGER)) continue;
    if (io === 'output' && k === 'additionalProperties' && v === false) continue;
    out[k] = tidy(v, io);
  }
  return out;
}
