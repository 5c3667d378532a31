// SPDX-License-Identifier: MIT
/*
 * preload_badfree - under LD_PRELOAD of libhakmem.so, free() a stack
 * pointer as the program's first allocator call: the drop-in library must
 * print the invalid free and abort, as glibc does, though no heap exists
 * yet (tests/host/preload.sh checks both).
 */
#include <stdlib.h>

int main(void)
{
	int on_stack[4];
	void *volatile p = on_stack;

	free(p);
	return 0; /* not reached under hakmem */
}
