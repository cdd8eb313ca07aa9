import { Router } from 'express';
import { ctx } from '../middleware/request-context.ts';
import type { SnapshotService } from '../snapshot-service.ts';
import { createSnapshotBody, parse, snapshotIdSchema } from '../validation.ts';

/** Named snapshots of the account: thin routes over {@link SnapshotService}. */
export function snapshotRoutes(snapshots: SnapshotService): Router {
  const r = Router();
  r.post('/sessions/:id/snapshots', async (req, res) => {
    const body = parse(createSnapshotBody, req.body ?? {});
    res.json(await snapshots.create(ctx(res).principal!, req.params.id, body.name));
  });
  r.get('/snapshots', async (_req, res) => {
    res.json(await snapshots.list(ctx(res).principal!));
  });
  r.get('/snapshots/:id', async (req, res) => {
    res.json(await snapshots.get(ctx(res).principal!, parse(snapshotIdSchema, req.params.id)));
  });
  r.delete('/snapshots/:id', async (req, res) => {
    res.json(await snapshots.delete(ctx(res).principal!, parse(snapshotIdSchema, req.params.id)));
  });
  return r;
}
