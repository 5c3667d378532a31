#!/bin/sh
# check-nm.sh CROSS_PREFIX LIB [malloc] - a freestanding library must
# reference no symbol it does not define itself: no libc, no libgcc, no
# compiler runtime. Links the archive's objects into one relocatable
# object and lists what is still undefined. With "malloc", the library is
# one built with HAK_EXPORT_MALLOC=1, whose globals are the public API
# plus the standard malloc names (tests/public-syms.sh malloc).
set -eu
cross=$1
lib=$2
list=${3:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ ! -f "$lib" ]; then
	echo "FAIL nm-check $lib: missing"
	exit 1
fi
(cd "$tmp" && "${cross}ar" x "$OLDPWD/$lib")
"${cross}ld" -r -o "$tmp/all.o" "$tmp"/*.o
# The one symbol the embedder must define (include/hakmem.h): a library
# with restartable fast paths refers to it so that an image without the
# interrupt hook does not link.
undef=$("${cross}nm" -u "$tmp/all.o" |
	grep -v ' hak_irq_entry_calls_hak_restart_pc$' || true)
if [ -n "$undef" ]; then
	echo "FAIL nm-check $lib: undefined symbols:"
	echo "$undef"
	exit 1
fi
# Only the public API may be global: an embedder's own symbols (its own
# hak_panic, say) must never collide with hakmem's internals.
"${cross}nm" -g --defined-only "$tmp/all.o" | awk '{print $3}' | sort -u \
	>"$tmp/global"
"$(dirname "$0")/public-syms.sh" $list >"$tmp/public"
extra=$(comm -23 "$tmp/global" "$tmp/public")
if [ -n "$extra" ]; then
	echo "FAIL nm-check $lib: global symbols outside the public API:"
	echo "$extra" | head -20
	exit 1
fi
missing=$(comm -13 "$tmp/global" "$tmp/public")
if [ -n "$missing" ]; then
	echo "FAIL nm-check $lib: public API not defined:"
	echo "$missing"
	exit 1
fi
restart=
if "${cross}nm" -u "$tmp/all.o" | grep -q ' hak_irq_entry_calls_hak_restart_pc$'; then
	# Restartable fast paths: an image that does not declare the
	# interrupt hook must fail to link, naming it.
	if "${cross}ld" -o "$tmp/img" -e 0 "$tmp/all.o" 2>"$tmp/err"; then
		echo "FAIL nm-check $lib: linked without hak_irq_entry_calls_hak_restart_pc"
		exit 1
	fi
	if ! grep -q 'hak_irq_entry_calls_hak_restart_pc' "$tmp/err"; then
		echo "FAIL nm-check $lib: the link error does not name the hook:"
		cat "$tmp/err"
		exit 1
	fi
	restart="; restartable fast paths: does not link without hak_irq_entry_calls_hak_restart_pc"
fi
defined=$(wc -l <"$tmp/global")
echo "PASS nm-check $lib: 0 undefined, $defined global, all of them the public API${list:+ and the malloc names}$restart"
