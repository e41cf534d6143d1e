// The one rule for a URL otel-run prints (warnings, the --verbose startup line, `otel-run env`, `doctor`, its
// JSON): credentials in it are replaced. An endpoint may carry them as userinfo (`https://user:token@host`) or
// as a query parameter (`?api_key=…`, `?token=…`, a signed URL's `sig=`); the host, port and path stay, so
// the line still says where spans go.

const REDACTED = '<redacted>';

// scheme://userinfo@ — userinfo has no '/', '?', '#', '@' or whitespace.
const USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@]+@/gi;
// A query parameter whose name says it holds a secret.
const QUERY_SECRET =
  /([?&][^=&#\s]*(?:token|key|secret|password|passwd|pwd|auth|sig|signature|credential|session)[^=&#\s]*=)[^&#\s]*/gi;

/** `text` with the credentials of every URL in it replaced by `<redacted>`. */
export function redactUrls(text: string): string {
  if (!text.includes('@') && !text.includes('?')) return text;
  return text.replace(USERINFO, `$1${REDACTED}@`).replace(QUERY_SECRET, `$1${REDACTED}`);
}

/** Whether `text` holds a URL with credentials (then only a reference to its variable may be printed). */
export function hasUrlCredentials(text: string): boolean {
  return redactUrls(text) !== text;
}
