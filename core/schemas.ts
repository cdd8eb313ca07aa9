import { z } from 'zod';
import { runResultSchema } from './agent-protocol.ts';

export {
  executionStatusSchema, fileEntrySchema, fileInputSchema, processInfoSchema,
  type ExecutionStatus, type FileEntry, type FileInput, type ProcessInfo,
} from './agent-protocol.ts';

/**
 * Session resource limits: `memory` and `disk` in MB, `cpu` in cores, `timeout` (the default of
 * an execution) in seconds. The one declaration of the shape: plans, the create body (partial)
 * and the session record all use it.
 */
export const resourceLimitsSchema = z.object({
  memory: z.number().int().min(64),
  cpu: z.number().positive(),
  timeout: z.number().int().min(1),
  disk: z.number().int().min(16),
});
export type ResourceLimits = z.infer<typeof resourceLimitsSchema>;

/** The result of one execution, exactly as `POST /execute` answers it. */
export const executionResultSchema = runResultSchema.extend({ executionId: z.string() });
export type ExecutionResult = z.infer<typeof executionResultSchema>;
