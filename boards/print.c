// SPDX-License-Identifier: MIT
/*
 * print.c - numbers on the serial console, without libc, for every board
 * and for the images that print through one (board.h).
 */
#include "board.h"

static void put_uint(unsigned long v, unsigned base)
{
	char b[24];
	int n = 0;

	do
		b[n++] = "0123456789abcdef"[v % base];
	while ((v /= base) && n < 24);
	while (n)
		board_putc(b[--n]);
}

void board_putdec(unsigned long v)
{
	put_uint(v, 10);
}

void board_puthex(unsigned long v)
{
	board_puts("0x");
	put_uint(v, 16);
}
