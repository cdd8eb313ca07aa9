/**
 * Which folder may import which, checked in the test run (`scripts/boundaries.test.ts`) rather
 * than left to convention: api and runner meet only through core; the cli uses core alone; the
 * in-container agent imports nothing of the repository but the protocol's types; the SDK and the
 * MCP server stand on their own. Run directly to list violations: `npx tsx scripts/boundaries.ts`.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Violation {
  file: string;
  line: number;
  target: string;
  rule: string;
}

interface Rule {
  /** Folder (relative to the root) whose files the rule applies to. */
  from: string;
  /** Folders its files must not import from. */
  forbid: string[];
  /** When set, the only repository paths it may import (everything else under the root is forbidden). */
  only?: string[];
  /** The `only` imports must be `import type`. */
  typeOnly?: boolean;
  why: string;
}

export const RULES: Rule[] = [
  { from: 'api', forbid: ['runner', 'cli', 'images', 'mcp'], why: 'api and runner meet only in core (the queue catalogue)' },
  { from: 'runner', forbid: ['api', 'cli', 'mcp'], why: 'api and runner meet only in core (the queue catalogue)' },
  { from: 'core', forbid: ['api', 'runner', 'cli', 'images', 'mcp', 'sdk', 'test'], why: 'core is what the others share; it depends on none of them' },
  { from: 'cli', forbid: ['api', 'runner', 'mcp'], why: 'the cli works on core alone' },
  { from: 'images/bun/agent', forbid: [], only: ['core/agent-protocol.ts', 'images/bun/agent'], typeOnly: true,
    why: 'the agent imports the protocol as types only: nothing of the repository reaches the image' },
  { from: 'sdk', forbid: [], only: ['sdk'], why: 'the SDK is a package of its own' },
  { from: 'mcp', forbid: [], only: ['mcp'], why: 'the MCP server is a package of its own (it uses @buntime/sdk by name)' },
];

/** Static imports and re-exports (group 2: `type`), and dynamic `import('…')` (never type-only). */
const IMPORT = /(?:^|\n)\s*(import|export)\s+(type\s+)?(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]|\b(import)\(\s*['"]([^'"]+)['"]\s*\)/g;

function* tsFiles(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* tsFiles(path);
    else if (/\.(ts|mts|mjs|js)$/.test(name) && !name.endsWith('.d.ts')) yield path;
  }
}

function under(rel: string, folder: string): boolean {
  return rel === folder || rel.startsWith(`${folder}/`);
}

/** Every import in `root` that breaks a rule. */
export function checkBoundaries(root: string, rules: Rule[] = RULES): Violation[] {
  const out: Violation[] = [];
  for (const rule of rules) {
    const dir = join(root, rule.from);
    if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) continue;
    for (const file of tsFiles(dir)) out.push(...checkFile(root, file, rule));
  }
  return out;
}

function checkFile(root: string, file: string, rule: Rule): Violation[] {
  const text = readFileSync(file, 'utf8');
  const out: Violation[] = [];
  for (const m of text.matchAll(IMPORT)) {
    const spec = m[3] ?? m[5]!;
    if (!spec.startsWith('.')) continue;
    const target = relative(root, resolve(dirname(file), spec)).split(sep).join('/');
    const line = text.slice(0, m.index).split('\n').length + (text[m.index] === '\n' ? 1 : 0);
    const rel = relative(root, file).split(sep).join('/');
    const broken = target.startsWith('..')
      || rule.forbid.some((f) => under(target, f))
      || (rule.only !== undefined && !rule.only.some((f) => under(target, f)))
      || (rule.typeOnly === true && !under(target, rule.from) && m[2] === undefined);
    if (broken) out.push({ file: rel, line, target, rule: `${rule.from}: ${rule.why}` });
  }
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const violations = checkBoundaries(resolve(dirname(fileURLToPath(import.meta.url)), '..'));
  for (const v of violations) console.log(`${v.file}:${v.line} imports ${v.target} (${v.rule})`);
  process.exit(violations.length === 0 ? 0 : 1);
}
