import { parseArgs } from 'node:util';
import { z } from 'zod';

/** Lifetime of the session an MCP connection creates unless `--ttl` says otherwise, s. */
export const DEFAULT_TTL_SEC = 900;

const USAGE = `usage: buntime-mcp [--http PORT [--host HOST] [--allow-origin ORIGIN]...] [--ttl SECONDS] [--keep-session]

  (no --http)          serve MCP over stdio (what desktop agents spawn)
  --http PORT          serve MCP over streamable HTTP at http://HOST:PORT/mcp
  --host HOST          address to bind in HTTP mode (default 127.0.0.1)
  --allow-origin URL   a browser Origin allowed in HTTP mode (repeatable; requests without
                       an Origin header are allowed, any other origin gets 403)
  --ttl SECONDS        lifetime of the session each connection creates (default ${DEFAULT_TTL_SEC})
  --keep-session       leave the session alive when the client disconnects (it expires at its ttl)

environment:
  BUNTIME_API_KEY      API key (btk_...), required
  BUNTIME_URL          API base URL (default http://127.0.0.1:3000)
  BUNTIME_MCP_TOKEN    bearer token clients must send in HTTP mode, required there
  BUNTIME_MCP_ALLOWED_ORIGINS  comma-separated origins, added to --allow-origin`;

/** Configuration of one `buntime-mcp` process, parsed once from its arguments and environment. */
export interface McpConfig {
  /** The Buntime API key every call is made with. Never logged. */
  apiKey: string;
  /** Base URL of the Buntime API, without a trailing slash. */
  baseUrl: string;
  /** Lifetime of each connection's session, s (60 … 604800). */
  ttlSec: number;
  /** Keep the session when the client disconnects instead of deleting it. */
  keepSession: boolean;
  /** Streamable HTTP settings; absent for stdio. */
  http?: HttpConfig;
}

/** Settings of the streamable HTTP transport. */
export interface HttpConfig {
  /** TCP port; 0 picks a free one. */
  port: number;
  /** Address to bind (default 127.0.0.1). */
  host: string;
  /** Bearer token every request must carry. Never logged. */
  token: string;
  /** Browser origins allowed besides requests without `Origin` (lower-case, no trailing slash). */
  allowedOrigins: string[];
}

/** What the command line asked for: a config, or the usage text (`--help`). */
export type ParsedCommand = { kind: 'run'; config: McpConfig } | { kind: 'help'; text: string };

const origin = z.string().transform((s, c) => {
  try {
    const u = new URL(s);
    if (u.origin !== 'null') return u.origin.toLowerCase();
  } catch { /* reported below */ }
  c.addIssue({ code: 'custom', message: `not an origin (scheme://host[:port]): ${s}` });
  return z.NEVER;
});

const schema = z.object({
  apiKey: z.string({ error: 'BUNTIME_API_KEY is required' }).min(1, 'BUNTIME_API_KEY is required'),
  baseUrl: z.url({ error: 'BUNTIME_URL must be a URL' }).transform((u) => u.replace(/\/+$/, '')),
  ttlSec: z.coerce.number({ error: '--ttl must be a number' }).int('--ttl must be whole seconds')
    .min(60, '--ttl is at least 60 s').max(604_800, '--ttl is at most 604800 s'),
  keepSession: z.boolean(),
  http: z.object({
    port: z.coerce.number({ error: '--http needs a port' }).int().min(0).max(65535),
    host: z.string().min(1),
    token: z.string({ error: 'BUNTIME_MCP_TOKEN is required with --http (clients must send it as a bearer token)' })
      .min(16, 'BUNTIME_MCP_TOKEN must be at least 16 characters'),
    allowedOrigins: z.array(origin),
  }).optional(),
});

/**
 * Parses arguments and environment once. Throws an `Error` listing every problem (and the usage)
 * so a misconfigured server never starts — in particular HTTP mode without a token.
 */
export function parseCommand(argv: string[], env: NodeJS.ProcessEnv): ParsedCommand {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      http: { type: 'string' }, host: { type: 'string' }, ttl: { type: 'string' },
      'allow-origin': { type: 'string', multiple: true }, 'keep-session': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return { kind: 'help', text: USAGE };
  const envOrigins = (env.BUNTIME_MCP_ALLOWED_ORIGINS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const raw = {
    apiKey: env.BUNTIME_API_KEY,
    baseUrl: env.BUNTIME_URL || env.BUNTIME_BASE_URL || 'http://127.0.0.1:3000',
    ttlSec: values.ttl ?? DEFAULT_TTL_SEC,
    keepSession: values['keep-session'] ?? false,
    http: values.http === undefined ? undefined : {
      port: values.http, host: values.host ?? '127.0.0.1', token: env.BUNTIME_MCP_TOKEN || undefined,
      allowedOrigins: [...(values['allow-origin'] ?? []), ...envOrigins],
    },
  };
  if (values.http === undefined && (values.host !== undefined || values['allow-origin'] !== undefined)) {
    throw new Error(`--host and --allow-origin only apply with --http\n\n${USAGE}`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.message}`);
    throw new Error(`buntime-mcp: invalid configuration:\n${lines.join('\n')}\n\n${USAGE}`);
  }
  return { kind: 'run', config: Object.freeze(parsed.data) };
}
