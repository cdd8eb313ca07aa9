/**
 * File content on the JSON wire: strings go as they are with their encoding, bytes as base64.
 */
import type { FileEncoding } from './types.ts';

/** Content and encoding as the API expects them in `files` entries and `POST /files/write`. */
export interface WireContent {
  content: string;
  encoding: FileEncoding;
}

/** Encodes `content`; a string keeps `encoding` (default `utf8`), bytes become base64. */
export function toWireContent(content: string | Uint8Array, encoding?: FileEncoding): WireContent {
  if (typeof content === 'string') return { content, encoding: encoding ?? 'utf8' };
  const base64 = Buffer.from(content.buffer, content.byteOffset, content.byteLength).toString('base64');
  return { content: base64, encoding: 'base64' };
}
