// SPDX-License-Identifier: MIT
/*
 * guest.c - see guest.h. Freestanding: no libc, IRQ-safe where it says so.
 */
#include "guest.h"
#if HAK_DEBUG
#include "peek.h"
#endif

unsigned g_ncpus = 1;
struct g_acct g_acct[G_MAX_CPUS][G_NCTX];
uint64_t g_events[HAK_EV__COUNT];
int g_oom_expected;

static const char *volatile cur_test = "(none)";

/* ---- console ---------------------------------------------------------- */

static g_lock_t print_lock;

/* Best effort: a CPU that died holding the lock must not silence a FAIL. */
static unsigned long print_lock_take(void)
{
	unsigned long flags = arch_irq_save();
	unsigned long t0 = board_ticks(), lim = g_ms_ticks(2000);

	while (__atomic_exchange_n(&print_lock.v, 1, __ATOMIC_ACQUIRE)) {
		arch_cpu_relax();
		if (board_ticks() - t0 > lim)
			break;
	}
	return flags;
}

static void print_lock_drop(unsigned long flags)
{
	__atomic_store_n(&print_lock.v, 0, __ATOMIC_RELEASE);
	arch_irq_restore(flags);
}

static void put_pad(int n, char c)
{
	while (n-- > 0)
		board_putc(c);
}

static void put_num(uint64_t v, unsigned base, int neg, int width, int left,
		    char pad)
{
	char buf[24];
	int i = 0, len;

	do {
		buf[i++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	len = i + (neg ? 1 : 0);
	if (!left && pad == ' ')
		put_pad(width - len, ' ');
	if (neg)
		board_putc('-');
	if (!left && pad == '0')
		put_pad(width - len, '0');
	while (i)
		board_putc(buf[--i]);
	if (left)
		put_pad(width - len, ' ');
}

static void vformat(const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		int width = 0, left = 0, lng = 0;
		char pad = ' ';

		if (*fmt != '%') {
			board_putc(*fmt);
			continue;
		}
		fmt++;
		if (*fmt == '-') {
			left = 1;
			fmt++;
		}
		if (*fmt == '0') {
			pad = '0';
			fmt++;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l' || *fmt == 'z') {
			lng++;
			fmt++;
		}
		switch (*fmt) {
		case 'd': {
			long long v = lng ? va_arg(ap, long) : va_arg(ap, int);

			put_num(v < 0 ? -(uint64_t)v : (uint64_t)v, 10, v < 0,
				width, left, pad);
			break;
		}
		case 'u':
		case 'x': {
			uint64_t v = lng ? va_arg(ap, unsigned long)
					 : va_arg(ap, unsigned);

			put_num(v, *fmt == 'u' ? 10 : 16, 0, width, left, pad);
			break;
		}
		case 'p':
			board_puts("0x");
			put_num((uintptr_t)va_arg(ap, void *), 16, 0, width, left,
				pad);
			break;
		case 's': {
			const char *s = va_arg(ap, const char *);
			int n = 0;

			if (!s)
				s = "(null)";
			while (s[n])
				n++;
			if (!left)
				put_pad(width - n, ' ');
			board_puts(s);
			if (left)
				put_pad(width - n, ' ');
			break;
		}
		case 'c':
			board_putc((char)va_arg(ap, int));
			break;
		case '%':
			board_putc('%');
			break;
		case '\0':
			return;
		default:
			board_putc('%');
			board_putc(*fmt);
		}
	}
}

void g_printf(const char *fmt, ...)
{
	unsigned long flags = print_lock_take();
	va_list ap;

	va_start(ap, fmt);
	vformat(fmt, ap);
	va_end(ap);
	print_lock_drop(flags);
}

/* ---- the [test] protocol ----------------------------------------------- */

void g_test_begin(const char *name)
{
	cur_test = name;
	g_printf("[test] begin %s\n", name);
}

void g_test_pass(void)
{
	g_printf("[test] pass %s\n", cur_test);
}

const char *g_test_name(void)
{
	return cur_test;
}

static int failing;

void g_fail(const char *fmt, ...)
{
	unsigned long flags;
	va_list ap;

	arch_irq_save();
	/* One FAIL line: a second failing CPU waits for the exit. */
	if (__atomic_exchange_n(&failing, 1, __ATOMIC_ACQ_REL)) {
		unsigned long t0 = board_ticks();

		while (board_ticks() - t0 < g_ms_ticks(5000))
			arch_cpu_relax();
		board_exit(1);
	}
	flags = print_lock_take();
	board_puts("\n[test] FAIL ");
	board_puts(cur_test);
	board_puts(": ");
	va_start(ap, fmt);
	vformat(fmt, ap);
	va_end(ap);
	board_puts(" (cpu ");
	put_num(arch_cpu_id(), 10, 0, 0, 0, ' ');
	board_puts(")\n");
	print_lock_drop(flags);
	board_exit(1);
}

/* ---- time ----------------------------------------------------------------- */

unsigned long g_hz(void)
{
	unsigned long hz = board_tick_hz();

	return hz ? hz : 3000000000UL;
}

unsigned long g_ms_ticks(unsigned long ms)
{
	return g_hz() / 1000 * ms;
}

unsigned long g_elapsed_ms(unsigned long since)
{
	return (board_ticks() - since) / (g_hz() / 1000);
}

void g_check_deadline(unsigned long deadline, const char *what)
{
	if ((long)(board_ticks() - deadline) > 0)
		g_fail("timeout: %s", what);
}

/* ---- barrier ------------------------------------------------------------- */

#define BARRIER_TIMEOUT_MS 30000

static unsigned bar_count G_ALIGNED;
static unsigned bar_gen G_ALIGNED;

void g_barrier(const char *what)
{
	unsigned gen = __atomic_load_n(&bar_gen, __ATOMIC_ACQUIRE);
	unsigned long t0, lim;

	if (__atomic_add_fetch(&bar_count, 1, __ATOMIC_ACQ_REL) == g_ncpus) {
		__atomic_store_n(&bar_count, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&bar_gen, gen + 1, __ATOMIC_RELEASE);
		return;
	}
	t0 = board_ticks();
	lim = g_ms_ticks(BARRIER_TIMEOUT_MS);
	while (__atomic_load_n(&bar_gen, __ATOMIC_ACQUIRE) == gen) {
		/* As a kernel's idle loop would: answer what other CPUs
		 * ask of this CPU's cache (their trim, check, reclaim). */
		hak_tick();
		arch_cpu_relax();
		if (board_ticks() - t0 > lim)
			g_fail("barrier '%s' timed out: %u of %u CPUs arrived",
			       what, __atomic_load_n(&bar_count, __ATOMIC_RELAXED),
			       g_ncpus);
	}
}

/* ---- spinlock ------------------------------------------------------------ */

#define LOCK_TIMEOUT_MS 5000

unsigned long g_lock(g_lock_t *l, const char *what)
{
	unsigned long flags = arch_irq_save();
	unsigned long t0 = 0;
	unsigned spins = 0;

	while (__atomic_exchange_n(&l->v, 1, __ATOMIC_ACQUIRE)) {
		do {
			arch_cpu_relax();
			if ((++spins & 1023) == 0) {
				if (!t0)
					t0 = board_ticks();
				else if (board_ticks() - t0 >
					 g_ms_ticks(LOCK_TIMEOUT_MS))
					g_fail("lock '%s' held too long", what);
			}
		} while (__atomic_load_n(&l->v, __ATOMIC_RELAXED));
	}
	return flags;
}

void g_unlock(g_lock_t *l, unsigned long flags)
{
	__atomic_store_n(&l->v, 0, __ATOMIC_RELEASE);
	arch_irq_restore(flags);
}

/* ---- sizes ---------------------------------------------------------------- */

/* Class boundaries worth hitting (hakmem's classes; the test does not
 * depend on them being exact, only exercises the edges). */
static const uint32_t edge_tiny[] = { 0,   1,	15,  16,  17,  48,  64,
				      128, 129, 256, 257, 512, 513, 1023,
				      1024 };
static const uint32_t edge_pool[] = { 1025,  1280,  1281,  2048,  4095,
				      4096,  4097,  8192,  16383, 16384,
				      16385, 24576, 32767, 32768 };

size_t g_size_tiny(uint64_t *r)
{
	uint64_t x = g_rand(r);

	if ((x & 7) == 0)
		return edge_tiny[(x >> 8) % (sizeof(edge_tiny) / sizeof(edge_tiny[0]))];
	/* Small sizes are the common case: bias toward them. */
	if ((x & 0x30) != 0x30)
		return (size_t)((x >> 8) % 257);
	return (size_t)((x >> 8) % 1025);
}

size_t g_size_pool(uint64_t *r)
{
	uint64_t x = g_rand(r);

	if ((x & 7) == 0)
		return edge_pool[(x >> 8) % (sizeof(edge_pool) / sizeof(edge_pool[0]))];
	if ((x & 0x30) != 0x30)
		return 1025 + (size_t)((x >> 8) % (8192 - 1024));
	return 1025 + (size_t)((x >> 8) % (32768 - 1024));
}

size_t g_size_large(uint64_t *r, size_t large_max)
{
	uint64_t x = g_rand(r);

	if (large_max <= 32769)
		return 32769;
	if ((x & 7) == 0)
		return 32769;
	return 32769 + (size_t)((x >> 8) % (large_max - 32768));
}

size_t g_size_mix(uint64_t *r, unsigned tiny_pct, unsigned large_pct,
		  size_t large_max)
{
	unsigned x = (unsigned)(g_rand(r) % 100);

	if (x < tiny_pct)
		return g_size_tiny(r);
	if (x < tiny_pct + large_pct)
		return g_size_large(r, large_max);
	return g_size_pool(r);
}

/* ---- patterned blocks ---------------------------------------------------- */

static inline uint64_t pat_word(uint64_t seed, size_t i)
{
	return seed ^ ((uint64_t)(i + 1) * 0x9e3779b97f4a7c15ULL);
}

/* Byte o of a block is byte o % 8 (little-endian) of word o / 8, so any
 * prefix can be checked, whatever length the block had when filled. */
static inline uint8_t pat_byte(uint64_t seed, size_t o)
{
	return (uint8_t)(pat_word(seed, o / 8) >> ((o & 7) * 8));
}

/* The pattern covers the whole usable size, not just the request: bytes
 * hakmem says are usable must really be ours alone. */
void g_fill(const struct g_blk *b)
{
	uint64_t *w = b->p;
	size_t n = b->usable / 8, i;
	uint8_t *t = b->p;

	for (i = 0; i < n; i++)
		w[i] = pat_word(b->seed, i);
	for (i = n * 8; i < b->usable; i++)
		t[i] = pat_byte(b->seed, i);
}

void g_verify(const struct g_blk *b, size_t len, const char *when)
{
	const uint64_t *w = b->p;
	size_t n = len / 8, i;
	const uint8_t *t = b->p;

	for (i = 0; i < n; i++)
		if (w[i] != pat_word(b->seed, i))
			g_fail("%s: block %p (size %u, usable %u) corrupted at "
			       "offset %lu: %lx, want %lx",
			       when, b->p, b->size, b->usable,
			       (unsigned long)(i * 8), (unsigned long)w[i],
			       (unsigned long)pat_word(b->seed, i));
	for (i = n * 8; i < len; i++)
		if (t[i] != pat_byte(b->seed, i))
			g_fail("%s: block %p (size %u) corrupted at offset %lu",
			       when, b->p, b->size, (unsigned long)i);
}

unsigned g_tier(size_t usable)
{
	if (usable <= 1024)
		return G_TINY;
	if (usable <= 32768)
		return G_POOL;
	return G_LARGE;
}

size_t g_acct_bytes(const void *p)
{
#if HAK_DEBUG
	return peek_block_bytes(p);
#else
	return hak_usable_size(p);
#endif
}

const char *g_tier_name(unsigned tier)
{
	static const char *const names[G_NTIERS] = { "tiny", "pool", "large" };

	return tier < G_NTIERS ? names[tier] : "?";
}

static void check_block(const struct g_blk *b, size_t align)
{
	uintptr_t a = (uintptr_t)b->p;
	size_t natural;

	/* HAK_MIN_ALIGN, but a request of at most 8 bytes asked at most
	 * 8-aligned: the 8-byte class (include/hakmem.h). */
	size_t min = b->size <= 8 && align <= 8 ? 8 : HAK_MIN_ALIGN;

	if (a & (min - 1))
		g_fail("block %p for %u bytes not %lu-aligned", b->p, b->size,
		       (unsigned long)min);
	if (align && (a & (align - 1)))
		g_fail("aligned_alloc(%lu, %u) returned %p",
		       (unsigned long)align, b->size, b->p);
#if HAK_DEBUG
	/* Debug build: usable size is the request, and the user pointer sits
	 * 48 bytes (the header) into its block: only HAK_MIN_ALIGN and the
	 * requested alignment hold. */
	if (b->usable != b->size)
		g_fail("debug block %p: usable %u, request %u", b->p, b->usable,
		       b->size);
	if (b->acct < b->size + 49)
		g_fail("debug block %p: request %u in a block of %u", b->p,
		       b->size, b->acct);
	(void)natural;
	return;
#endif
	if (b->usable < b->size || b->usable < min)
		g_fail("block %p: usable %u < request %u", b->p, b->usable,
		       b->size);
	/* The documented natural alignment of classes and page runs. */
	if (b->usable > 32768)
		natural = 4096;
	else
		natural = b->usable & -(size_t)b->usable;
	if (natural > 4096)
		natural = 4096;
	if (a & (natural - 1))
		g_fail("block %p of class %u not aligned to %lu", b->p,
		       b->usable, (unsigned long)natural);
}

int g_alloc_heap(struct hak_heap *h, struct g_blk *b, size_t size,
		 enum g_how how, size_t align, uint64_t seed, int ctx)
{
	struct g_acct *ac = &g_acct[g_cpu()][ctx];
	void *p;

	switch (how) {
	case G_CALLOC:
		/* Both argument orders: nmemb * size is what counts. */
		if (h)
			p = (seed & 1) ? hak_heap_calloc(h, size, 1)
				       : hak_heap_calloc(h, 1, size);
		else
			p = (seed & 1) ? hak_calloc(size, 1)
				       : hak_calloc(1, size);
		break;
	case G_ALIGNED_ALLOC:
		p = h ? hak_heap_aligned_alloc(h, align, size)
		      : hak_aligned_alloc(align, size);
		break;
	default:
		p = h ? hak_heap_malloc(h, size) : hak_malloc(size);
		align = 0;
		break;
	}
	b->p = p;
	if (!p)
		return -1;
	b->size = (uint32_t)size;
	b->usable = (uint32_t)hak_usable_size(p);
	b->acct = (uint32_t)g_acct_bytes(p);
	b->seed = seed ^ (uintptr_t)p;
	check_block(b, how == G_ALIGNED_ALLOC ? align : 0);
	if (how == G_CALLOC) {
		const uint8_t *c = p;
		size_t i;

		for (i = 0; i < size; i++)
			if (c[i])
				g_fail("calloc(%lu) block %p not zero at %lu",
				       (unsigned long)size, p, (unsigned long)i);
	}
	g_fill(b);
	ac->allocs[g_tier(b->acct)]++;
	ac->bytes_filled += b->usable;
	return 0;
}

int g_alloc(struct g_blk *b, size_t size, enum g_how how, size_t align,
	    uint64_t seed, int ctx)
{
	return g_alloc_heap(NULL, b, size, how, align, seed, ctx);
}

void g_free(struct g_blk *b, int ctx)
{
	struct g_acct *ac = &g_acct[g_cpu()][ctx];

	g_verify(b, b->usable, "before free");
	ac->frees[g_tier(b->acct)]++;
	hak_free(b->p);
	b->p = NULL;
}

void g_realloc(struct g_blk *b, size_t new_size, uint64_t seed, int ctx)
{
	struct g_acct *ac = &g_acct[g_cpu()][ctx];
	struct g_blk n;
	size_t keep = b->size < new_size ? b->size : new_size;

	g_verify(b, b->usable, "before realloc");
	n.p = hak_realloc(b->p, new_size);
	if (!n.p)
		g_fail("realloc(%p, %lu) failed", b->p, (unsigned long)new_size);
	n.size = (uint32_t)new_size;
	n.usable = (uint32_t)hak_usable_size(n.p);
	n.acct = (uint32_t)g_acct_bytes(n.p);
	n.seed = b->seed;
	g_verify(&n, keep, "after realloc");
	check_block(&n, 0);
	if (n.p != b->p) {
		ac->frees[g_tier(b->acct)]++;
		ac->allocs[g_tier(n.acct)]++;
	} else if (n.usable != b->usable) {
		g_fail("realloc in place changed usable size %u -> %u",
		       b->usable, n.usable);
	}
	n.seed = seed ^ (uintptr_t)n.p;
	g_fill(&n);
	ac->bytes_filled += n.usable;
	*b = n;
}

void g_acct_sum(struct g_acct *out)
{
	unsigned c, x, t;

	for (t = 0; t < G_NTIERS; t++)
		out->allocs[t] = out->frees[t] = 0;
	out->cross_sent = out->cross_freed = out->bytes_filled = 0;
	for (c = 0; c < G_MAX_CPUS; c++)
		for (x = 0; x < G_NCTX; x++) {
			const struct g_acct *a = &g_acct[c][x];

			for (t = 0; t < G_NTIERS; t++) {
				out->allocs[t] += a->allocs[t];
				out->frees[t] += a->frees[t];
			}
			out->cross_sent += a->cross_sent;
			out->cross_freed += a->cross_freed;
			out->bytes_filled += a->bytes_filled;
		}
}

void g_acct_reset(void)
{
	unsigned c, x, t;

	for (c = 0; c < G_MAX_CPUS; c++)
		for (x = 0; x < G_NCTX; x++) {
			struct g_acct *a = &g_acct[c][x];

			for (t = 0; t < G_NTIERS; t++)
				a->allocs[t] = a->frees[t] = 0;
			a->cross_sent = a->cross_freed = a->bytes_filled = 0;
		}
}

/* ---- mailboxes ------------------------------------------------------------ */

struct mbox {
	g_lock_t lock;
	unsigned head, tail; /* tail - head = queued */
	struct g_blk slot[G_MBOX_SLOTS];
} G_ALIGNED;

static struct mbox mbox[G_MAX_CPUS];

int g_mbox_send(unsigned to, const struct g_blk *b)
{
	struct mbox *m = &mbox[to];
	unsigned long flags = g_lock(&m->lock, "mailbox");
	int ok = 0;

	if (m->tail - m->head < G_MBOX_SLOTS) {
		m->slot[m->tail % G_MBOX_SLOTS] = *b;
		m->tail++;
		ok = 1;
	}
	g_unlock(&m->lock, flags);
	return ok;
}

int g_mbox_recv(struct g_blk *out)
{
	struct mbox *m = &mbox[g_cpu()];
	unsigned long flags = g_lock(&m->lock, "mailbox");
	int ok = 0;

	if (m->tail != m->head) {
		*out = m->slot[m->head % G_MBOX_SLOTS];
		m->head++;
		ok = 1;
	}
	g_unlock(&m->lock, flags);
	return ok;
}

unsigned g_mbox_drain(int ctx)
{
	struct g_blk b;
	unsigned n = 0;

	while (n < 4 * G_MBOX_SLOTS && g_mbox_recv(&b)) {
		g_free(&b, ctx);
		g_acct[g_cpu()][ctx].cross_freed++;
		n++;
	}
	return n;
}

/* ---- report hook ---------------------------------------------------------- */

static int unexpected_claimed;
static struct {
	int ev;
	const char *what;
	const void *ptr;
	unsigned cpu;
} unexpected;

struct hak_report g_last_report;

void g_report_hook(const struct hak_report *r, void *ctx)
{
	(void)ctx;
	g_last_report = *r;
	if ((unsigned)r->event < HAK_EV__COUNT)
		__atomic_fetch_add(&g_events[r->event], 1, __ATOMIC_RELAXED);
	if (r->event == HAK_EV_OUT_OF_MEMORY &&
	    __atomic_load_n(&g_oom_expected, __ATOMIC_RELAXED))
		return;
	if (__atomic_exchange_n(&unexpected_claimed, 1, __ATOMIC_ACQ_REL))
		return;
	unexpected.what = r->what;
	unexpected.ptr = r->ptr;
	unexpected.cpu = r->cpu;
	__atomic_store_n(&unexpected.ev, (int)r->event, __ATOMIC_RELEASE);
}

int g_unexpected_event(const char **what, const void **ptr, unsigned *cpu)
{
	int ev = __atomic_load_n(&unexpected.ev, __ATOMIC_ACQUIRE);

	if (ev) {
		*what = unexpected.what;
		*ptr = unexpected.ptr;
		*cpu = unexpected.cpu;
	}
	return ev;
}

void g_clear_unexpected(void)
{
	__atomic_store_n(&unexpected.ev, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&unexpected_claimed, 0, __ATOMIC_RELEASE);
}

/* ---- heap ------------------------------------------------------------------ */

size_t g_heap_bytes(void)
{
	return (size_t)(__heap_end - __heap_start);
}

/* hakmem's panic hook: a FAIL line that carries hakmem's message, which
 * the must-fail images' runner checks. */
static void g_panic_hook(const char *msg)
{
	g_fail("hakmem panic: %s", msg);
}

/* hakmem over [__heap_start, __heap_start + bytes) with g_ncpus CPUs. */
static void heap_init(size_t bytes,
		     void (*report)(const struct hak_report *, void *))
{
	struct hak_config cfg = { 0 };

	g_ncpus = board_ncpus();
	if (g_ncpus < 1 || g_ncpus > G_MAX_CPUS)
		g_fail("board reports %u CPUs", g_ncpus);
	if (hak_region_provider(__heap_start, bytes, &cfg.provider))
		g_fail("hak_region_provider(%p, %lu) failed", __heap_start,
		       (unsigned long)bytes);
	cfg.ncpus = g_ncpus;
	cfg.report = report;
	cfg.panic = g_panic_hook;
	/* Every waiting CPU here answers from hak_tick, but under TCG on a
	 * loaded host a vCPU can stall for a long time: a bound of seconds. */
	cfg.remote_wait = 1UL << 26;
	if (hak_init(&cfg))
		g_fail("hak_init over %p, %lu bytes, %u CPUs failed",
		       __heap_start, (unsigned long)bytes, g_ncpus);
}

void g_heap_init(void)
{
	heap_init(g_heap_bytes(), g_report_hook);
}

void g_heap_init_part(size_t bytes,
		      void (*report)(const struct hak_report *, void *))
{
	if (!bytes || bytes > g_heap_bytes())
		g_fail("default heap of %lu bytes in a %lu-byte board heap",
		       (unsigned long)bytes, (unsigned long)g_heap_bytes());
	heap_init(bytes, report ? report : g_report_hook);
}
