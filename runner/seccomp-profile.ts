import { readFileSync } from 'node:fs';

/**
 * Reads a seccomp profile (Docker's JSON format) once at start and returns it compact, as the
 * `seccomp=<json>` security option of every session container carries it. A missing or
 * malformed file stops the runner: sessions must never start with less confinement than asked.
 */
export function loadSeccompProfile(path: string): string {
  let profile: unknown;
  try {
    profile = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read the seccomp profile ${path}: ${(err as Error).message}`, { cause: err });
  }
  const p = profile as { defaultAction?: unknown; syscalls?: unknown };
  if (typeof p.defaultAction !== 'string' || !Array.isArray(p.syscalls)) {
    throw new Error(`${path} is not a seccomp profile (needs defaultAction and syscalls)`);
  }
  return JSON.stringify(profile);
}
