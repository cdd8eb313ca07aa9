import { describe, expect, it } from 'vitest';
import { flag, intFlag, parseArgs } from './args.ts';

describe('parseArgs', () => {
  it('splits words from --flag value pairs and bare --flags', () => {
    const a = parseArgs(['keys', 'create', '--account', 'acme', '--json', '--label', 'ci']);
    expect(a.positional).toEqual(['keys', 'create']);
    expect(Object.fromEntries(a.flags)).toEqual({ account: 'acme', json: true, label: 'ci' });
  });

  it('requires a value where one is needed', () => {
    expect(flag(parseArgs(['--account', 'acme']), 'account')).toBe('acme');
    expect(() => flag(parseArgs(['--account']), 'account')).toThrow('--account VALUE is required');
  });

  it('reads whole numbers and refuses anything else', () => {
    expect(intFlag(parseArgs([]), 'ttl', 3600)).toBe(3600);
    expect(intFlag(parseArgs(['--ttl', '60']), 'ttl', 3600)).toBe(60);
    for (const bad of ['1.5', '-1', 'soon']) expect(() => intFlag(parseArgs(['--ttl', bad]), 'ttl', 1)).toThrow('whole number');
  });
});
