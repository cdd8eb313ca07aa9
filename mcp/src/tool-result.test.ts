import { BuntimeError } from '@buntime/sdk';
import { describe, expect, it } from 'vitest';
import { executeParams } from './execution-tools.ts';
import { previewAddress } from './preview-tool.ts';
import { errorResult, textResult, ToolInputError } from './tool-result.ts';

const text = (r: { content: unknown[] }) => (r.content[0] as { text: string }).text;

describe('tool results', () => {
  it('an API error is a tool error carrying its code, message, details and a hint', () => {
    const err = new BuntimeError({ status: 429, code: 'rate_limit_exceeded', message: 'rate limit of 100 requests per minute exceeded', details: { limit: 100 }, retryAfter: 7 });
    const r = errorResult(err);
    expect(r.isError).toBe(true);
    expect(text(r)).toBe([
      'Error rate_limit_exceeded: rate limit of 100 requests per minute exceeded',
      'details: {"limit":100}',
      'retry after: 7 s',
      'Too many requests for this API key; wait before retrying.',
    ].join('\n'));
  });

  it('anything else is an internal_error or the input error\'s own code', () => {
    expect(text(errorResult(new Error('kaput')))).toBe('Error internal_error: kaput');
    expect(text(errorResult(new ToolInputError('invalid_request', 'no')))).toBe('Error invalid_request: no');
    expect(textResult('ok')).toEqual({ content: [{ type: 'text', text: 'ok' }] });
  });
});

describe('executeParams', () => {
  it('takes exactly one of code and command, dropping unset settings', () => {
    expect(executeParams({ code: '1', env: undefined, timeout: 5 })).toEqual({ code: '1', timeout: 5 });
    expect(executeParams({ command: 'ls' })).toEqual({ command: 'ls' });
    expect(() => executeParams({})).toThrow(ToolInputError);
    expect(() => executeParams({ code: '1', command: 'ls' })).toThrow(/exactly one/);
  });
});

describe('previewAddress', () => {
  it('joins a path below the preview root and adds the token', () => {
    const root = 'http://127.0.0.1:3000/preview/ses_1/';
    expect(previewAddress(root)).toBe(root);
    expect(previewAddress(root, '/app/index.html')).toBe(`${root}app/index.html`);
    expect(previewAddress(root.slice(0, -1), 'x', 'a.b.c')).toBe(`${root}x?token=a.b.c`);
  });
});
