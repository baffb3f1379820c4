/** Turns the worker's results into the subunit events a ResultSink receives. */
import type { TestResult } from '../../testing/engine.js';
import { timestampFromMillis, type SubunitEvent } from '../../subunit/event.js';
import { TEXT_MIME, type ResultSink } from '../suite.js';

const encoder = new TextEncoder();

export function emitAttachment(sink: ResultSink, testId: string | undefined, fileName: string, text: string, atMs: number): void {
  const event: SubunitEvent = { fileName, mimeType: TEXT_MIME, fileBytes: encoder.encode(text), eof: true, timestamp: timestampFromMillis(atMs) };
  if (testId !== undefined) event.testId = testId;
  sink.emit(event);
}

export function emitInProgress(sink: ResultSink, testId: string, atMs: number, tags?: string[]): void {
  const start: SubunitEvent = { testId, status: 'inprogress', timestamp: timestampFromMillis(atMs) };
  if (tags !== undefined) start.tags = tags;
  sink.emit(start);
}

/** `inprogress` (unless already sent), the attachments, then the final status. */
export function emitResult(sink: ResultSink, r: TestResult, startSent = false): void {
  const tags = r.tags;
  if (!startSent) emitInProgress(sink, r.id, r.startMs, tags);
  if (r.stdout !== undefined) emitAttachment(sink, r.id, 'stdout', r.stdout, r.endMs);
  if (r.stderr !== undefined) emitAttachment(sink, r.id, 'stderr', r.stderr, r.endMs);
  if (r.diagnostics !== undefined) emitAttachment(sink, r.id, 'diagnostic', r.diagnostics.join('\n') + '\n', r.endMs);
  if (r.reason !== undefined) emitAttachment(sink, r.id, 'reason', r.reason, r.endMs);
  if (r.traceback !== undefined) emitAttachment(sink, r.id, 'traceback', r.traceback, r.endMs);
  const end: SubunitEvent = { testId: r.id, status: r.status, timestamp: timestampFromMillis(r.endMs) };
  if (tags !== undefined) end.tags = tags;
  sink.emit(end);
}

export function emitExists(sink: ResultSink, testId: string, atMs: number): void {
  sink.emit({ testId, status: 'exists', timestamp: timestampFromMillis(atMs) });
}
