import { z } from 'zod';

/** Session resource limits: memory and disk in MB, cpu in cores, timeout in seconds. */
export const resourceLimitsSchema = z.object({
  memory: z.number(),
  cpu: z.number(),
  timeout: z.number(),
  disk: z.number(),
});
export type ResourceLimits = z.infer<typeof resourceLimitsSchema>;

export const executionStatusSchema = z.enum(['ok', 'error', 'timeout', 'oom', 'killed']);
export type ExecutionStatus = z.infer<typeof executionStatusSchema>;

/** The result of one execution, exactly as `POST /execute` answers it. */
export const executionResultSchema = z.object({
  executionId: z.string(),
  stdout: z.string(),
  stderr: z.string(),
  exitCode: z.number().int().nullable(),
  signal: z.string().nullable(),
  /** Wall time, ms. */
  executionTime: z.number().int(),
  /** Peak resident set size, bytes. */
  memoryUsed: z.number().int(),
  /** User + system CPU time, ms. */
  cpuTime: z.number().int(),
  timedOut: z.boolean(),
  status: executionStatusSchema,
  stdoutTruncated: z.boolean(),
  stderrTruncated: z.boolean(),
  filesWritten: z.array(z.string()),
});
export type ExecutionResult = z.infer<typeof executionResultSchema>;

export const fileInputSchema = z.object({
  path: z.string().min(1).max(4096),
  content: z.string(),
  encoding: z.enum(['utf8', 'base64']).default('utf8'),
});
export type FileInput = z.infer<typeof fileInputSchema>;

export const processInfoSchema = z.object({
  pid: z.number().int(),
  command: z.string(),
  startedAt: z.string(),
  executionId: z.string().nullable(),
});
export type ProcessInfo = z.infer<typeof processInfoSchema>;

export const fileEntrySchema = z.object({
  path: z.string(),
  size: z.number().int(),
  modified: z.string(),
  type: z.enum(['file', 'directory', 'symlink', 'other']),
});
export type FileEntry = z.infer<typeof fileEntrySchema>;
