/* SPDX-License-Identifier: MIT */
/*
 * picolibc_board.h - what boards/picolibc.c gives an image that links picolibc
 * (with hakmem as its malloc) on a QEMU board. Includes no C library
 * header, so the kernel-side code of an image (built with the board's
 * flags: no FP/SIMD, no libc) can call it too.
 *
 * picolibc keeps errno and a few other variables in thread-local
 * storage: each CPU gets a TLS block of its own (aarch64: TPIDR_EL0,
 * riscv64: tp, which is why the riscv64 picolibc images keep hakmem's CPU
 * id in sscratch). stdout and stderr are one unbuffered FILE whose put
 * function appends to the calling CPU's output buffer: nothing in the
 * FILE changes on a write, so the CPUs share it without a lock, and each
 * CPU's output stays apart.
 */
#ifndef HAKMEM_BOARDS_PICOLIBC_BOARD_H
#define HAKMEM_BOARDS_PICOLIBC_BOARD_H

#include <stddef.h>

#define PL_MAX_CPUS 64

/*
 * Give the calling CPU (dense index cpu) its TLS block. Call once per CPU
 * before that CPU runs any picolibc code; on aarch64, FP/SIMD must be on
 * already (picolibc's memcpy uses SIMD registers). Returns 0, or -1 if
 * the image's TLS does not fit the block board code reserves.
 */
int pl_cpu_init(unsigned cpu);

/* From now on, stdout and stderr of the calling CPU append to buf (at
 * most size bytes; the rest is dropped and counted as overflow). */
void pl_output_set(char *buf, size_t size);
/* Bytes the calling CPU wrote since pl_output_set, and how many of them
 * did not fit. */
size_t pl_output_len(void);
size_t pl_output_dropped(void);

#endif
