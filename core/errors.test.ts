import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BuntimeError, ERROR_CATALOGUE, ERROR_CODES } from './errors.ts';

describe('error catalogue', () => {
  it('lists exactly the codes documented in the README table', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const documented = [...readme.matchAll(/^\| `([a-z_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1], Number(m[2])]);
    const catalogued = ERROR_CODES.map((c) => [c, ERROR_CATALOGUE[c].status]);
    expect(Object.fromEntries(documented)).toEqual(Object.fromEntries(catalogued));
  });

  it('round-trips through the wire form', () => {
    const err = new BuntimeError('disk_full', 'no space', { details: { path: 'a' } });
    const back = BuntimeError.fromBody(JSON.parse(JSON.stringify(err.toBody())));
    expect(back.code).toBe('disk_full');
    expect(back.status).toBe(507);
    expect(back.details).toEqual({ path: 'a' });
  });

  it('maps an unknown code to internal_error', () => {
    expect(BuntimeError.fromBody({ code: 'nope', message: 'x' }).code).toBe('internal_error');
  });
});
