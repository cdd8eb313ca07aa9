#!/usr/bin/env node
// Entry of the `buntime-admin` CLI: loads the TypeScript sources through tsx.
import { register } from 'tsx/esm/api';

register();
await import('../cli/admin.ts');
