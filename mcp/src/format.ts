import type { ExecutionResult, FileList, ProcessInfo } from '@buntime/sdk';

/** Most characters of file content or output a tool hands back to the model. */
export const MAX_TEXT_CHARS = 100_000;

/** `1536` → `1.5 KB`; sizes in bytes. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/** Text cut to `max` characters with a note saying how much was left out. */
export function clip(text: string, max = MAX_TEXT_CHARS): string {
  if (text.length <= max) return text;
  return `${text.slice(0, max)}\n[… ${text.length - max} more characters not shown]`;
}

/**
 * An execution result as an agent reads it: the outcome line first, then stdout and stderr in
 * their own sections (empty ones said so), then the files the run wrote.
 */
export function formatExecution(r: ExecutionResult): string {
  const exit = r.exitCode === null ? `signal ${r.signal ?? 'unknown'}` : `exit code ${r.exitCode}`;
  const head = `status: ${r.status} (${exit})${r.timedOut ? ', timed out' : ''}`;
  const figures = `time: ${r.executionTime} ms wall, ${r.cpuTime} ms CPU; peak memory: ${formatBytes(r.memoryUsed)}`;
  const lines = [head, figures, '', section('stdout', r.stdout, r.stdoutTruncated), '', section('stderr', r.stderr, r.stderrTruncated)];
  if (r.filesWritten.length > 0) lines.push('', `files written: ${r.filesWritten.join(', ')}`);
  lines.push('', `execution id: ${r.executionId}`);
  return lines.join('\n');
}

function section(name: string, text: string, truncated: boolean): string {
  if (text === '') return `--- ${name}: (empty) ---`;
  const note = truncated ? '\n[the server kept only the first part of this output]' : '';
  return `--- ${name} ---\n${clip(text.replace(/\n$/, ''))}${note}`;
}

/** A directory listing, one entry per line: type, size, modification time, path. */
export function formatFileList(list: FileList, dir: string): string {
  if (list.files.length === 0) return `${dir}: no files`;
  const rows = list.files.map((f) => {
    const name = f.type === 'directory' ? `${f.path}/` : f.path;
    const size = f.type === 'directory' ? '-' : formatBytes(f.size);
    return `${f.type.padEnd(9)} ${size.padStart(9)}  ${f.modified}  ${name}`;
  });
  // Past 50,000 entries the service stops counting: `total` is then a lower bound.
  const atLeast = list.totalExact === false ? 'at least ' : '';
  const more = list.total > list.files.length ? `\n(${atLeast}${list.total - list.files.length} more not shown; raise limit)` : '';
  return `${dir}: ${atLeast}${list.total} ${list.total === 1 ? 'entry' : 'entries'}\n${rows.join('\n')}${more}`;
}

/** Running processes, one per line. */
export function formatProcesses(processes: ProcessInfo[]): string {
  if (processes.length === 0) return 'no processes running';
  const rows = processes.map((p) => `pid ${p.pid}  started ${p.startedAt}  ${p.command}`);
  return `${processes.length} running\n${rows.join('\n')}`;
}

/**
 * File bytes as text for the model: UTF-8 when asked and valid, else base64 (binary files are
 * said to be binary), clipped to {@link MAX_TEXT_CHARS}.
 */
export function formatFileContent(path: string, bytes: Uint8Array, encoding: 'utf8' | 'base64'): string {
  if (encoding === 'utf8') {
    try {
      const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
      return clip(text);
    } catch {
      return `${path} is binary (${formatBytes(bytes.length)}, not UTF-8); base64:\n${clip(Buffer.from(bytes).toString('base64'))}`;
    }
  }
  return clip(Buffer.from(bytes).toString('base64'));
}
