import { BuntimeError } from '../core/errors.ts';

/** A command line split into positional words and `--flag [value]` pairs. */
export interface Args {
  positional: string[];
  flags: Map<string, string | true>;
}

export function parseArgs(argv: string[]): Args {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) { positional.push(a); continue; }
    const next = argv[i + 1];
    if (next === undefined || next.startsWith('--')) flags.set(a.slice(2), true);
    else { flags.set(a.slice(2), next); i++; }
  }
  return { positional, flags };
}

/** The value of a required `--name VALUE`. */
export function flag(args: Args, name: string): string {
  const v = args.flags.get(name);
  if (typeof v !== 'string') throw new BuntimeError('invalid_request', `--${name} VALUE is required`);
  return v;
}

/** The value of an optional `--name N`, an integer, or `fallback`. */
export function intFlag(args: Args, name: string, fallback: number): number {
  const v = args.flags.get(name);
  if (v === undefined) return fallback;
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n)) throw new BuntimeError('invalid_request', `--${name} takes a whole number`);
  return n;
}
