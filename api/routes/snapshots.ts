import { z } from 'zod';
import { ON_SESSION, route } from '../route-table.ts';
import { createSnapshotBody, snapshotIdSchema } from '../validation.ts';

const idParam = z.object({ id: z.string().min(1).max(64) });
const snapshotParam = z.object({ id: snapshotIdSchema });

const snapshotSchema = z.object({
  snapshotId: z.string().describe('`snap_` + 20 alphanumerics'),
  sessionId: z.string().describe('the session it was taken of (which may be gone since)'),
  name: z.string().nullable(),
  createdAt: z.string().describe('ISO-8601'),
  sizeBytes: z.number().int().describe('disk it takes, bytes'),
});

/** Named snapshots of the account: copies of a session's workspace that outlive it. */
export const snapshotRoutes = [
  route({
    method: 'post', path: '/sessions/{id}/snapshots', operationId: 'createSnapshot', tag: 'Snapshots', auth: ['apiKey'],
    summary: 'Take a named snapshot of a session\'s files',
    description: 'A copy of `/workspace` as it is now, kept by the account (plan limits `maxSnapshots`, `snapshotStorageMb`); '
      + '`POST /sessions/create {"snapshotId"}` starts a session with it.',
    params: idParam, body: { json: createSnapshotBody, name: 'CreateSnapshotRequest', required: false },
    ok: { status: 200, description: 'The snapshot.', json: snapshotSchema, name: 'Snapshot' },
    errors: [...ON_SESSION, 'snapshot_limit_exceeded', 'disk_full'],
    handler: ({ params, body, who, deps }) => deps.snapshots.create(who(), params.id, body.name),
  }),
  route({
    method: 'get', path: '/snapshots', operationId: 'listSnapshots', tag: 'Snapshots', auth: ['apiKey'],
    summary: 'List the account\'s snapshots, newest first',
    ok: {
      status: 200, description: 'Every snapshot and how many.', name: 'SnapshotList',
      json: z.object({ snapshots: z.array(snapshotSchema), total: z.number().int() }),
    },
    errors: [],
    handler: ({ who, deps }) => deps.snapshots.list(who()),
  }),
  route({
    method: 'get', path: '/snapshots/{id}', operationId: 'getSnapshot', tag: 'Snapshots', auth: ['apiKey'],
    summary: 'Read a snapshot',
    params: snapshotParam,
    ok: { status: 200, description: 'The snapshot.', json: snapshotSchema, name: 'Snapshot' },
    errors: ['not_found'],
    handler: ({ params, who, deps }) => deps.snapshots.get(who(), params.id),
  }),
  route({
    method: 'delete', path: '/snapshots/{id}', operationId: 'deleteSnapshot', tag: 'Snapshots', auth: ['apiKey'],
    summary: 'Delete a snapshot',
    params: snapshotParam,
    ok: {
      status: 200, description: 'Deleted.', name: 'DeletedSnapshot',
      json: z.object({ deleted: z.literal(true), snapshotId: z.string() }),
    },
    errors: ['not_found', 'service_unavailable'],
    handler: ({ params, who, deps }) => deps.snapshots.delete(who(), params.id),
  }),
];
