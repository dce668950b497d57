#!/usr/bin/env bash
# The package as users get it: `npm pack` (its prepack builds dist/ and the
# linux-x64 N-API prebuild with prebuildify), the tarball's file list, publint
# and @arethetypeswrong/cli on it, then an install of the tarball in a fresh
# folder with no C++ compiler on PATH (a PATH of symlinks to node, npm and sh
# only): require() and import, the echo example, the `scif` command; last, the
# fallback: with the prebuild removed, node-gyp-build compiles from source.
# Ends with "N passed, N failed".
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
# Outside build/: the prepack must not be able to touch the test's own files.
WORK=$(mktemp -d /tmp/scif-pack-test.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
P=0 F=0
ok() { echo "pack-test: ok   $1"; P=$((P + 1)); }
bad() { echo "pack-test: FAIL $1"; F=$((F + 1)); }
check() { local what=$1; shift; if "$@" >"$WORK/last.log" 2>&1; then ok "$what"; else bad "$what"; sed 's/^/    /' "$WORK/last.log"; fi; }
finish() { echo "$P passed, $F failed"; ((F == 0)); exit $?; }

echo "pack-test: npm pack"
if ! npm pack --pack-destination "$WORK" >"$WORK/pack.log" 2>&1; then
    bad "npm pack"; tail -n 30 "$WORK/pack.log"; finish
fi
TGZ=$(ls "$WORK"/scif-*.tgz)
ok "npm pack: $(basename "$TGZ") $(stat -c %s "$TGZ") bytes"
tar -tzf "$TGZ" | sed 's|^package/||' | sort >"$WORK/files.txt"
echo "pack-test: $(wc -l <"$WORK/files.txt") files:"; sed 's/^/    /' "$WORK/files.txt"

has() { grep -qx "$1" "$WORK/files.txt"; }
check "tarball has the prebuild, dist, types, bin, sources for the fallback" bash -c "
    grep -qE '^prebuilds/linux-x64/.*\.node$' '$WORK/files.txt' &&
    for f in dist/index.js dist/index.mjs dist/index.d.ts dist/index.d.mts bin/scif.js binding.gyp native/addon.cc kmod/dkms.conf examples/echo.js README.md package.json; do
        grep -qx \"\$f\" '$WORK/files.txt' || { echo \"missing \$f\"; exit 1; }
    done"
check "tarball has no tests, bench results, build trees, kernel build products or source maps" bash -c "
    ! grep -E '^(test|bench|build|scripts|lib|kmod/tests|node_modules)/|/build/|\.map$|\.o$|\.ko$|\.mod(\.c)?$|\.cmd$|Module\.symvers$|modules\.order$|\.test\.' '$WORK/files.txt'"

check "publint" npx --no-install publint --strict "$TGZ"
cat "$WORK/last.log"
check "attw (types for import and require)" npx --no-install attw "$TGZ"
cat "$WORK/last.log"

# A PATH with no compiler: node, npm, npx and sh only.
NOCC=$WORK/nocc-bin
mkdir -p "$NOCC"
for t in node npm npx sh; do ln -s "$(command -v $t)" "$NOCC/$t"; done
check "no compiler on the restricted PATH" env PATH="$NOCC" sh -c '! command -v g++ && ! command -v cc && ! command -v c++ && ! command -v make'

APP=$WORK/app
mkdir -p "$APP"
echo '{ "name": "scif-pack-test", "version": "1.0.0", "private": true }' >"$APP/package.json"
check "npm install the tarball without a compiler" \
    env PATH="$NOCC" npm install --prefix "$APP" --no-audit --no-fund --prefer-offline "$TGZ"
check "no build tree was made (the prebuild was used)" test ! -e "$APP/node_modules/scif/build"
check "require('scif')" env PATH="$NOCC" node -e "
    const scif = require('$APP/node_modules/scif');
    if (typeof scif.connect !== 'function' || !scif.getNodeIds().nodes.length) process.exit(1);
    console.log(scif.platform());"
check "import('scif')" env PATH="$NOCC" node --input-type=module -e "
    import { createRequire } from 'node:module';
    const url = createRequire('$APP/').resolve('scif').replace(/index\.js$/, 'index.mjs');
    const { connect, createServer } = await import(url);
    if (typeof connect !== 'function' || typeof createServer !== 'function') process.exit(1);"
check "the echo example from the installed package" bash -c "
    out=\$(cd '$APP' && timeout 60 env PATH='$NOCC' node node_modules/scif/examples/echo.js hello-from-pack 2>&1); echo \"\$out\"
    grep -q 'echoed \"hello-from-pack\"' <<<\"\$out\""
check "the scif command from the installed package" bash -c "
    out=\$(cd '$APP' && PATH='$NOCC' npx --no-install scif nodes); echo \"\$out\"; grep -q '^nodes 0 1' <<<\"\$out\""

# Where no prebuild fits, the install script (node-gyp-build) compiles.
PKG=$APP/node_modules/scif
rm -rf "$PKG/prebuilds"
check "no prebuild, no compiler: node-gyp-build fails" bash -c "cd '$PKG' && ! PATH='$NOCC' npm run install"
check "no prebuild, with a compiler: node-gyp-build compiles from source" bash -c "
    cd '$PKG' && npm run install && test -f build/Release/scif.node &&
    node -e \"require('$PKG').getNodeIds()\""

finish
