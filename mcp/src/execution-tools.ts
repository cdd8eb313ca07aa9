import type { ExecuteParams } from '@buntime/sdk';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { formatExecution, formatProcesses } from './format.ts';
import { checked, withSession, type ToolDeps } from './tool-context.ts';
import { ToolInputError } from './tool-result.ts';

const source = {
  code: z.string().optional().describe('JavaScript or TypeScript source, run as a fresh Bun process (top-level await works). Give this or `command`.'),
  command: z.string().optional().describe('A shell command, run with /bin/sh -c (busybox tools, `bun`, `bun run file.ts`). Give this or `code`.'),
  files: z.array(z.object({
    path: z.string().describe('Relative to /workspace.'),
    content: z.string(),
    encoding: z.enum(['utf8', 'base64']).optional().describe('How `content` is encoded (default utf8).'),
  })).max(100).optional().describe('Files written into /workspace before the run.'),
  env: z.record(z.string(), z.string()).optional().describe('Extra environment variables for this run only.'),
  workingDir: z.string().optional().describe('Working directory inside /workspace (default /workspace).'),
};

type SourceArgs = { code?: string | undefined; command?: string | undefined } & Omit<ExecuteParams, 'code' | 'command'>;

/** The execute parameters of a tool call, with exactly one of `code` and `command`. */
export function executeParams(args: SourceArgs): ExecuteParams {
  const { code, command, ...settings } = args;
  const clean = Object.fromEntries(Object.entries(settings).filter(([, v]) => v !== undefined)) as Omit<ExecuteParams, 'code' | 'command'>;
  if (code !== undefined && command === undefined) return { ...clean, code };
  if (command !== undefined && code === undefined) return { ...clean, command };
  throw new ToolInputError('invalid_request', 'give exactly one of `code` (JS/TS source) or `command` (shell)');
}

/** `execute_code`, `start_process`, `list_processes`, `kill_process`. */
export function registerExecutionTools(server: McpServer, d: ToolDeps): void {
  server.registerTool('execute_code', {
    title: 'Run code in the sandbox',
    description: 'Runs JavaScript/TypeScript (`code`) or a shell command (`command`) in this conversation\'s private Bun sandbox and waits for it to end. Files in /workspace persist between calls. Returns status, exit code, stdout, stderr, timings and the files the run wrote. A failing program is reported as a result, not an error.',
    inputSchema: {
      ...source,
      timeout: z.number().int().min(1).max(3600).optional().describe('Limit of the run in seconds (default: the session\'s, 30 s on the free plan).'),
      stdin: z.string().optional().describe('Text written to the program\'s standard input.'),
    },
    annotations: { openWorldHint: false },
  }, (args) => checked(() => executeParams(args), (params) => withSession(d, async (sessionId) => {
    return formatExecution(await d.client.execute({ ...params, sessionId }));
  })));

  server.registerTool('start_process', {
    title: 'Start a background process',
    description: 'Starts code or a shell command in the background and returns at once with its pid; it keeps running in the sandbox (e.g. a web server for get_preview_url). See list_processes and kill_process.',
    inputSchema: source,
    annotations: { openWorldHint: false },
  }, (args) => checked(() => executeParams(args), (params) => withSession(d, async (sessionId) => {
    const started = await d.client.spawn({ ...params, sessionId });
    return `started pid ${started.pid} (execution ${started.executionId}); it keeps running in the sandbox until it ends or kill_process stops it`;
  })));

  server.registerTool('list_processes', {
    title: 'List running processes',
    description: 'Lists the user processes running in the sandbox (background processes included): pid, start time and command.',
    inputSchema: {},
    annotations: { readOnlyHint: true, openWorldHint: false },
  }, () => withSession(d, async (sessionId) => formatProcesses(await d.client.processes.list(sessionId))));

  server.registerTool('kill_process', {
    title: 'Stop a process',
    description: 'Kills one process (its whole process tree) by pid, or every user process in the sandbox when no pid is given.',
    inputSchema: { pid: z.number().int().min(1).optional().describe('The pid from start_process or list_processes; omit to kill all.') },
    annotations: { destructiveHint: true, idempotentHint: true, openWorldHint: false },
  }, ({ pid }) => withSession(d, async (sessionId) => {
    const r = await d.client.processes.kill(sessionId, pid);
    return r.killed ? `killed pid${r.pids.length === 1 ? '' : 's'} ${r.pids.join(', ')}` : 'no matching process was running';
  }));
}
