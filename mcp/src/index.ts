/**
 * @buntime/mcp — an MCP server that gives AI agents a Buntime sandbox. The `buntime-mcp` bin
 * runs `main.ts`; these exports let a program embed the server instead.
 */
export { DEFAULT_TTL_SEC, parseCommand } from './config.ts';
export type { HttpConfig, McpConfig, ParsedCommand } from './config.ts';
export { HttpGuard } from './http-guard.ts';
export type { GuardPolicy, Verdict } from './http-guard.ts';
export { serveHttp } from './http-server.ts';
export type { HttpMcpServer, HttpServerOptions } from './http-server.ts';
export type { Log } from './log.ts';
export { createConnection, SERVER_VERSION } from './server.ts';
export type { ConnectionOptions } from './server.ts';
export { SessionLease } from './session-lease.ts';
export type { LeaseOptions, LeasedSession, SessionApi } from './session-lease.ts';
export { serveStdio } from './stdio-server.ts';
