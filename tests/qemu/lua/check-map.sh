#!/bin/sh
# SPDX-License-Identifier: MIT
#
# check-map.sh MAP... - prove from a picolibc image's link map (ld -Map)
# that hakmem is its C library's malloc:
#   - no member of picolibc's allocator (nano-malloc-*.o in libc.a) was
#     linked;
#   - every standard allocation name (tests/public-syms.sh malloc) is
#     defined in the .text of libhakmem.a's object, and nowhere else;
#   - picolibc's own malloc-related names that mm/malloc_names.c does not
#     define (cfree, reallocf, mallinfo, malloc_stats, mallopt,
#     getpagesize) come from the board's glue, not from nano-malloc.
# One PASS/FAIL line per map; exit 1 if any map fails.
set -u
cd "$(dirname "$0")/../../.." || exit 2
names=$(tests/public-syms.sh malloc | grep -v '^hak_')
extra="cfree reallocf mallinfo malloc_stats mallopt getpagesize"
rc=0
for map in "$@"; do
	why=""
	if [ ! -s "$map" ]; then
		echo "FAIL map $map: missing"
		rc=1
		continue
	fi
	nano=$(grep -o 'libc\.a(nano-malloc[^)]*)' "$map" | sort -u | tr '\n' ' ')
	[ -n "$nano" ] && why="$why; picolibc's allocator linked: $nano"
	# Symbol lines of the map (address, name) grouped under the input
	# section that defines them: print "object name" pairs.
	defs=$(awk '
		/^ \.text|^ \.data|^ \.bss|^ \.rodata/ {
			obj = $NF; if (NF < 4) pending = 1; else pending = 0; next
		}
		pending && /^ +0x[0-9a-f]+ +0x[0-9a-f]+ / { obj = $NF; pending = 0; next }
		/^ +0x[0-9a-f]+ +[A-Za-z_][A-Za-z0-9_]*$/ { print obj, $2 }
	' "$map")
	for n in $names; do
		from=$(echo "$defs" | awk -v n="$n" '$2 == n {print $1}')
		case $from in
		*libhakmem.a\(hakmem.o\)) ;;
		"") why="$why; $n not defined" ;;
		*) why="$why; $n defined by $from" ;;
		esac
	done
	for n in $extra; do
		from=$(echo "$defs" | awk -v n="$n" '$2 == n {print $1}')
		case $from in
		"" | *boards/picolibc.o) ;;
		*) why="$why; $n defined by $from" ;;
		esac
	done
	if [ -n "$why" ]; then
		echo "FAIL map $map:${why#;}"
		rc=1
	else
		echo "PASS map $map: no nano-malloc member; $(echo $names | wc -w) malloc names from libhakmem.a(hakmem.o)"
	fi
done
exit $rc
