// SPDX-License-Identifier: MIT
/*
 * hosted.c - the Linux user-space port: CPU id, per-CPU trylocks, the mmap
 * page provider, lazy initialisation and fork safety.
 *
 * Nothing here may call malloc: this code runs inside it, including before
 * hakmem is initialised when the library replaces the system allocator.
 * So the CPU count is parsed from /sys/devices/system/cpu/possible with
 * raw open/read, and entropy comes from the getrandom system call.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <stdlib.h>
#include <sched.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hakmem_hosted.h"
#include "../../mm/internal.h"

struct hak_hosted_lock hak_hosted_locks[HAK_MAX_CPUS];
unsigned hak_hosted_ncpus = 1;
long hak_hosted_rseq_cpu_off = HAK_HOSTED_NO_RSEQ;
#ifdef HAK_HOSTED_TEST_HOOKS
int hak_hosted_test_cpu = -1;
#endif
long hak_hosted_rseq_area_off = HAK_HOSTED_NO_RSEQ;

/* Runs before any constructor of the program (and again at lazy init, in
 * case malloc is called from an earlier constructor). */
__attribute__((constructor(101))) static void find_rseq(void)
{
	if (__rseq_size >= 8)
		hak_hosted_rseq_cpu_off = (long)__rseq_offset + 4;
}

/* Tests only (test_remote_hold): a program linked with the static
 * archive may define this to stand in for the system call, and so make
 * the kernel refuse the fence. Weak and hidden: the shared library has no
 * definition, resolves it to NULL at link time and exports no hook. */
extern long hak_hosted_test_membarrier(int cmd, unsigned flags, int cpu)
	__attribute__((weak, visibility("hidden")));

static long membarrier(int cmd, unsigned flags, int cpu)
{
	if (hak_hosted_test_membarrier)
		return hak_hosted_test_membarrier(cmd, flags, cpu);
	return syscall(__NR_membarrier, cmd, flags, cpu);
}

static unsigned cpu_ids(void);

/*
 * Rseq mode needs: glibc's rseq registration (the CPU id and the abort
 * machinery), membarrier's rseq fence (to take a cache from a running CPU),
 * and ncpus covering every CPU id the kernel may report (the sections
 * index the per-CPU table by it with no bound check). That is the uncapped
 * count: a machine with more possible CPUs than HAK_MAX_CPUS, or one whose
 * sysfs does not say, runs the trylock mode, whose cache index is the CPU
 * id modulo ncpus. (Compared with the capped count, a 128-CPU host took
 * rseq mode and CPU 64's sections read past the table: a review found it.)
 */
static void cpu_locks(int take);

void hak_hosted_choose_mode(unsigned ncpus)
{
	long off = HAK_HOSTED_NO_RSEQ;

	find_rseq();
#if HAK_PORT_HAS_RSEQ
	unsigned ids = cpu_ids();

	if (hak_hosted_rseq_cpu_off != HAK_HOSTED_NO_RSEQ && ids &&
	    ids <= ncpus && ncpus <= HAK_MAX_CPUS &&
	    membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ, 0, 0) ==
		    0) {
		off = (long)__rseq_offset;
	}
#endif
	(void)ncpus;
	/* With every CPU's lock held: a thread that read "no rseq" and took
	 * a cache's lock finishes its operation first, and one that takes
	 * a lock after sees the new mode (hak_port_pcpu_try_enter,
	 * pcpu_mode_moved), so no trylock operation overlaps an rseq
	 * section on one cache. */
	cpu_locks(1);
	__atomic_store_n(&hak_hosted_rseq_area_off, off, __ATOMIC_RELEASE);
	cpu_locks(0);
}

/* Wait for a cache's lock. Its holder may be a preempted thread: spin a
 * little, then yield to it (the same policy as hak_port_spin_wait). */
static void lock_wait(unsigned cpu)
{
	unsigned spins = 0;

	while (!hak_hosted_trylock(cpu))
		hak_port_spin_wait(++spins);
}

/* Every CPU's lock, in CPU order (take 1), or all of them let go: the
 * mode switch and fork. */
static void cpu_locks(int take)
{
	unsigned c;

	for (c = 0; c < HAK_MAX_CPUS; c++)
		take ? lock_wait(c) : hak_port_pcpu_exit(c, 0);
}

/*
 * Abort every rseq section running on cpu: one that read the held
 * cache's entry before the caller hid it cannot commit after this
 * returns. After the registration hak_hosted_choose_mode made, the
 * one-CPU fence fails only on kernels without MEMBARRIER_CMD_FLAG_CPU
 * (before 5.10), and the all-CPU one only for want of kernel memory
 * (ENOMEM), so the latter is retried. Going on without either would let
 * such a section push or pop on a cache its holder is draining: a heap
 * corrupted with no report. Better a panic that names it.
 */
#define FENCE_TRIES 8

static void fence_cpu(unsigned cpu)
{
	int i;

	if (!membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ,
			MEMBARRIER_CMD_FLAG_CPU, (int)cpu))
		return;
	for (i = 0; i < FENCE_TRIES; i++) {
		if (!membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ, 0, 0))
			return;
		sched_yield();
	}
	hak_panic("hakmem: membarrier's rseq fence failed: cannot take a "
		  "CPU's cache from it (hak_trim, hak_check, hak_cpu_offline "
		  "or a drain in rseq mode)");
}

int hak_hosted_remote_enter(unsigned cpu, void **slot)
{
	lock_wait(cpu);
	if (hak_port_rseq_active()) {
		/* New sections on that CPU find the empty area, whose every
		 * operation fails (mm/layout.h, HAK_PCPU_FAST), and take the
		 * slow path, which waits for the lock we hold. */
		__atomic_store_n(HAK_PCPU_FAST(slot), (void *)&hak_pcpu_none,
				 __ATOMIC_SEQ_CST);
		fence_cpu(cpu);
	}
	return 1;
}

void hak_hosted_remote_exit(unsigned cpu, void **slot)
{
	/* The cache's area, read under its lock: what the fast path sees
	 * again from here on. */
	if (hak_port_rseq_active())
		__atomic_store_n(HAK_PCPU_FAST(slot),
				 __atomic_load_n(slot, __ATOMIC_RELAXED),
				 __ATOMIC_RELEASE);
	hak_port_pcpu_exit(cpu, 0);
}

static int init_state; /* 0 none (or failed: try again), 1 running, 2 done */

void hak_hosted_yield(void)
{
	sched_yield();
}

/* The preferred cache is busy: any free one will do. Only if every one is
 * busy do we wait, yielding, for the preferred one. */
unsigned hak_hosted_pcpu_enter_slow(unsigned cpu)
{
	unsigned n = __atomic_load_n(&hak_hosted_ncpus, __ATOMIC_RELAXED);
	unsigned i;

	for (i = 1; i < n; i++) {
		unsigned c = (cpu + i) % n;

		if (hak_hosted_trylock(c))
			return c;
	}
	lock_wait(cpu);
	return cpu;
}

void hak_hosted_set_errno(int e)
{
	errno = e;
}

uint64_t hak_hosted_entropy(void)
{
	uint64_t v = 0;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != sizeof(v))
		v = (uint64_t)(uintptr_t)&v ^ ((uint64_t)getpid() << 32);
	return v;
}

/* ---- the mmap page provider ----------------------------------------- */

/* Tests only (test_page_size): stands in for the kernel's page size. */
extern unsigned long hak_hosted_test_page_size(void)
	__attribute__((weak, visibility("hidden")));

/* The kernel's page size: 4 KiB here mostly, but 16 or 64 KiB on some
 * aarch64 kernels (RHEL's 64 KiB, Apple silicon's 16 KiB). */
static unsigned long kernel_page_size(void)
{
	unsigned long ps = 0;

	if (hak_hosted_test_page_size)
		ps = hak_hosted_test_page_size();
	if (!ps)
		ps = getauxval(AT_PAGESZ);
	return ps ? ps : HAK_PAGE_SIZE;
}

/*
 * Whether the providers may split (struct hak_page_provider.split): the
 * large-run cache then gives back any HAK_PAGE_SIZE-aligned part of a
 * run. With larger kernel pages munmap rounds such a part out to whole
 * kernel pages and would unmap the cached rest of a run, or a live block
 * beside it. Without split every release is a whole run the provider
 * handed out, which the kernel's rounding covers exactly.
 */
int hak_hosted_may_split(void)
{
	return kernel_page_size() == HAK_PAGE_SIZE;
}

static void *mmap_alloc(void *ctx, size_t bytes, size_t align)
{
	size_t map = bytes + (align > 4096 ? align : 0);
	uintptr_t p, a, tail, kps;

	(void)ctx;
	if (map < bytes)
		return NULL;
	/* No MAP_NORESERVE: the kernel's overcommit policy must see the
	 * request, so malloc(64 TiB) fails now with ENOMEM, as under glibc,
	 * instead of an OOM kill later. */
	p = (uintptr_t)mmap(NULL, map, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if ((void *)p == MAP_FAILED)
		return NULL;
	if (align <= 4096)
		return (void *)p;
	a = (p + align - 1) & ~(uintptr_t)(align - 1);
	/* Whole kernel pages only: p is aligned to one, and so is a (the
	 * same, or a multiple of an alignment above it); the tail from the
	 * kernel page after the block, as the release's munmap of bytes
	 * rounds up to it. */
	if (a > p)
		munmap((void *)p, a - p);
	kps = kernel_page_size();
	tail = (a + bytes + kps - 1) & ~(kps - 1);
	if (p + map > tail)
		munmap((void *)tail, p + map - tail);
	return (void *)a;
}

static void mmap_release(void *ctx, void *p, size_t bytes)
{
	(void)ctx;
	munmap(p, bytes);
}

/*
 * Fresh large runs of HAK_HOSTED_THP_BYTES and more are madvised
 * MADV_HUGEPAGE (0: none are). Where Linux's transparent huge pages are
 * "madvise" or "always", each 2 MiB-aligned part of such a run is then
 * mapped by one fault instead of 512: on a VM those faults cost tens of
 * microseconds each (malloc-large, docs/performance.md "Large runs and
 * transparent huge pages"). The price is memory a block never touches
 * inside a touched huge page; below 2 MiB a run holds no aligned huge
 * page, and slabs and metadata (the slab map over 64 GiB is sparse) are
 * never advised. With "never", or without THP (EINVAL), nothing changes;
 * on kernels with 16 or 64 KiB pages a huge page is 32 or 512 MiB and
 * smaller runs gain nothing. The arena's release maps fresh PROT_NONE
 * pages over what it takes back, so the flag never reaches a superslab.
 */
#ifndef HAK_HOSTED_THP_BYTES
#define HAK_HOSTED_THP_BYTES (2UL << 20)
#endif

static const size_t thp_bytes = HAK_HOSTED_THP_BYTES;

static void mmap_advise_large(void *ctx, void *run, size_t bytes)
{
	(void)ctx;
	if (thp_bytes && bytes >= thp_bytes)
		(void)madvise(run, bytes, MADV_HUGEPAGE);
}

/*
 * A lazy provider's per-CPU area reserves 21.4 MiB of slots a CPU and
 * touches only what its classes grew to (design.md, dynamic capacity).
 * Under THP "always" each 2 MiB range touched would be backed by a whole
 * huge page: at the initial capacities the classes' slots lie in 7 such
 * ranges, 14 MiB a CPU instead of the 41 pages (164 KiB) touched
 * (computed from the layout, not measured: this VM runs THP "madvise").
 * The slab map over the arena (slabmap.c) likewise: 32 MiB of entries of
 * which a heap under 4 GiB touches a few pages of the first 2 MiB.
 * Advice only: a refusal changes nothing else.
 */
void hak_port_area_advise(void *area, size_t bytes)
{
	(void)madvise(area, bytes, MADV_NOHUGEPAGE);
}

struct hak_page_provider hak_hosted_mmap_provider(void)
{
	struct hak_page_provider pp = {
		.alloc = mmap_alloc,
		.release = mmap_release,
		.zeroed = 1,
		.lazy = 1, /* pages come in on first write */
		.advise_large = mmap_advise_large, /* the arena's too */
	};

	/* munmap takes any range of whole kernel pages */
	pp.split = hak_hosted_may_split();

	return pp;
}

/* Tests only (test_cpu_ids): stands in for sysfs (~0u: it does not), as
 * hak_hosted_test_membarrier does for the system call; or names a file
 * read instead of sysfs's list (NULL: it does not). */
extern unsigned hak_hosted_test_cpu_ids(void)
	__attribute__((weak, visibility("hidden")));
extern const char *hak_hosted_test_possible_path(void)
	__attribute__((weak, visibility("hidden")));

/* The highest CPU id the kernel may report, plus one, uncapped, from
 * "0-N" or "0" in sysfs without allocating; 0 when sysfs cannot say (not
 * mounted, say). */
static unsigned cpu_ids(void)
{
	char buf[64];
	unsigned n = 0, hi = 0;
	ssize_t len, i;
	int fd, any = 0;
	const char *path = "/sys/devices/system/cpu/possible";

	if (hak_hosted_test_cpu_ids) {
		unsigned fake = hak_hosted_test_cpu_ids();

		if (fake != ~0u)
			return fake;
	}
	if (hak_hosted_test_possible_path) {
		const char *fake = hak_hosted_test_possible_path();

		if (fake)
			path = fake;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	/* The highest number in the list is the highest CPU id. The whole
	 * file, a buffer at a time: a sparse list ("0-3,8-11,...") may be
	 * longer than one, and a truncated one would undercount the ids
	 * (then rseq mode would index past the table). A number may span
	 * two reads. */
	while ((len = read(fd, buf, sizeof(buf))) > 0) {
		any = 1;
		for (i = 0; i < len; i++) {
			if (buf[i] >= '0' && buf[i] <= '9') {
				n = n < 100000000u
					    ? n * 10 + (unsigned)(buf[i] - '0')
					    : n;
				if (n > hi)
					hi = n;
			} else {
				n = 0;
			}
		}
	}
	close(fd);
	if (len < 0 || !any)
		return 0;
	return hi + 1;
}

unsigned hak_hosted_possible_cpus(void)
{
	unsigned n = cpu_ids();

	if (!n) {
		/* Unknown: as many caches as CPUs we may run on (the
		 * system call; sysconf may allocate, and this runs inside
		 * the lazy init). Trylock mode then, which takes any id. */
		cpu_set_t set;

		n = sched_getaffinity(0, sizeof(set), &set) ? 1
							   : (unsigned)CPU_COUNT(&set);
		n = n ? n : 1;
	}
	return n > HAK_MAX_CPUS ? HAK_MAX_CPUS : n;
}

/* Default reports go to stderr with write(2): no stdio, no allocation. */
static void put(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	if (write(2, s, n) < 0)
		return;
}

static void put_hex(uintptr_t v)
{
	char b[2 + 16 + 1];
	int i;

	b[0] = '0';
	b[1] = 'x';
	for (i = 0; i < 16; i++)
		b[2 + i] = "0123456789abcdef"[(v >> (60 - 4 * i)) & 15];
	b[18] = 0;
	put(b);
}

void hak_hosted_report_stderr(const struct hak_report *r, void *ctx)
{
	(void)ctx;
	put("hakmem: ");
	put(hak_event_name(r->event));
	put(": ");
	put(r->what ? r->what : "");
	put(" ptr=");
	put_hex((uintptr_t)r->ptr);
	put("\n");
}

/*
 * The drop-in library's policy, as glibc's: a failure the caller sees
 * through NULL and errno (out of memory, a bad alignment, an overflowing
 * size) is silent; heap misuse (a double, invalid or interior free, a
 * corruption, an overflow or use after free the debug build found, an API
 * call out of contract) is printed, then the process aborts, so a buggy or
 * attacked program does not run on. Build with
 * -DHAK_HOSTED_REPORT_CONTINUE=1 to print and continue instead (the heap
 * stays consistent either way).
 */
#ifndef HAK_HOSTED_REPORT_CONTINUE
#define HAK_HOSTED_REPORT_CONTINUE 0
#endif

void hak_hosted_report_default(const struct hak_report *r, void *ctx)
{
	switch (r->event) {
	case HAK_EV_OUT_OF_MEMORY:
	case HAK_EV_BAD_ALIGNMENT:
	case HAK_EV_SIZE_OVERFLOW:
	case HAK_EV_NOT_INITIALISED:
		return;
	default:
		break;
	}
	hak_hosted_report_stderr(r, ctx);
	if (!HAK_HOSTED_REPORT_CONTINUE)
		abort();
}

/* The drop-in library's panic (a broken invariant, a CPU id out of
 * range, a fence the kernel refused): the message, then abort. Without
 * it hak_panic traps with nothing printed. */
void hak_hosted_panic_default(const char *msg)
{
	put(msg);
	put("\n");
	abort();
}

int hak_hosted_lazy_init(void)
{
	int expect = 0;
	struct hak_config cfg = {0};
	unsigned spins = 0;

	if (__atomic_load_n(&init_state, __ATOMIC_ACQUIRE) == 2)
		return 0;
	if (__atomic_compare_exchange_n(&init_state, &expect, 1, 0,
					__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		find_rseq();
		cfg.provider = hak_hosted_arena_provider();
		cfg.ncpus = hak_hosted_possible_cpus();
		cfg.report = hak_hosted_report_default;
		cfg.panic = hak_hosted_panic_default;
		/* An explicit hak_init (static library) may be running: that
		 * is fine, hak_init_lazy waits for it. If the init fails
		 * (no memory for the per-CPU areas), a later call tries
		 * again. */
		if (hak_init_lazy(&cfg)) {
			__atomic_store_n(&init_state, 0, __ATOMIC_RELEASE);
			return -1;
		}
		__atomic_store_n(&init_state, 2, __ATOMIC_RELEASE);
		return 0;
	}
	/* Another thread is initialising: bounded by its hak_init. */
	while (__atomic_load_n(&init_state, __ATOMIC_ACQUIRE) == 1)
		hak_port_spin_wait(++spins);
	return __atomic_load_n(&init_state, __ATOMIC_ACQUIRE) == 2 ? 0 : -1;
}

/* ---- fork: the child must not inherit a lock held by another thread -- */

/* In lock order (mm/internal.h, hak_locks_list): the list lock, the
 * CPUs' locks, the rest. */
static void fork_prepare(void)
{
	hak_locks_list(1);
	cpu_locks(1);
	hak_locks_all(1);
}

static void fork_release(void)
{
	hak_locks_all(0);
	cpu_locks(0);
	hak_locks_list(0);
}

/* The child's only thread is the forking one: an init another thread
 * was running (lazy or explicit) will never finish here. Without this
 * the child's first malloc waited for it forever. */
static void fork_child(void)
{
	fork_release();
	if (__atomic_load_n(&init_state, __ATOMIC_RELAXED) == 1)
		__atomic_store_n(&init_state, 0, __ATOMIC_RELAXED);
	hak_init_fork_child();
}

__attribute__((constructor)) static void hosted_ctor(void)
{
	pthread_atfork(fork_prepare, fork_release, fork_child);
}
