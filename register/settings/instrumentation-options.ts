// Per-instrumentor options that a config file can state as data where the instrumentation itself only takes a
// function (its hooks): `instrumentations.http.ignoreIncomingPaths: ["/health"]` becomes the
// ignoreIncomingRequestHook that @opentelemetry/instrumentation-http calls. Everything else is handed to the
// instrumentor unchanged, so any plain-data option of any instrumentation (express's ignoreLayersType,
// http's headersToSpanAttributes, …) works as documented upstream.

/** Patterns: `*` matches any run of characters (slashes included), everything else is literal; whole match. */
export type Matcher = (value: string) => boolean;

interface Declarative {
  readonly description: string;
  /** Turns the patterns into the option(s) the instrumentation takes, combined with a hook already given. */
  apply(patterns: Matcher, options: Record<string, unknown>): void;
}

function patternToRegExp(pattern: string): RegExp {
  const body = pattern
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${body}$`);
}

/** Accepts an array of strings or one comma-separated string (as the schema does). */
export function toPatterns(value: unknown): string[] | undefined {
  if (typeof value === 'string')
    return value
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value as string[];
  return undefined;
}

export function compileMatcher(patterns: readonly string[]): Matcher {
  const res = patterns.map(patternToRegExp);
  return (value) => res.some((re) => re.test(value));
}

function withoutQuery(url: string): string {
  const q = url.search(/[?#]/);
  return q < 0 ? url : url.slice(0, q);
}

type Hook = (arg: any) => boolean;

function either(existing: unknown, ours: Hook): Hook {
  if (typeof existing !== 'function') return ours;
  const theirs = existing as Hook;
  return (arg) => ours(arg) || theirs(arg) === true;
}

const DEFAULT_PORTS: Record<string, string> = { 'http:': '80', 'https:': '443' };

/** http.request's options as a URL (`protocol//host[:port]/path`, default ports left out). */
export function requestOptionsUrl(o: {
  protocol?: string | null;
  hostname?: string | null;
  host?: string | null;
  port?: number | string | null;
  path?: string | null;
}): string {
  const protocol = o.protocol ?? 'http:';
  let host = o.hostname ?? o.host ?? 'localhost';
  if (host.includes(':') && !host.startsWith('[') && o.hostname) host = `[${host}]`;
  const port = o.port != null && String(o.port) !== DEFAULT_PORTS[protocol] ? `:${o.port}` : '';
  const withPort = o.hostname || !o.host?.includes(':') ? `${host}${port}` : host;
  return `${protocol}//${withPort}${withoutQuery(o.path ?? '/')}`;
}

const outgoingUrls = (hookName: string, urlOf: (arg: any) => { url: string; path: string }): Declarative => ({
  description:
    'outgoing requests not traced: URL patterns ("https://api.example.com/*", "*/health"), or path patterns starting with "/"; * matches anything, the query string is ignored',
  apply(match, options) {
    // A pattern matches the path ("/health") or the whole URL ("https://api.example.com/*").
    options[hookName] = either(options[hookName], (arg) => {
      const { url, path } = urlOf(arg);
      return match(path) || match(url);
    });
  },
});

/** Declarative options per instrumentor name (as in `otel-run list`). */
export const DECLARATIVE_OPTIONS: Readonly<Record<string, Readonly<Record<string, Declarative>>>> = {
  http: {
    ignoreIncomingPaths: {
      description:
        'incoming requests not traced, by path ("/health", "/ready*"); * matches anything, the query string is ignored',
      apply(match, options) {
        options.ignoreIncomingRequestHook = either(
          options.ignoreIncomingRequestHook,
          (req: { url?: string }) => match(withoutQuery(req?.url ?? '/')),
        );
      },
    },
    ignoreOutgoingUrls: outgoingUrls('ignoreOutgoingRequestHook', (o) => {
      const url = requestOptionsUrl(o ?? {});
      return { url, path: withoutQuery(o?.path ?? '/') };
    }),
  },
  undici: {
    ignoreOutgoingUrls: outgoingUrls('ignoreRequestHook', (r: { origin?: string; path?: string }) => {
      const path = withoutQuery(r?.path ?? '/');
      return { url: `${String(r?.origin ?? '').replace(/\/+$/, '')}${path}`, path };
    }),
  },
};

/**
 * The options an instrumentor receives: its config-file options with the declarative ones turned into
 * functions. Returns the problems (a declarative option of the wrong type is dropped with a warning).
 */
export function toInstrumentationConfig(
  name: string,
  options: Readonly<Record<string, unknown>>,
  warn: (message: string) => void = () => {},
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...options };
  const declared = DECLARATIVE_OPTIONS[name];
  if (!declared) return out;
  for (const [key, option] of Object.entries(declared)) {
    if (!(key in out)) continue;
    const value = out[key];
    delete out[key];
    const patterns = toPatterns(value);
    if (!patterns) {
      warn(
        `instrumentations.${name}.${key} is not a list of patterns (${typeof value}) — it is ignored, ${name} traces those requests`,
      );
      continue;
    }
    if (patterns.length) option.apply(compileMatcher(patterns), out);
  }
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;
}

/** True when options hold a function anywhere (they then cannot travel as JSON). */
export function hasFunctions(value: unknown, depth = 0): boolean {
  if (typeof value === 'function') return true;
  if (depth > 8 || !value || typeof value !== 'object') return false;
  return Object.values(value).some((v) => hasFunctions(v, depth + 1));
}

/** `data` with every function found in `withFunctions` put back at the same place. */
export function mergeFunctions(data: unknown, withFunctions: unknown, depth = 0): unknown {
  if (typeof withFunctions === 'function') return withFunctions;
  if (depth > 8 || !isPlainObject(withFunctions)) return data;
  const out: Record<string, unknown> = isPlainObject(data) ? { ...data } : {};
  for (const [key, value] of Object.entries(withFunctions)) {
    if (!hasFunctions(value)) continue;
    out[key] = mergeFunctions(out[key], value, depth + 1);
  }
  return out;
}
