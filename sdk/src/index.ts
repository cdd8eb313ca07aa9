/**
 * @buntime/sdk — TypeScript client of the Buntime API. Everything public is listed here by name.
 */
export { Buntime } from './client.ts';
export { BuntimeError } from './errors.ts';
export type { ApiErrorCode, BuntimeErrorCode, BuntimeErrorInit, ClientErrorCode } from './errors.ts';
export type { BuntimeOptions } from './options.ts';
export { Session } from './session.ts';
export type { Sessions } from './sessions.ts';
export type { Files } from './files.ts';
export type { Processes } from './processes.ts';
export type { Snapshots } from './snapshots.ts';
export type {
  BackgroundExecution,
  CodeSource,
  CommandSource,
  ExecuteFile,
  ExecuteParams,
  ExecuteRequest,
  ExecutionResult,
  ExecutionSettings,
  ExecutionSource,
  ExecutionStatus,
  OutputEvent,
  ResultEvent,
  StreamEvent,
} from './execution-types.ts';
export type {
  CreateSessionRequest,
  CreateSessionResponse,
  CreateSnapshotParams,
  DeleteFileResult,
  DeleteSessionResponse,
  EgressConnection,
  EgressLevel,
  EgressLogPage,
  EgressLogParams,
  DeleteSnapshotResult,
  FileEncoding,
  FileEntry,
  FileList,
  ForkSessionRequest,
  IdempotentRequestOptions,
  KillResult,
  ListFilesParams,
  NetworkPolicy,
  NetworkRequest,
  PageParams,
  ProcessInfo,
  RequestOptions,
  ResourceLimits,
  SessionDetails,
  SessionList,
  SessionState,
  SessionToken,
  SessionTokenParams,
  SnapshotInfo,
  SnapshotList,
  UploadResult,
  Usage,
  WriteFileOptions,
  WriteFileResult,
} from './types.ts';
