import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * The image hash depends on content only: two checkouts of one commit in different directories
 * hash the same (and so share one image instead of retagging it), a changed agent source does not.
 * The clones hold the committed state of this checkout.
 */
const ROOT = resolve(import.meta.dirname, '..');
const work = mkdtempSync(join(tmpdir(), 'buntime-hash-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function checkout(name: string): string {
  const dir = join(work, name);
  execFileSync('git', ['clone', '--quiet', ROOT, dir]);
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

function printHash(dir: string): string {
  // No engine and a throwaway tag: whatever the clone's build.ts does, it cannot touch a real image.
  const env = { ...process.env, DOCKER_HOST: 'unix:///nonexistent/docker.sock', SANDBOX_IMAGE: 'buntime-sandbox:hash-test' };
  const out = execFileSync('node', ['--import', 'tsx', 'images/build.ts', '--print-hash'], { cwd: dir, env, encoding: 'utf8' });
  return out.trim();
}

describe('sandbox image hash', () => {
  it('is the same for two checkouts of one commit and changes with an agent source', () => {
    const a = checkout('one');
    const b = checkout('two-with-a-longer-name');
    const hashA = printHash(a);
    expect(hashA).toMatch(/^[0-9a-f]{64}$/);
    expect(printHash(b)).toBe(hashA);
    appendFileSync(join(b, 'images/bun/agent/main.ts'), '\n// changed\n');
    expect(printHash(b)).not.toBe(hashA);
  }, 120_000);
});
