#!/bin/sh
# SPDX-License-Identifier: MIT
# public-syms.sh [malloc] - the public API, one name a line: every function
# that include/hakmem.h declares. The one source of the list the
# freestanding libraries keep global (Makefile) and the nm check demands.
# With "malloc", also the standard names mm/malloc_names.c defines (for
# the libraries built with HAK_EXPORT_MALLOC=1, which an image links as its
# C library's malloc).
cd "$(dirname "$0")/.." || exit 1
{
	sed -n 's/^[a-z].*[ *]\(hak_[a-z0-9_]*\)(.*/\1/p' include/hakmem.h
	[ "${1:-}" = malloc ] &&
		sed -n 's/^HAK_EXPORT [^(]*[ *]\([a-z_]*\)(.*/\1/p' mm/malloc_names.c
} | sort -u
