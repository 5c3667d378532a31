/* SPDX-License-Identifier: MIT */
/*
 * check.h - the host tests' few helpers. A failed CHECK prints where and
 * why and exits non-zero; a test prints "PASS <name>" only at its end.
 */
#ifndef HAKMEM_TESTS_CHECK_H
#define HAKMEM_TESTS_CHECK_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hakmem.h"
#include "hakmem/config.h" /* HAK_DEBUG */
#include "hakmem_hosted.h"

#define CHECK(cond, ...)                                                      \
	do {                                                                  \
		if (!(cond)) {                                                \
			fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__,         \
				__LINE__, #cond);                             \
			fprintf(stderr, __VA_ARGS__);                         \
			fprintf(stderr, "\n");                                \
			exit(1);                                              \
		}                                                             \
	} while (0)

/* xorshift64*: deterministic, seedable, good enough for test mixes. */
static inline uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

static inline uint64_t rng_range(uint64_t *s, uint64_t lo, uint64_t hi)
{
	return lo + rng_next(s) % (hi - lo + 1);
}

/* Records the reports a test provokes. */
struct report_log {
	int count[HAK_EV__COUNT];
	const void *last_ptr;
	enum hak_event last_event;
	const char *last_what; /* a copy: what lives only during the call */
	int quiet;
	char what_buf[200];
};

static inline void report_record(const struct hak_report *r, void *ctx)
{
	struct report_log *log = ctx;

	if ((unsigned)r->event < HAK_EV__COUNT)
		log->count[r->event]++;
	log->last_ptr = r->ptr;
	log->last_event = r->event;
	snprintf(log->what_buf, sizeof(log->what_buf), "%s",
		 r->what ? r->what : "");
	log->last_what = log->what_buf;
	if (!log->quiet)
		fprintf(stderr, "  report: %s: %s (%p) size %zu\n",
			hak_event_name(r->event), r->what, r->ptr, r->size);
}

/*
 * body in a child process (a fresh heap: the lazy init runs there); the
 * child exits 0 when body returns, and a hang past alarm_s seconds kills
 * it (SIGALRM). The child must exit 0: what names the case when not.
 */
static inline void run_in_child(void (*body)(void), unsigned alarm_s,
				const char *what)
{
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0, "fork");
	if (!pid) {
		alarm(alarm_s);
		body();
		exit(0);
	}
	CHECK(waitpid(pid, &status, 0) == pid, "wait");
	CHECK(WIFEXITED(status) && !WEXITSTATUS(status), "%s: child status %d%s",
	      what, status,
	      WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM ? " (hung)"
								 : "");
}

/* Init over mmap with the recording hook. */
static inline void init_hosted(unsigned ncpus, struct report_log *log)
{
	struct hak_config cfg = { 0 };

	cfg.provider = hak_hosted_arena_provider(); /* the port's default */
	cfg.ncpus = ncpus;
	cfg.report = report_record;
	cfg.report_ctx = log;
	CHECK(hak_init(&cfg) == 0, "hak_init failed");
}

/*
 * Fill / verify a block with a pattern derived from its tag. The first
 * 8 KiB are covered whole, beyond that the first and last 16 bytes of every
 * 4 KiB page: the positions do not depend on the block's size, so a prefix
 * (what realloc keeps) verifies against the same pattern, and overlap or
 * lost data still shows at page granularity without multi-MiB blocks
 * dominating the run time.
 */
static inline unsigned char pat(uint64_t tag, size_t i)
{
	return (unsigned char)(tag + i * 131 + (i >> 8));
}

#define PAT_FOR_EACH(i, n)                                                    \
	for (i = 0; i < n;                                                    \
	     i = (i >= 8192 && (i & 4095) == 15) ? i + 4096 - 31 : i + 1)

static inline void fill(void *p, size_t n, uint64_t tag)
{
	unsigned char *c = p;
	size_t i;

	PAT_FOR_EACH(i, n)
	c[i] = pat(tag, i);
}

static inline int verify(const void *p, size_t n, uint64_t tag)
{
	const unsigned char *c = p;
	size_t i;

	PAT_FOR_EACH(i, n)
	if (c[i] != pat(tag, i))
		return 0;
	return 1;
}

#endif
