import { toWireContent } from './encoding.ts';
import { callOptions, type HttpClient } from './http.ts';
import type {
  DeleteFileResult,
  FileList,
  ListFilesParams,
  RequestOptions,
  UploadResult,
  WriteFileOptions,
  WriteFileResult,
} from './types.ts';

/**
 * Files of a session's `/workspace` (DESIGN 2.5). Paths are relative to `/workspace` and may not
 * leave it. Reached as `client.files`.
 */
export class Files {
  readonly #http: HttpClient;

  constructor(http: HttpClient) {
    this.#http = http;
  }

  /**
   * Writes one file, creating parent directories. A `Uint8Array` goes as raw bytes
   * (`application/octet-stream`, streamed through to the session); a string in the JSON form.
   */
  write(sessionId: string, path: string, content: string | Uint8Array, options: WriteFileOptions = {}): Promise<WriteFileResult> {
    if (typeof content !== 'string') {
      const req = { method: 'POST', path: '/files/write', query: { sessionId, path }, bytes: content } as const;
      return this.#http.json({ ...req, contentType: 'application/octet-stream', ...callOptions(options) });
    }
    const json = { sessionId, path, ...toWireContent(content, options.encoding) };
    return this.#http.json({ method: 'POST', path: '/files/write', json, ...callOptions(options) });
  }

  /** Reads one file as bytes; `not_found` (404) when it does not exist. */
  read(sessionId: string, path: string, options: RequestOptions = {}): Promise<Uint8Array> {
    return this.#http.bytes({ method: 'GET', path: '/files/read', query: { sessionId, path }, ...callOptions(options) });
  }

  /** Reads one file and decodes it as UTF-8. */
  async readText(sessionId: string, path: string, options: RequestOptions = {}): Promise<string> {
    return new TextDecoder().decode(await this.read(sessionId, path, options));
  }

  /** Lists a directory, one page at a time. */
  list(sessionId: string, params: ListFilesParams = {}, options: RequestOptions = {}): Promise<FileList> {
    const query = { sessionId, path: params.path, limit: params.limit, offset: params.offset, cursor: params.cursor };
    return this.#http.json({ method: 'GET', path: '/files/list', query, ...callOptions(options) });
  }

  /** Deletes a file or a directory tree. */
  delete(sessionId: string, path: string, options: RequestOptions = {}): Promise<DeleteFileResult> {
    return this.#http.json({ method: 'DELETE', path: '/files', query: { sessionId, path }, ...callOptions(options) });
  }

  /** Extracts a tar archive (the bytes of a `.tar`) into the directory `path`. */
  upload(sessionId: string, path: string, tar: Uint8Array, options: RequestOptions = {}): Promise<UploadResult> {
    const req = { method: 'POST', path: '/files/upload', query: { sessionId, path }, bytes: tar } as const;
    return this.#http.json({ ...req, contentType: 'application/x-tar', ...callOptions(options) });
  }

  /** Downloads the tree at `path` as the bytes of a tar archive. */
  download(sessionId: string, path: string, options: RequestOptions = {}): Promise<Uint8Array> {
    return this.#http.bytes({ method: 'GET', path: '/files/download', query: { sessionId, path }, ...callOptions(options) });
  }
}
