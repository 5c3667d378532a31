#!/bin/sh
# check-nm.sh CROSS_PREFIX LIB - a freestanding library must reference no
# symbol it does not define itself: no libc, no libgcc, no compiler
# runtime. Links the archive's objects into one relocatable object and
# lists what is still undefined.
set -eu
cross=$1
lib=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ ! -f "$lib" ]; then
	echo "FAIL nm-check $lib: missing"
	exit 1
fi
(cd "$tmp" && "${cross}ar" x "$OLDPWD/$lib")
"${cross}ld" -r -o "$tmp/all.o" "$tmp"/*.o
undef=$("${cross}nm" -u "$tmp/all.o")
if [ -n "$undef" ]; then
	echo "FAIL nm-check $lib: undefined symbols:"
	echo "$undef"
	exit 1
fi
defined=$("${cross}nm" -g --defined-only "$tmp/all.o" | wc -l)
echo "PASS nm-check $lib: 0 undefined, $defined defined"
