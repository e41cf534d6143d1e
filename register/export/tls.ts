// The PEM files of OTEL_EXPORTER_OTLP_CERTIFICATE, _CLIENT_CERTIFICATE and _CLIENT_KEY, read for every https
// request of every signal (the asynchronous sender, the exit path's worker, `otel-run doctor`'s probe). Read once
// per process and kept: an export must not touch the disk each time, and the exit path has no time for it.
import * as fs from 'node:fs';

/** File paths, as the settings name them. */
export interface TlsFiles {
  ca?: string;
  cert?: string;
  key?: string;
}

/** The files' contents, as node:https takes them. */
export interface TlsMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

const cache = new Map<string, Buffer>();

function read(file: string | undefined): Buffer | undefined {
  if (!file) return undefined;
  let contents = cache.get(file);
  if (!contents) {
    contents = fs.readFileSync(file);
    cache.set(file, contents);
  }
  return contents;
}

/** Throws the file system's error (it names the file) when one cannot be read. */
export function readTls(files: TlsFiles): TlsMaterial {
  return { ca: read(files.ca), cert: read(files.cert), key: read(files.key) };
}
