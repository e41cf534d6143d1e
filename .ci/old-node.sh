#!/usr/bin/env bash
# Fetches Debian's Node 18 for test/faults-input.test.ts (issue #5, "an old Node in the tree"): the preload
# must load there and bail out with one warning. Fails soft: without it, that test skips and says why.
#
# Debian's node is built with some builtins "externalized" to absolute paths under /usr/share/nodejs/ (acorn,
# cjs-module-lexer, undici) and aborts at start without them. Rather than write to /usr, the library is
# patched to look in /tmp/otel-run-n18/ instead: a path of the same length (18 bytes), so the binary's layout
# is unchanged. That is why the folder is fixed.
set -euo pipefail
DEST=/tmp/otel-run-n18

if [ -x "$DEST/node" ] && "$DEST/node" --version >/dev/null 2>&1; then
  echo "old Node: $("$DEST/node" --version) at $DEST/node"
  exit 0
fi
command -v apt-get >/dev/null && command -v dpkg >/dev/null || { echo "old Node: no apt-get/dpkg here"; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
version() { apt-cache madison "$1" 2>/dev/null | awk -v want="$2" '$3 ~ want { print $3; exit }'; }
ver=$(version nodejs 'dfsg')
if [ -z "$ver" ] && [ "$(id -u)" = 0 ]; then
  apt-get update -qq >/dev/null 2>&1 || true
  ver=$(version nodejs 'dfsg')
fi
[ -n "$ver" ] || { echo "old Node: no Debian nodejs package known to apt"; exit 1; }
lib=$(apt-cache depends "nodejs=$ver" 2>/dev/null | awk '/Depends: libnode[0-9]/ { print $2; exit }')
[ -n "$lib" ] || { echo "old Node: cannot tell which libnode nodejs $ver needs"; exit 1; }
apt-get download -qq "nodejs=$ver" "$lib=$ver" libc-ares2 node-acorn node-cjs-module-lexer node-undici \
  2>/dev/null || { echo "old Node: apt-get download failed"; exit 1; }

mkdir -p stage/runtime
for deb in nodejs_*.deb libnode*.deb libc-ares2_*.deb; do dpkg -x "$deb" stage/runtime; done
mkdir -p shared
for deb in node-acorn_*.deb node-cjs-module-lexer_*.deb node-undici_*.deb; do dpkg -x "$deb" shared; done
cp -r shared/usr/share/nodejs/. stage/
libnode=$(find stage/runtime -name 'libnode.so.*' -type f | head -n1)
node -e '
  const fs = require("node:fs");
  const [file, from, to] = process.argv.slice(1);
  if (from.length !== to.length) throw new Error("the replacement must keep the length");
  const data = fs.readFileSync(file);
  let n = 0;
  for (let i = data.indexOf(from); i !== -1; i = data.indexOf(from, i + to.length)) { data.write(to, i, "latin1"); n++; }
  if (n === 0) throw new Error("no /usr/share/nodejs/ path in " + file);
  fs.writeFileSync(file, data);
' "$libnode" /usr/share/nodejs/ "$DEST/"
libdir=$(dirname "${libnode#stage/}")
cat > stage/node <<WRAPPER
#!/bin/sh
LD_LIBRARY_PATH="$DEST/$libdir\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}" exec "$DEST/runtime/usr/bin/node" "\$@"
WRAPPER
chmod +x stage/node

rm -rf "$DEST"
mv stage "$DEST"
if ! "$DEST/node" -e 'process.exit(0)' >/dev/null 2>&1; then
  echo "old Node: $DEST/node does not run here"
  rm -rf "$DEST"
  exit 1
fi
echo "old Node: $("$DEST/node" --version) at $DEST/node"
