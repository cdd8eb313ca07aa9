import { describe, expect, it } from 'vitest';
import type { SessionRecord } from './session-store.ts';
import { NO_EGRESS } from './network-policy.ts';
import { toSessionView } from './session-view.ts';

const rec: SessionRecord = {
  sessionId: 'ses_x', account: 'a', nodeId: 'n', containerId: 'c', uid: 200_001, createdAt: 0, expiresAt: 1_000, lastActive: 0,
  state: 'active', metadata: {}, resourceLimits: { memory: 1024, cpu: 0.25, timeout: 30, disk: 1024 }, filesCount: 3, activeProcesses: 1,
  network: NO_EGRESS,
};

describe('toSessionView', () => {
  it('has no lostReason for a session that is not lost', () => {
    expect(toSessionView(rec, { alive: true, previewUrl: 'http://x' })).not.toHaveProperty('lostReason');
  });

  it('says why a session is lost: its workspace, or its node', () => {
    const gone = { ...rec, state: 'lost' as const, lostReason: 'workspace_missing' };
    expect(toSessionView(gone, { alive: true, previewUrl: 'http://x' })).toMatchObject({ state: 'lost', lostReason: 'workspace_missing', activeProcesses: 0 });
    expect(toSessionView(rec, { alive: false, previewUrl: 'http://x' })).toMatchObject({ state: 'lost', lostReason: 'node_unreachable' });
  });
});
