import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkBoundaries } from './boundaries.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** A throwaway tree with the given files. */
function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'buntime-boundaries-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

describe('import boundaries', () => {
  it('hold in this repository', () => {
    expect(checkBoundaries(ROOT)).toEqual([]);
  });

  it('fail on api importing runner, the cli importing api, and the agent importing a value', () => {
    const root = tree({
      'api/a.ts': "import { x } from '../runner/x.ts';\n",
      'runner/x.ts': 'export const x = 1;\n',
      'cli/c.ts': "import type { A } from '../api/a.ts';\nconst m = await import('../core/ok.ts');\n",
      'core/ok.ts': 'export const ok = 1;\n',
      'core/agent-protocol.ts': 'export const DATA = 1; export type T = 1;\n',
      'images/bun/agent/main.ts': "import { DATA } from '../../../core/agent-protocol.ts';\nimport type { T } from '../../../core/agent-protocol.ts';\nimport { ok } from '../../../core/ok.ts';\n",
    });
    try {
      const found = checkBoundaries(root).map((v) => `${v.file}:${v.line} ${v.target}`);
      expect(found.sort()).toEqual([
        'api/a.ts:1 runner/x.ts',
        'cli/c.ts:1 api/a.ts',
        'images/bun/agent/main.ts:1 core/agent-protocol.ts',
        'images/bun/agent/main.ts:3 core/ok.ts',
      ]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
