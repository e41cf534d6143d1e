// On Node >= 22.15 (process.execve) the launcher becomes the command once the environment is ready, as
// Python's opentelemetry-instrument does: the app then owns the PID, its signals and its exit status, and no
// second Node process waits beside it. Everywhere else, and whenever something below is uncertain, the caller
// spawns and relays (src/run/spawn.ts) as before.
//
// On Node 22 and 24 a failed execve(2) aborts the process (SIGABRT, exit 134) instead of throwing: throwing
// came with Node 26 (nodejs/node#62878). So nothing is handed to execve that the kernel might refuse: the file
// is found on PATH here the way execvp would find it, and must be a regular, executable file whose format
// this process can run (an ELF binary for this architecture with its loader present, or a `#!` script whose
// interpreter is such a binary). Only Linux, where those checks and the ones on the standard streams below
// were verified; what remains (a file replaced between the check and the call, a security module refusing
// it) is the same race any `which`-then-exec has.
import * as fs from 'node:fs';
import * as path from 'node:path';

type Execve = (file: string, args: string[], env: Record<string, string>) => never;

// The kernel's limit on one argument or variable (MAX_ARG_STRLEN), and a total well below ARG_MAX (2 MiB
// with the default 8 MiB stack): past either, execve fails with E2BIG. spawn reports that as an error instead.
const MAX_STRING = 128 * 1024 - 1;
const MAX_TOTAL = 1024 * 1024;

/** ELF e_machine of the architectures this was verified on; others spawn. */
const MACHINES: Partial<Record<string, number>> = { x64: 62, arm64: 183 };

function isExecutableFile(file: string): boolean {
  try {
    if (!fs.statSync(file).isFile()) return false;
    // access(2) also says no for a file on a noexec mount, where execve would fail with EACCES.
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function readAt(fd: number, length: number, position: number): Buffer | undefined {
  const buf = Buffer.alloc(length);
  return fs.readSync(fd, buf, 0, length, position) === length ? buf : undefined;
}

/** A 64-bit little-endian ELF executable for this architecture whose program interpreter (ld.so) is there. */
function runnableElf(fd: number, head: Buffer): boolean {
  if (head.length < 64 || head[4] !== 2 || head[5] !== 1) return false;
  if (head.readUInt16LE(18) !== MACHINES[process.arch]) return false;
  const type = head.readUInt16LE(16);
  if (type !== 2 && type !== 3) return false; // ET_EXEC or ET_DYN
  const phoff = Number(head.readBigUInt64LE(32));
  const phentsize = head.readUInt16LE(54);
  const phnum = head.readUInt16LE(56);
  if (phentsize < 56 || phnum === 0 || phnum > 512) return false;
  const table = readAt(fd, phentsize * phnum, phoff);
  if (!table) return false;
  for (let i = 0; i < phnum; i++) {
    const at = i * phentsize;
    if (table.readUInt32LE(at) !== 3) continue; // PT_INTERP
    const size = Number(table.readBigUInt64LE(at + 32));
    if (size < 2 || size > 4096) return false;
    const raw = readAt(fd, size, Number(table.readBigUInt64LE(at + 8)));
    if (!raw) return false;
    const end = raw.indexOf(0);
    const loader = raw.toString('latin1', 0, end < 0 ? size : end);
    return path.isAbsolute(loader) && isExecutableFile(loader);
  }
  return true; // statically linked
}

/**
 * Whether execve(2) of `file` will succeed as far as its content decides: ELF for this machine, or a `#!`
 * line (within the kernel's 256-byte buffer) naming an absolute interpreter that is itself such an ELF.
 * Anything else (no `#!`, where execvp falls back to /bin/sh; a relative or script interpreter; CRLF
 * endings, whose `\r` would be part of the interpreter's name) is left to spawn.
 */
function runnable(file: string, nested = false): boolean {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return false; // e.g. executable but not readable: spawn reports what happens
  }
  try {
    const buf = Buffer.alloc(256);
    const head = buf.subarray(0, fs.readSync(fd, buf, 0, buf.length, 0));
    if (head.length >= 4 && head.readUInt32BE(0) === 0x7f454c46) return runnableElf(fd, head);
    if (nested || head.length < 3 || head[0] !== 0x23 || head[1] !== 0x21) return false;
    const eol = head.indexOf(10);
    if (eol < 0) return false;
    const line = head.toString('latin1', 2, eol).replace(/^[ \t]+/, '');
    const interpreter = line.split(/[ \t\0]/, 1)[0] ?? '';
    return path.isAbsolute(interpreter) && isExecutableFile(interpreter) && runnable(interpreter, true);
  } catch {
    return false;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The file execvp would run for `command`: a path when it holds a slash, else the first executable regular
 * file in the PATH it is given (an empty entry is the working directory). Undefined when there is none, or
 * when PATH is unset (execvp then uses a built-in default: spawn knows it).
 */
export function findExecutable(
  command: string,
  env: NodeJS.ProcessEnv,
  cwd = process.cwd(),
): string | undefined {
  if (command === '' || command.includes('\0')) return undefined;
  if (command.includes('/')) {
    const file = path.resolve(cwd, command);
    return isExecutableFile(file) ? file : undefined;
  }
  const searchPath = env.PATH;
  if (!searchPath) return undefined;
  for (const dir of searchPath.split(':')) {
    const file = path.resolve(cwd, dir, command);
    if (isExecutableFile(file)) return file;
  }
  return undefined;
}

/** The environment as execve takes it, or undefined when a value could not pass (spawn then reports it). */
function execEnv(env: NodeJS.ProcessEnv, args: string[]): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  let total = 0;
  const fits = (s: string) => {
    total += Buffer.byteLength(s) + 1 + 8;
    return !s.includes('\0') && Buffer.byteLength(s) < MAX_STRING;
  };
  for (const a of args) if (!fits(a)) return undefined;
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) continue;
    if (typeof value !== 'string' || key === '' || key.includes('=') || !fits(`${key}=${value}`))
      return undefined;
    out[key] = value;
  }
  return total < MAX_TOTAL ? out : undefined;
}

/**
 * Node makes stdin/stdout/stderr non-blocking when it opens them as streams; execve would pass that on to a
 * program that does not expect it (EAGAIN on a full pipe), where spawn's child starts with blocking stdio
 * again (libuv resets it). So: only while none of the three is non-blocking (/proc/self/fdinfo, Linux).
 */
function stdioBlocking(): boolean {
  for (const fd of [0, 1, 2]) {
    let info: string;
    try {
      info = fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'latin1');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // closed: spawn would pass it closed too
      return false;
    }
    const flags = /^flags:\s*([0-7]+)/m.exec(info);
    if (!flags?.[1] || (Number.parseInt(flags[1], 8) & 0o4000) !== 0) return false;
  }
  return true;
}

/**
 * Replaces this process by `command args` with `env`, when execve exists and can be trusted to succeed.
 * Returns false (having changed nothing) when the caller should spawn instead; does not return otherwise.
 */
export function execCommand(command: string, args: string[], env: NodeJS.ProcessEnv): boolean {
  const execve = (process as unknown as { execve?: Execve }).execve;
  if (typeof execve !== 'function' || process.platform !== 'linux' || MACHINES[process.arch] === undefined) {
    return false;
  }
  // Under the permission model (--permission without --allow-child-process) execve throws: spawn says why.
  const permission = (process as { permission?: { has(scope: string): boolean } }).permission;
  if (permission && !permission.has('child')) return false;
  const file = findExecutable(command, env);
  if (!file || !runnable(file)) return false;
  const argv = [command, ...args];
  const envp = execEnv(env, argv);
  if (!envp || !stdioBlocking()) return false;
  // Node ignores SIGPIPE and SIGXFSZ, and an ignored signal stays ignored across execve (a shell script run
  // this way could not even reset it). A handled signal is reset to its default: give both a handler.
  for (const signal of ['SIGPIPE', 'SIGXFSZ'] as const) process.on(signal, () => {});
  try {
    execve.call(process, file, argv, envp);
  } catch {
    // Thrown before the system call (the permission model without --allow-child-process, a value Node
    // refuses): nothing was replaced, and spawn reports what is wrong.
  }
  return false;
}
