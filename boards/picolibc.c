// SPDX-License-Identifier: MIT
/*
 * picolibc.c - the board support a picolibc image needs beyond board.h
 * (see picolibc_board.h): per-CPU TLS, per-CPU stdout/stderr, the few POSIX
 * calls picolibc's own code reaches, and the malloc names picolibc has
 * that hakmem's mm/malloc_names.c does not.
 *
 * Built with picolibc's headers and the image's ordinary flags (FP
 * allowed), so nothing here may run in an IRQ handler on aarch64: the
 * board's IRQ entry saves no FP/SIMD registers.
 *
 * The malloc family itself (malloc, free, calloc, realloc, reallocarray,
 * aligned_alloc, memalign, posix_memalign, valloc, pvalloc,
 * malloc_usable_size) comes from libhakmem.a built with
 * HAK_EXPORT_MALLOC=1; once every name that a picolibc nano-malloc member
 * defines is defined before libc.a is searched, no such member is
 * linked (tests/qemu/lua/check-map.sh proves it from the link map).
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <picolibc.h>
#include <picotls.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <sys/times.h>
#include <time.h>
#include <unistd.h>

#include "board.h"
#include "hakmem.h"
#include "hakmem/arch.h"
#include "picolibc_board.h"

/* ---- TLS ------------------------------------------------------------- */

#define PL_TLS_BYTES 1024

/* Linker script symbols (linker/picolibc-tls.ld); _init_tls and _set_tls
 * in libc.a read them too. */
extern char __tls_size[], __tls_align[];

static unsigned char pl_tls[PL_MAX_CPUS][PL_TLS_BYTES]
	__attribute__((aligned(64)));

int pl_cpu_init(unsigned cpu)
{
	if (cpu >= PL_MAX_CPUS || _tls_size() > PL_TLS_BYTES ||
	    _tls_align() > 64)
		return -1;
	_init_tls(pl_tls[cpu]);
	_set_tls(pl_tls[cpu]);
	return 0;
}

/* ---- stdout / stderr -------------------------------------------------- */

struct pl_out {
	char *buf;
	size_t size, len, dropped;
} __attribute__((aligned(64)));

static struct pl_out pl_out[PL_MAX_CPUS];

void pl_output_set(char *buf, size_t size)
{
	struct pl_out *o = &pl_out[arch_cpu_id()];

	o->buf = buf;
	o->size = size;
	o->len = 0;
	o->dropped = 0;
}

size_t pl_output_len(void)
{
	return pl_out[arch_cpu_id()].len;
}

size_t pl_output_dropped(void)
{
	return pl_out[arch_cpu_id()].dropped;
}

/* Runs in the writing CPU's thread context: it only touches that CPU's
 * own slot. Never fails, so the FILE's error flag is never written. */
static int pl_put(char c, FILE *f)
{
	struct pl_out *o = &pl_out[arch_cpu_id()];

	(void)f;
	if (o->len < o->size)
		o->buf[o->len++] = c;
	else
		o->dropped++;
	return (unsigned char)c;
}

static int pl_get(FILE *f)
{
	(void)f;
	return EOF;
}

static FILE pl_stdio = FDEV_SETUP_STREAM(pl_put, pl_get, NULL, _FDEV_SETUP_RW);

FILE *const stdin = &pl_stdio;
FILE *const stdout = &pl_stdio;
FILE *const stderr = &pl_stdio;

/* ---- POSIX calls picolibc reaches --------------------------------------
 *
 * There is no file system and no process: what needs one fails the way
 * POSIX says it fails when the thing is absent. Time is the board's
 * monotonic counter, from 0 at boot.
 */

int open(const char *path, int flags, ...)
{
	(void)path;
	(void)flags;
	errno = ENOENT;
	return -1;
}

int close(int fd)
{
	(void)fd;
	errno = EBADF;
	return -1;
}

ssize_t read(int fd, void *buf, size_t n)
{
	(void)fd;
	(void)buf;
	(void)n;
	errno = EBADF;
	return -1;
}

ssize_t write(int fd, const void *buf, size_t n)
{
	(void)fd;
	(void)buf;
	(void)n;
	errno = EBADF;
	return -1;
}

off_t lseek(int fd, off_t off, int whence)
{
	(void)fd;
	(void)off;
	(void)whence;
	errno = EBADF;
	return -1;
}

int unlink(const char *path)
{
	(void)path;
	errno = ENOENT;
	return -1;
}

/* The program asked to end: the run ends with its status. */
void _exit(int status)
{
	board_exit(status ? status : 0);
}

int gettimeofday(struct timeval *restrict tv, void *restrict tz)
{
	unsigned long hz = board_tick_hz(), t = board_ticks();

	(void)tz;
	if (!hz) {
		errno = ENOSYS;
		return -1;
	}
	tv->tv_sec = (time_t)(t / hz);
	tv->tv_usec = (suseconds_t)((t % hz) * 1000000 / hz);
	return 0;
}

/* CPU time is wall time since boot: a CPU runs one program. */
clock_t times(struct tms *t)
{
	unsigned long hz = board_tick_hz(), ticks = board_ticks();
	clock_t c = hz ? (clock_t)(ticks / hz * CLOCKS_PER_SEC +
				   ticks % hz * CLOCKS_PER_SEC / hz) : 0;

	t->tms_utime = c;
	t->tms_stime = 0;
	t->tms_cutime = 0;
	t->tms_cstime = 0;
	return c;
}

/* One process, which raise() and abort() signal: a signal ends the run
 * the way a shell reports one, 128 + its number. */
pid_t getpid(void)
{
	return 1;
}

int kill(pid_t pid, int sig)
{
	if (pid != 1) {
		errno = ESRCH;
		return -1;
	}
	board_puts("[picolibc] the program got a signal: exit 128 + signal\n");
	board_exit(128 + sig);
}

/* ---- the malloc names picolibc has beyond mm/malloc_names.c ------------ */

void cfree(void *p)
{
	free(p);
}

void *reallocf(void *p, size_t n)
{
	void *q = realloc(p, n);

	if (!q && n)
		free(p);
	return q;
}

/* No tunables: hakmem's are compile-time (include/hakmem/config.h). */
int mallopt(int param, int value)
{
	(void)param;
	(void)value;
	return 0;
}

struct mallinfo mallinfo(void)
{
	struct mallinfo mi = { 0 };
	struct hak_stats st;

	hak_stats(&st);
	mi.arena = st.provider_held;
	mi.uordblks = st.bytes_in_use;
	mi.fordblks = st.provider_held - st.bytes_in_use;
	mi.hblkhd = st.tier[HAK_TIER_LARGE].bytes_in_use;
	mi.hblks = st.tier[HAK_TIER_LARGE].objects_in_use;
	return mi;
}

void malloc_stats(void)
{
	struct hak_stats st;

	hak_stats(&st);
	fprintf(stderr, "hakmem: in use %llu, provider held %llu\n",
		(unsigned long long)st.bytes_in_use,
		(unsigned long long)st.provider_held);
}

int getpagesize(void)
{
	return 4096;
}
