import { describe, expect, it } from 'vitest';
import type { ExecutionResult as SdkExecutionResult, ResourceLimits as SdkLimits, SessionDetails } from '../sdk/src/index.ts';

/**
 * The SDK keeps its own public types; the server's shapes are declared once in core. This test is
 * checked by the type checker as well as run: each server shape must be assignable to the SDK's,
 * so a field the server changes or drops breaks the build here.
 */
import type { SessionView } from '../core/session-view.ts';
import type { ExecutionResult, ResourceLimits } from '../core/schemas.ts';

type Assignable<From, To> = From extends To ? true : false;

describe('SDK types match the server', () => {
  it('accepts the server\'s session view, execution result and limits', () => {
    const checks: [Assignable<SessionView, SessionDetails>, Assignable<ExecutionResult, SdkExecutionResult>, Assignable<ResourceLimits, SdkLimits>] = [true, true, true];
    expect(checks).toEqual([true, true, true]);
  });
});
