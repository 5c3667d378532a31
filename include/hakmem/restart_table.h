/* SPDX-License-Identifier: MIT */
/*
 * restart_table.h - how the restartable fast-path sections record
 * themselves, in one place for every arch's restart.h and for mm/malloc.c.
 *
 * Each section's asm starts with HAK_RESTART_RECORD: the {start, end} of
 * its local labels 1 (first instruction) and 2 (just after the commit),
 * added to HAK_RESTART_SECTION, subsection 1. mm/malloc.c bounds the table
 * with labels in subsections 0 and 2 of the same section (GAS orders
 * subsections within the object, and all sections live in malloc.o), and
 * hak_restart_pc searches it.
 */
#ifndef HAKMEM_RESTART_TABLE_H
#define HAKMEM_RESTART_TABLE_H

#define HAK_RESTART_SECTION ".rodata.hak_restart"

#define HAK_RESTART_RECORD                                                     \
	".pushsection " HAK_RESTART_SECTION ", \"a\"\n\t"                      \
	".subsection 1\n\t"                                                    \
	".balign 8\n\t"                                                        \
	".quad 1f, 2f\n\t"                                                     \
	".popsection\n\t"

#endif /* HAKMEM_RESTART_TABLE_H */
