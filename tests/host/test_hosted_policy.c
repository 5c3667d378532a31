// SPDX-License-Identifier: MIT
/*
 * test_hosted_policy - the hosted library's default report sink, as a
 * drop-in malloc's users expect (glibc's behaviour):
 *  - heap misuse (a double or invalid free) prints one line and aborts,
 *    also before the first allocation, when no heap exists yet;
 *  - a failure the caller sees through NULL and errno (a huge request, a
 *    bad alignment, calloc overflow) prints nothing;
 *  - a huge request fails now, with ENOMEM, whenever the kernel refuses
 *    to commit that much memory to a plain mmap (no MAP_NORESERVE).
 * Built twice: against the default library, and against one built with
 * HAK_HOSTED_REPORT_CONTINUE=1 (argv[1] = "continue"), where misuse
 * prints and the process goes on. Each case runs in a child process with
 * stderr captured.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

static int cont; /* library built with HAK_HOSTED_REPORT_CONTINUE=1 */

/* Run fn in a child; return its wait status and what it wrote to stderr. */
static int in_child(void (*fn)(void), char *err, size_t errsz)
{
	int fd[2], status;
	ssize_t n, got = 0;
	pid_t pid;

	CHECK(pipe(fd) == 0, "pipe");
	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0, "fork");
	if (pid == 0) {
		dup2(fd[1], 2);
		close(fd[0]);
		fn();
		_exit(0);
	}
	close(fd[1]);
	while ((n = read(fd[0], err + got, errsz - 1 - (size_t)got)) > 0)
		got += n;
	err[got] = 0;
	close(fd[0]);
	CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
	return status;
}

static void bad_free_first(void)
{
	int on_stack[4];

	/* The very first call into hakmem: no heap, no hook yet. */
	hak_free(on_stack);
}

static void double_free(void)
{
	void *p = hak_malloc(64);

	hak_free(p);
	hak_free(p);
}

static void quiet_failures(void)
{
	void *p;

	errno = 0;
	p = hak_malloc(SIZE_MAX - 4096);
	if (p || errno != ENOMEM)
		_exit(10);
	errno = 0;
	p = hak_aligned_alloc(48, 100);
	if (p || errno != EINVAL)
		_exit(11);
	errno = 0;
	p = hak_calloc(SIZE_MAX / 2, 4);
	if (p || errno != ENOMEM)
		_exit(12);
}

/* Would the kernel commit `bytes` to a plain private mapping now? */
static int kernel_commits(size_t bytes)
{
	void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (m == MAP_FAILED)
		return 0;
	munmap(m, bytes);
	return 1;
}

static void huge_requests(void)
{
	size_t tib = (size_t)1 << 40;
	int i;

	errno = 0;
	if (hak_malloc(64 * tib) || errno != ENOMEM)
		_exit(20);
	for (i = 0; i < 7; i++)
		if (hak_malloc(16 * tib))
			_exit(21 + i);
}

static void expect_abort(const char *name, void (*fn)(void), const char *msg)
{
	char err[4096];
	int st = in_child(fn, err, sizeof(err));

	if (cont) {
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "%s: the continue build stopped (status %#x)", name, st);
	} else {
		CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT,
		      "%s: expected SIGABRT, status %#x; stderr: %s", name, st,
		      err);
	}
	CHECK(strstr(err, msg), "%s: stderr lacks '%s': %s", name, msg, err);
	printf("%s: %s, printed: %s", name,
	       cont ? "continued" : "aborted", err);
}

int main(int argc, char **argv)
{
	char err[4096];
	int st;

	cont = argc > 1 && !strcmp(argv[1], "continue");
	expect_abort("bad free before any allocation", bad_free_first,
		     "hakmem: invalid free: not allocated by hakmem");
	expect_abort("double free", double_free, "hakmem: double free");

	st = in_child(quiet_failures, err, sizeof(err));
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "failed allocations: status %#x", st);
	CHECK(err[0] == 0, "failed allocations printed: %s", err);
	printf("failed allocations: NULL + errno, nothing printed\n");

	if (kernel_commits((size_t)16 << 40)) {
		printf("FAIL: this kernel commits 16 TiB to a plain mmap "
		       "(vm.overcommit_memory=1?): cannot test huge requests\n");
		return 1;
	}
	st = in_child(huge_requests, err, sizeof(err));
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "huge requests: status %#x (exit 20: 64 TiB succeeded, 21+: "
	      "one of seven 16 TiB)", st);
	CHECK(err[0] == 0, "huge requests printed: %s", err);
	printf("huge requests: malloc(64 TiB) and 7 x malloc(16 TiB) -> NULL, "
	       "ENOMEM\n");
	printf("PASS hosted_policy%s\n", cont ? " (continue build)" : "");
	return 0;
}
