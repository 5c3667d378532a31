/* SPDX-License-Identifier: MIT */
/*
 * restart_table.h - how the restartable fast-path sections record
 * themselves, in one place for every arch's restart.h and for mm/malloc.c.
 *
 * Each section's asm starts with HAK_RESTART_RECORD: the {start, end} of
 * its local labels 1 (first instruction) and 2 (just after the commit),
 * added to HAK_RESTART_SECTION, subsection 1. Every object file with
 * sections bounds its own records with HAK_RESTART_TABLE(name): labels
 * name and name_end in subsections 0 and 2 of the same section (GAS
 * orders subsections within an object; the linker places objects' whole
 * contributions one after another, so one pair of labels cannot bound
 * another object's records). hak_restart_pc (mm/malloc.c) searches every
 * object's table: malloc.o's, heap.o's and cache.o's.
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

#define HAK_RESTART_TABLE(name)                                                \
	__asm__(".pushsection " HAK_RESTART_SECTION ", \"a\"\n\t"              \
		".balign 8\n\t"                                                \
		".globl " #name "\n\t"                                          \
		".hidden " #name "\n" #name ":\n\t"                               \
		".subsection 2\n\t"                                            \
		".globl " #name "_end\n\t"                                      \
		".hidden " #name "_end\n" #name "_end:\n\t"                       \
		".popsection")

#endif /* HAKMEM_RESTART_TABLE_H */
