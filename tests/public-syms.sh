#!/bin/sh
# SPDX-License-Identifier: MIT
# public-syms.sh - the public API, one name a line: every function that
# include/hakmem.h declares. The one source of the list the freestanding
# libraries keep global (Makefile) and the nm check demands.
cd "$(dirname "$0")/.." || exit 1
sed -n 's/^[a-z].*[ *]\(hak_[a-z0-9_]*\)(.*/\1/p' include/hakmem.h | sort -u
