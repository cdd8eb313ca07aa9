/** A line of diagnostics. stdout carries the protocol in stdio mode, so logs go to stderr. */
export type Log = (message: string) => void;

/** Writes `[buntime-mcp] message` lines to stderr. Callers never pass keys or tokens. */
export const stderrLog: Log = (message) => {
  process.stderr.write(`[buntime-mcp] ${message}\n`);
};
