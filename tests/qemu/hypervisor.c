// SPDX-License-Identifier: MIT
/*
 * hypervisor.c - hakmem shaped like a hypervisor's memory: the board's heap
 * is split between the default heap (the hypervisor's own) and four VMs,
 * each a heap (hak_heap_create) over its own sub-region through the
 * region provider, wrapped in a provider that counts what the heap holds,
 * with its own byte limit, name, report sink and object cache.
 *
 * Every CPU allocates for every VM and for the default heap, in threads
 * and in its timer IRQ handler, frees blocks other CPUs hand it (per-heap
 * mailboxes, drained by threads and IRQ handlers alike), uses each VM's
 * object cache, and now and then trims or checks one heap under load
 * (hak_heap_trim; hak_heap_check must find 0 violations). Phases, each
 * ended by a barrier and checked on CPU 0 (hak_check, hak_heap_check of
 * every VM, the provider's own books, no unexpected report):
 *   mixed      everything on every heap
 *   limit      vm1 is driven to its limit by every CPU at once: NULL with
 *              an out-of-memory report naming it, never more held than
 *              the limit; after the frees half the limit fits again
 *   resume     everything again, vm1 included
 *   teardown   vm3 is killed: every CPU stops using it (barrier), CPU 0
 *              destroys it with HAK_HEAP_DESTROY_FORCE, blocks still
 *              live, while the others keep working on the other heaps
 *              (CPU 1 trimming and checking them); its whole sub-region
 *              must be back in its provider, and a free of an old block
 *              must be one invalid-free report
 *   survivors  everything on the heaps left
 *   cleanup    every block freed; the caches and the VMs left destroyed
 *              clean (no live block, every byte back)
 * CPU 0 prints each heap's stats before and after the teardown.
 * Follows the [test] protocol (tests/qemu/run-image.sh).
 */
#include "guest.h"

#define NVM 4
#define HV_DEFAULT NVM /* heap index of the default heap */
#define HV_HEAPS (NVM + 1)
#define HV_ALL ((1u << HV_HEAPS) - 1)
#define HV_MAX_CPUS 8
#define HV_LIMIT_VM 1
#define HV_KILL_VM 3

#define MIB ((size_t)1 << 20)
#define HV_DEFAULT_BYTES (16 * MIB)
#define HV_VM_BYTES (12 * MIB)

#define HV_OPS 6000		/* thread operations per CPU and phase */
#define HV_SLOTS 24		/* live blocks per CPU and heap (thread) */
#define HV_OBJS 12		/* live cache objects per CPU and VM */
#define HV_IRQ_SLOTS 3
#define HV_IRQ_OBJS 2
#define HV_BOX_SLOTS 16
#define HV_LIM_SLOTS 2048	/* blocks one CPU may hold in the limit phase */
#define HV_IRQ_PERIOD_US 500
#define HV_SEND_PCT 30
#define HV_DEADLINE_MS 30000
#define HV_WHAT 112

struct vm {
	char name[8];
	char *base;
	size_t size, limit, obj_size;
	struct hak_page_provider region;
	struct hak_heap *h;
	struct hak_cache *cache;
	/* The counting provider's books. Its calls are serialised by the
	 * heap's lock; other CPUs read them, hence the atomics. */
	uint64_t held, peak, runs;
	/* The report sink. */
	g_lock_t lock;
	uint64_t events[HAK_EV__COUNT];
	int oom_ok; /* out-of-memory reports expected (the limit phase) */
	uint64_t oom_cpu[HV_MAX_CPUS];
	char oom_what[HV_MAX_CPUS][HV_WHAT];
	int bad_ev; /* the first unexpected report */
	const void *bad_ptr;
	char bad_what[HV_WHAT];
};

static const size_t vm_limit_mib[NVM] = { 10, 8, 10, 11 };
static const size_t vm_obj_size[NVM] = { 48, 96, 200, 640 };
static struct vm vms[NVM];

struct hv_cpu {
	uint64_t rng, ops;
	struct g_blk slot[HV_HEAPS][HV_SLOTS];
	struct g_blk obj[NVM][HV_OBJS];
	struct g_blk lim[HV_LIM_SLOTS];
	unsigned nlim;
	uint64_t obj_allocs[G_NCTX], obj_frees[G_NCTX];
	/* IRQ context */
	uint64_t irq_rng, ticks;
	struct g_blk irq_slot[HV_HEAPS][HV_IRQ_SLOTS];
	struct g_blk irq_obj[NVM][HV_IRQ_OBJS];
} G_ALIGNED;

static struct hv_cpu hc[HV_MAX_CPUS];

/* A block handed to another CPU: obj says it is a cache object. */
struct hv_item {
	struct g_blk b;
	int obj;
};

struct hv_box {
	g_lock_t lock;
	unsigned head, tail; /* tail - head = queued */
	struct hv_item it[HV_BOX_SLOTS];
} G_ALIGNED;

static struct hv_box box[HV_MAX_CPUS][HV_HEAPS];

/* Heaps the IRQ handlers may use now; set by CPU 0 between barriers,
 * while every CPU runs with IRQs masked. */
static unsigned irq_mask;
/* Heaps still alive: a killed VM's blocks are never touched again. */
static unsigned live_mask = HV_ALL;
static int teardown_done;
static unsigned hk_during; /* CPU 1's trims and checks during the destroy */
static unsigned long deadline;

/* The old blocks of the killed VM that are freed after its destroy. */
static struct g_blk old_small, old_large, old_obj;

/* ---- strings ------------------------------------------------------------- */

static void copy_str(char *dst, size_t n, const char *src)
{
	size_t i = 0;

	for (; src && src[i] && i + 1 < n; i++)
		dst[i] = src[i];
	dst[i] = '\0';
}

static int contains(const char *hay, const char *needle)
{
	size_t i, j;

	for (i = 0; hay[i]; i++) {
		for (j = 0; needle[j] && hay[i + j] == needle[j]; j++)
			;
		if (!needle[j])
			return 1;
	}
	return 0;
}

/* ---- reports ------------------------------------------------------------- */

/* The one invalid free the teardown expects, and what it saw. */
static const void *expect_ptr;
static uint64_t expected_seen;
static char expected_what[HV_WHAT];

static int hv_expected(const struct hak_report *r)
{
	const void *want = __atomic_load_n(&expect_ptr, __ATOMIC_ACQUIRE);

	if (r->event != HAK_EV_INVALID_FREE || !want || r->ptr != want)
		return 0;
	if (!__atomic_compare_exchange_n(&expect_ptr, &want, NULL, 0,
					 __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
		return 0;
	copy_str(expected_what, sizeof(expected_what), r->what);
	__atomic_fetch_add(&expected_seen, 1, __ATOMIC_RELEASE);
	return 1;
}

/* The default heap's sink: guest.c's, except for the expected free. */
static void hv_default_report(const struct hak_report *r, void *ctx)
{
	if (!hv_expected(r))
		g_report_hook(r, ctx);
}

/* A VM's sink. r->what lives only during the call: copied. */
static void hv_vm_report(const struct hak_report *r, void *ctx)
{
	struct vm *v = ctx;
	unsigned cpu = g_cpu();
	unsigned long flags;

	if (hv_expected(r))
		return;
	flags = g_lock(&v->lock, "vm report");
	if ((unsigned)r->event < HAK_EV__COUNT)
		__atomic_fetch_add(&v->events[r->event], 1, __ATOMIC_RELAXED);
	if (r->event == HAK_EV_OUT_OF_MEMORY &&
	    __atomic_load_n(&v->oom_ok, __ATOMIC_RELAXED) &&
	    cpu < HV_MAX_CPUS) {
		copy_str(v->oom_what[cpu], HV_WHAT, r->what);
		__atomic_fetch_add(&v->oom_cpu[cpu], 1, __ATOMIC_RELEASE);
	} else if (!v->bad_ev) {
		v->bad_ev = (int)r->event;
		v->bad_ptr = r->ptr;
		copy_str(v->bad_what, HV_WHAT, r->what);
	}
	g_unlock(&v->lock, flags);
}

/* Every report any sink took, expected ones included. */
static uint64_t events_total(void)
{
	uint64_t n = __atomic_load_n(&expected_seen, __ATOMIC_ACQUIRE);
	unsigned i, k;

	for (k = 0; k < HAK_EV__COUNT; k++) {
		n += __atomic_load_n(&g_events[k], __ATOMIC_RELAXED);
		for (i = 0; i < NVM; i++)
			n += __atomic_load_n(&vms[i].events[k],
					     __ATOMIC_RELAXED);
	}
	return n;
}

static void check_no_unexpected(const char *when)
{
	const char *what;
	const void *ptr;
	unsigned cpu, i;
	int ev = g_unexpected_event(&what, &ptr, &cpu);

	if (ev)
		g_fail("%s: unexpected report to the default heap's sink: %s "
		       "(%s, %p, cpu %u)", when,
		       hak_event_name((enum hak_event)ev), what, ptr, cpu);
	for (i = 0; i < NVM; i++)
		if (__atomic_load_n(&vms[i].bad_ev, __ATOMIC_ACQUIRE))
			g_fail("%s: unexpected report to %s's sink: %s "
			       "(%s, %p)", when, vms[i].name,
			       hak_event_name((enum hak_event)vms[i].bad_ev),
			       vms[i].bad_what, vms[i].bad_ptr);
}

/* ---- the counting provider ----------------------------------------------- */

static void *vm_palloc(void *ctx, size_t bytes, size_t align)
{
	struct vm *v = ctx;
	void *p = v->region.alloc(v->region.ctx, bytes, align);
	uint64_t held;

	if (!p)
		return NULL;
	if ((char *)p < v->base || (char *)p + bytes > v->base + v->size)
		g_fail("%s: provider run %p+%lu outside its region", v->name, p,
		       (unsigned long)bytes);
	held = __atomic_add_fetch(&v->held, bytes, __ATOMIC_RELAXED);
	__atomic_add_fetch(&v->runs, 1, __ATOMIC_RELAXED);
	if (held > v->limit)
		g_fail("%s holds %lu bytes, above its limit %lu", v->name,
		       (unsigned long)held, (unsigned long)v->limit);
	if (held > __atomic_load_n(&v->peak, __ATOMIC_RELAXED))
		__atomic_store_n(&v->peak, held, __ATOMIC_RELAXED);
	return p;
}

static void vm_prelease(void *ctx, void *p, size_t bytes)
{
	struct vm *v = ctx;

	__atomic_sub_fetch(&v->held, bytes, __ATOMIC_RELAXED);
	__atomic_sub_fetch(&v->runs, 1, __ATOMIC_RELAXED);
	v->region.release(v->region.ctx, p, bytes);
}

/* The whole sub-region is free iff one run can cover all of it. */
static int region_all_free(struct vm *v)
{
	void *p = v->region.alloc(v->region.ctx, v->region.span_size, 4096);

	if (!p)
		return 0;
	v->region.release(v->region.ctx, p, v->region.span_size);
	return p == (void *)v->region.span_base;
}

static void vm_create(unsigned i)
{
	struct vm *v = &vms[i];
	struct hak_heap_config cfg = { 0 };
	char cname[16];

	copy_str(v->name, sizeof(v->name), "vm0");
	v->name[2] = (char)('0' + i);
	v->base = __heap_start + HV_DEFAULT_BYTES + i * HV_VM_BYTES;
	v->size = HV_VM_BYTES;
	v->limit = vm_limit_mib[i] * MIB;
	v->obj_size = vm_obj_size[i];
	if (hak_region_provider(v->base, v->size, &v->region))
		g_fail("%s: hak_region_provider failed", v->name);
	cfg.name = v->name;
	cfg.provider.alloc = vm_palloc;
	cfg.provider.release = vm_prelease;
	cfg.provider.ctx = v;
	cfg.limit = v->limit;
	cfg.report = hv_vm_report;
	cfg.report_ctx = v;
	v->h = hak_heap_create(&cfg);
	if (!v->h)
		g_fail("hak_heap_create(%s) failed", v->name);
	copy_str(cname, sizeof(cname), v->name);
	copy_str(cname + 3, sizeof(cname) - 3, "-obj");
	v->cache = hak_cache_create(v->h, cname, v->obj_size, 0, 0, NULL,
				    NULL);
	if (!v->cache)
		g_fail("hak_cache_create on %s failed", v->name);
}

/* ---- blocks -------------------------------------------------------------- */

static struct hak_heap *heap_of(unsigned hi)
{
	return hi == HV_DEFAULT ? NULL : vms[hi].h;
}

static const char *heap_name(unsigned hi)
{
	return hi == HV_DEFAULT ? "default" : vms[hi].name;
}

/* Every block of a heap lies inside that heap's part of the board heap. */
static void check_region(unsigned hi, const struct g_blk *b)
{
	const char *lo = hi == HV_DEFAULT ? __heap_start : vms[hi].base;
	size_t n = hi == HV_DEFAULT ? HV_DEFAULT_BYTES : vms[hi].size;
	const char *p = b->p;

	if (p < lo || p + b->usable > lo + n)
		g_fail("%s block %p (%u bytes) outside its region %p+%lu",
		       heap_name(hi), b->p, b->usable, lo, (unsigned long)n);
}

/* A random heap of mask (never 0); no popcount: no libgcc here. */
static unsigned pick(uint64_t *r, unsigned mask)
{
	unsigned n = 0, k, i;

	for (i = 0; i < HV_HEAPS; i++)
		n += (mask >> i) & 1;
	k = (unsigned)(g_rand(r) % n);
	for (i = 0;; i++)
		if ((mask >> i) & 1 && !k--)
			return i;
}

static void blk_alloc(unsigned hi, struct g_blk *b, size_t size,
		      uint64_t *r, int ctx)
{
	unsigned x = (unsigned)(g_rand(r) % 10);
	size_t align = (size_t)64 << (g_rand(r) % 7);
	enum g_how how = G_MALLOC;

	if (x == 0)
		how = G_CALLOC;
	else if (x == 1)
		how = G_ALIGNED_ALLOC;
	if (g_alloc_heap(heap_of(hi), b, size, how, align, g_rand(r), ctx))
		g_fail("%s: allocation of %lu bytes failed%s", heap_name(hi),
		       (unsigned long)size, ctx == G_CTX_IRQ ? " (IRQ)" : "");
	check_region(hi, b);
}

static void obj_alloc(unsigned vi, struct g_blk *b, uint64_t *r, int ctx)
{
	struct vm *v = &vms[vi];

	b->p = hak_cache_alloc(v->cache);
	if (!b->p)
		g_fail("%s: cache allocation failed%s", v->name,
		       ctx == G_CTX_IRQ ? " (IRQ)" : "");
	b->size = b->usable = b->acct = (uint32_t)v->obj_size;
	b->seed = g_rand(r) ^ (uintptr_t)b->p;
	if (((uintptr_t)b->p & (HAK_MIN_ALIGN - 1)) ||
	    hak_usable_size(b->p) < v->obj_size)
		g_fail("%s: cache object %p misaligned or short (%lu)", v->name,
		       b->p, (unsigned long)hak_usable_size(b->p));
	check_region(vi, b);
	g_fill(b);
	hc[g_cpu()].obj_allocs[ctx]++;
}

static void obj_free(unsigned vi, struct g_blk *b, int ctx)
{
	g_verify(b, b->usable, "cache object before free");
	hak_cache_free(vms[vi].cache, b->p);
	b->p = NULL;
	hc[g_cpu()].obj_frees[ctx]++;
}

static void item_free(unsigned hi, struct g_blk *b, int obj, int ctx)
{
	if (obj)
		obj_free(hi, b, ctx);
	else
		g_free(b, ctx);
}

/* ---- mailboxes ----------------------------------------------------------- */

static int box_send(unsigned to, unsigned hi, const struct g_blk *b, int obj)
{
	struct hv_box *m = &box[to][hi];
	unsigned long flags = g_lock(&m->lock, "hv box");
	int ok = 0;

	if (m->tail - m->head < HV_BOX_SLOTS) {
		m->it[m->tail % HV_BOX_SLOTS].b = *b;
		m->it[m->tail % HV_BOX_SLOTS].obj = obj;
		m->tail++;
		ok = 1;
	}
	g_unlock(&m->lock, flags);
	return ok;
}

static int box_recv(unsigned hi, struct hv_item *out)
{
	struct hv_box *m = &box[g_cpu()][hi];
	unsigned long flags = g_lock(&m->lock, "hv box");
	int ok = 0;

	if (m->tail != m->head) {
		*out = m->it[m->head % HV_BOX_SLOTS];
		m->head++;
		ok = 1;
	}
	g_unlock(&m->lock, flags);
	return ok;
}

/* Frees up to max blocks other CPUs sent us, of the heaps in mask. */
static unsigned box_drain(unsigned mask, int ctx, unsigned max)
{
	struct hv_item it;
	unsigned hi, n = 0;

	for (hi = 0; hi < HV_HEAPS; hi++)
		while ((mask >> hi) & 1 && n < max && box_recv(hi, &it)) {
			item_free(hi, &it.b, it.obj, ctx);
			g_acct[g_cpu()][ctx].cross_freed++;
			n++;
		}
	return n;
}

/* Free b here, or hand it to another CPU to free. */
static void release(unsigned hi, struct g_blk *b, int obj, uint64_t *r,
		    int ctx)
{
	unsigned cpu = g_cpu(), to;

	if (g_ncpus > 1 && g_rand(r) % 100 < HV_SEND_PCT) {
		to = cpu + 1 + (unsigned)(g_rand(r) % (g_ncpus - 1));
		to %= g_ncpus;
		if (box_send(to, hi, b, obj)) {
			g_acct[cpu][ctx].cross_sent++;
			b->p = NULL;
			return;
		}
	}
	item_free(hi, b, obj, ctx);
}

/* ---- the workload -------------------------------------------------------- */

static void hv_op(unsigned cpu, unsigned mask)
{
	struct hv_cpu *d = &hc[cpu];
	unsigned hi = pick(&d->rng, mask);
	unsigned x = (unsigned)(g_rand(&d->rng) % 100);
	struct g_blk *b;

	__atomic_store_n(&d->ops, d->ops + 1, __ATOMIC_RELAXED);
	if (hi < NVM && x < 25) {
		b = &d->obj[hi][g_rand(&d->rng) % HV_OBJS];
		if (!b->p)
			obj_alloc(hi, b, &d->rng, G_CTX_THREAD);
		else
			release(hi, b, 1, &d->rng, G_CTX_THREAD);
		return;
	}
	b = &d->slot[hi][g_rand(&d->rng) % HV_SLOTS];
	if (!b->p) {
		blk_alloc(hi, b, g_size_mix(&d->rng, 55, 5, 160 * 1024),
			  &d->rng, G_CTX_THREAD);
	} else if (x < 33) {
		/* Not 0: realloc(p, 0) frees. */
		g_realloc(b, 1 + g_size_mix(&d->rng, 60, 3, 96 * 1024),
			  g_rand(&d->rng), G_CTX_THREAD);
		check_region(hi, b);
	} else {
		release(hi, b, 0, &d->rng, G_CTX_THREAD);
	}
}

static void hv_tick(unsigned cpu)
{
	struct hv_cpu *d = &hc[cpu];
	unsigned mask = __atomic_load_n(&irq_mask, __ATOMIC_ACQUIRE);
	unsigned hi, x;
	struct g_blk *b;

	d->ticks++;
	/* As a kernel's timer would: answer other CPUs' trim, check and
	 * reclaim requests. */
	hak_tick();
	if (!mask)
		return;
	x = (unsigned)(g_rand(&d->irq_rng) % 100);
	if (x < 15) {
		box_drain(mask, G_CTX_IRQ, 4);
		return;
	}
	hi = pick(&d->irq_rng, mask);
	if (hi < NVM && x < 45) {
		b = &d->irq_obj[hi][g_rand(&d->irq_rng) % HV_IRQ_OBJS];
		if (!b->p)
			obj_alloc(hi, b, &d->irq_rng, G_CTX_IRQ);
		else
			release(hi, b, 1, &d->irq_rng, G_CTX_IRQ);
		return;
	}
	b = &d->irq_slot[hi][g_rand(&d->irq_rng) % HV_IRQ_SLOTS];
	if (!b->p)
		blk_alloc(hi, b, g_size_mix(&d->irq_rng, 60, 5, 64 * 1024),
			  &d->irq_rng, G_CTX_IRQ);
	else
		release(hi, b, 0, &d->irq_rng, G_CTX_IRQ);
}

/* What a hypervisor's housekeeping does while every CPU works: trim or
 * check one heap of mask (the check must pass under load too). */
static void housekeeping(unsigned cpu, unsigned mask, unsigned n)
{
	unsigned hi = pick(&hc[cpu].rng, mask);
	struct hak_heap *h = hi == HV_DEFAULT ? hak_heap_default()
					      : vms[hi].h;
	int bad;

	if (n & 1) {
		hak_heap_trim(h);
		return;
	}
	bad = hak_heap_check(h);
	if (bad)
		g_fail("hak_heap_check(%s) = %d under load", heap_name(hi),
		       bad);
}

static void work(unsigned cpu, unsigned mask, unsigned ops, const int *until)
{
	unsigned i;

	for (i = 0; i < ops || (until && !__atomic_load_n(until,
							   __ATOMIC_ACQUIRE));
	     i++) {
		hv_op(cpu, mask);
		if ((i & 7) == 0) {
			box_drain(mask, G_CTX_THREAD, 8);
			g_check_deadline(deadline, "hypervisor workload");
		}
		if ((i & 1023) == 1023)
			housekeeping(cpu, mask, i >> 10);
	}
}

/* Frees this CPU's blocks of the heaps in mask, thread and IRQ slots
 * (IRQs must be masked), here. */
static void free_mine(unsigned cpu, unsigned mask)
{
	struct hv_cpu *d = &hc[cpu];
	unsigned hi, i;

	for (hi = 0; hi < HV_HEAPS; hi++) {
		if (!((mask >> hi) & 1))
			continue;
		for (i = 0; i < HV_SLOTS; i++)
			if (d->slot[hi][i].p)
				g_free(&d->slot[hi][i], G_CTX_THREAD);
		for (i = 0; i < HV_IRQ_SLOTS; i++)
			if (d->irq_slot[hi][i].p)
				g_free(&d->irq_slot[hi][i], G_CTX_THREAD);
		if (hi == HV_DEFAULT)
			continue;
		for (i = 0; i < HV_OBJS; i++)
			if (d->obj[hi][i].p)
				obj_free(hi, &d->obj[hi][i], G_CTX_THREAD);
		for (i = 0; i < HV_IRQ_OBJS; i++)
			if (d->irq_obj[hi][i].p)
				obj_free(hi, &d->irq_obj[hi][i], G_CTX_THREAD);
	}
}

/* ---- stats --------------------------------------------------------------- */

static unsigned long kib(uint64_t v)
{
	return (unsigned long)(v >> 10);
}

static void print_events(const struct hak_stats *st)
{
	unsigned k, any = 0;

	g_printf("          events:");
	for (k = 1; k < HAK_EV__COUNT; k++)
		if (st->events[k]) {
			g_printf("%s %lu %s", any ? "," : "",
				 (unsigned long)st->events[k],
				 hak_event_name((enum hak_event)k));
			any = 1;
		}
	g_printf("%s\n", any ? "" : " none");
}

static void print_heap(unsigned hi)
{
	struct hak_heap *h = hi == HV_DEFAULT ? hak_heap_default() : vms[hi].h;
	const struct hak_tier_stats *t;
	struct hak_cache_stats cs;
	struct hak_stats st;

	if (!((live_mask >> hi) & 1)) {
		g_printf("  %-7s destroyed; its provider holds %lu bytes in "
			 "%lu runs, its %lu KiB region all free again: %s\n",
			 vms[hi].name, (unsigned long)vms[hi].held,
			 (unsigned long)vms[hi].runs, kib(vms[hi].size),
			 region_all_free(&vms[hi]) ? "yes" : "NO");
		return;
	}
	hak_heap_stats(h, &st);
	t = st.tier;
	g_printf("  %-7s in use: tiny %lu KiB / %lu, pool %lu KiB / %lu, "
		 "large %lu KiB / %lu\n", hak_heap_name(h),
		 kib(t[0].bytes_in_use), (unsigned long)t[0].objects_in_use,
		 kib(t[1].bytes_in_use), (unsigned long)t[1].objects_in_use,
		 kib(t[2].bytes_in_use), (unsigned long)t[2].objects_in_use);
	if (hi == HV_DEFAULT)
		g_printf("          provider: held %lu KiB, peak %lu KiB, meta "
			 "%lu KiB, superslabs %lu\n", kib(st.provider_held),
			 kib(st.provider_peak), kib(st.meta_bytes),
			 (unsigned long)st.superslabs);
	else
		g_printf("          provider: held %lu KiB (counted %lu KiB), "
			 "peak %lu KiB, limit %lu KiB, superslabs %lu\n",
			 kib(st.provider_held), kib(vms[hi].held),
			 kib(st.provider_peak), kib(vms[hi].limit),
			 (unsigned long)st.superslabs);
	g_printf("          caches: hits %lu, misses %lu, refills %lu, "
		 "drains %lu, cached objects %lu\n",
		 (unsigned long)st.cache_hits, (unsigned long)st.cache_misses,
		 (unsigned long)st.refills, (unsigned long)st.drains,
		 (unsigned long)st.cached_objects);
	print_events(&st);
	if (hi == HV_DEFAULT)
		return;
	hak_cache_stats(vms[hi].cache, &cs);
	g_printf("          object cache %s: %lu-byte objects in %lu-byte "
		 "slots, %lu live, %lu cached, %lu allocs, %lu frees, %lu "
		 "slabs\n", cs.name, (unsigned long)cs.object_size,
		 (unsigned long)cs.slot_size, (unsigned long)cs.objects_in_use,
		 (unsigned long)cs.cached, (unsigned long)cs.allocs,
		 (unsigned long)cs.frees, (unsigned long)cs.slabs);
}

static void print_heaps(const char *title)
{
	unsigned hi;

	g_printf("\nheap stats: %s\n", title);
	for (hi = 0; hi < HV_HEAPS; hi++)
		print_heap(hi);
}

static uint64_t sum3(const uint64_t v[G_NTIERS])
{
	return v[0] + v[1] + v[2];
}

static void print_cpus(void)
{
	unsigned c;

	g_printf("\nper CPU: blocks allocated/freed (thread, IRQ), sent to / "
		 "freed for other CPUs, cache objects allocated/freed, "
		 "ticks\n");
	g_printf("          allocs  frees  irq-allocs  irq-frees  x-sent  "
		 "x-freed  objs  obj-frees  ticks\n");
	for (c = 0; c < g_ncpus; c++) {
		const struct g_acct *t = &g_acct[c][G_CTX_THREAD];
		const struct g_acct *i = &g_acct[c][G_CTX_IRQ];

		g_printf("  cpu %-3u %7lu %6lu %11lu %10lu %7lu %8lu %5lu "
			 "%10lu %6lu\n", c, (unsigned long)sum3(t->allocs),
			 (unsigned long)sum3(t->frees),
			 (unsigned long)sum3(i->allocs),
			 (unsigned long)sum3(i->frees),
			 (unsigned long)(t->cross_sent + i->cross_sent),
			 (unsigned long)(t->cross_freed + i->cross_freed),
			 (unsigned long)(hc[c].obj_allocs[0] +
					 hc[c].obj_allocs[1]),
			 (unsigned long)(hc[c].obj_frees[0] +
					 hc[c].obj_frees[1]),
			 (unsigned long)hc[c].ticks);
	}
}

/* ---- checks (CPU 0, the others waiting in a barrier) --------------------- */

static void check_heaps(const char *when)
{
	struct hak_stats st;
	unsigned i;
	int bad;

	bad = hak_check();
	if (bad)
		g_fail("%s: hak_check() = %d", when, bad);
	for (i = 0; i < NVM; i++) {
		struct vm *v = &vms[i];

		if (!((live_mask >> i) & 1))
			continue;
		bad = hak_heap_check(v->h);
		if (bad)
			g_fail("%s: hak_heap_check(%s) = %d", when, v->name,
			       bad);
		hak_heap_stats(v->h, &st);
		if (st.provider_held != v->held ||
		    st.provider_held > v->limit || st.provider_peak > v->limit)
			g_fail("%s: %s holds %lu bytes (peak %lu), its "
			       "provider counts %lu, limit %lu", when, v->name,
			       (unsigned long)st.provider_held,
			       (unsigned long)st.provider_peak,
			       (unsigned long)v->held, (unsigned long)v->limit);
	}
	check_no_unexpected(when);
}

/* End of a phase: every CPU masks IRQs and meets the others; CPU 0 checks
 * every heap, runs then (the next phase's setup), begins the next test;
 * then everyone goes on. */
static void phase_end(unsigned cpu, const char *next, void (*then)(void))
{
	board_irq_disable();
	g_barrier("phase end");
	if (cpu == 0) {
		check_heaps(g_test_name());
		g_printf("[hv] %s: hak_check and hak_heap_check of every live "
			 "VM: 0 violations\n", g_test_name());
		g_test_pass();
		if (then)
			then();
		if (next)
			g_test_begin(next);
	}
	g_barrier("phase checked");
	board_irq_enable();
}

/* ---- the limit phase ----------------------------------------------------- */

static void limit_setup(void)
{
	__atomic_store_n(&irq_mask, HV_ALL & ~(1u << HV_LIMIT_VM),
			 __ATOMIC_RELEASE);
}

static void vm_check_empty(struct vm *v, const char *when)
{
	struct hak_cache_stats cs;
	struct hak_stats st;

	hak_heap_stats(v->h, &st);
	hak_cache_stats(v->cache, &cs);
	if (st.bytes_in_use || cs.objects_in_use)
		g_fail("%s: %s still has %lu bytes, %lu cache objects in use",
		       when, v->name, (unsigned long)st.bytes_in_use,
		       (unsigned long)cs.objects_in_use);
}

/* The out-of-memory reports each CPU saw, Large and slab path. */
static char lim_what[HV_MAX_CPUS][2][HV_WHAT];

/* A NULL from the limit VM on this CPU: exactly one report, naming it. */
static void check_null(unsigned cpu, size_t size, uint64_t seen)
{
	struct vm *v = &vms[HV_LIMIT_VM];
	uint64_t now = __atomic_load_n(&v->oom_cpu[cpu], __ATOMIC_ACQUIRE);

	if (now != seen + 1)
		g_fail("%s: NULL for %lu bytes with %lu out-of-memory "
		       "reports, want 1", v->name, (unsigned long)size,
		       (unsigned long)(now - seen));
	if (!contains(v->oom_what[cpu], v->name))
		g_fail("%s: the out-of-memory report does not name the VM: "
		       "'%s'", v->name, v->oom_what[cpu]);
}

/*
 * One more block from the limit VM (large_pct % Large requests, the rest
 * Tiny and Pool) into hc[cpu].lim: its usable size, or 0 on a NULL,
 * which only null_ok allows. The other VMs' work goes on meanwhile.
 */
static size_t fill_one(unsigned cpu, unsigned large_pct, int null_ok)
{
	struct hv_cpu *d = &hc[cpu];
	struct vm *v = &vms[HV_LIMIT_VM];
	struct g_blk *b = &d->lim[d->nlim];
	size_t size = g_size_mix(&d->rng, 20, large_pct, 256 * 1024);
	uint64_t seen = __atomic_load_n(&v->oom_cpu[cpu], __ATOMIC_ACQUIRE);
	struct hak_stats st;

	if (d->nlim == HV_LIM_SLOTS)
		g_fail("%s: %u blocks and no NULL", v->name, d->nlim);
	if (g_alloc_heap(v->h, b, size, G_MALLOC, 0, g_rand(&d->rng),
			 G_CTX_THREAD)) {
		if (!null_ok)
			g_fail("%s: allocation of %lu bytes failed", v->name,
			       (unsigned long)size);
		check_null(cpu, size, seen);
		return 0;
	}
	check_region(HV_LIMIT_VM, b);
	if ((d->nlim++ & 7) == 0) {
		hak_heap_stats(v->h, &st);
		if (st.provider_held > v->limit)
			g_fail("%s: provider_held %lu above the limit %lu",
			       v->name, (unsigned long)st.provider_held,
			       (unsigned long)v->limit);
	}
	if ((d->nlim & 3) == 0)
		hv_op(cpu, HV_ALL & ~(1u << HV_LIMIT_VM));
	if ((d->nlim & 15) == 0)
		box_drain(HV_ALL & ~(1u << HV_LIMIT_VM), G_CTX_THREAD, 8);
	g_check_deadline(deadline, "limit fill");
	return b->usable;
}

/* Until NULL twice: with Large requests (a page run refused), then with
 * Tiny and Pool only (a slab refused). Returns the bytes allocated. */
static uint64_t fill_to_limit(unsigned cpu)
{
	struct vm *v = &vms[HV_LIMIT_VM];
	uint64_t bytes = 0;
	size_t n;
	int stage;

	hc[cpu].nlim = 0;
	for (stage = 0; stage < 2; stage++) {
		while ((n = fill_one(cpu, stage ? 0 : 15, 1)))
			bytes += n;
		copy_str(lim_what[cpu][stage], HV_WHAT, v->oom_what[cpu]);
	}
	return bytes;
}

/* want bytes, no NULL allowed. */
static uint64_t fill_bytes(unsigned cpu, uint64_t want)
{
	uint64_t bytes = 0;

	hc[cpu].nlim = 0;
	while (bytes < want)
		bytes += fill_one(cpu, 15, 0);
	return bytes;
}

/* Frees the limit blocks, half of them through other CPUs. */
static void unfill_vm(unsigned cpu)
{
	struct hv_cpu *d = &hc[cpu];
	unsigned i, mask = 1u << HV_LIMIT_VM;

	for (i = 0; i < d->nlim; i++) {
		if (i & 1)
			release(HV_LIMIT_VM, &d->lim[i], 0, &d->rng,
				G_CTX_THREAD);
		else
			g_free(&d->lim[i], G_CTX_THREAD);
		if ((i & 7) == 0)
			box_drain(mask, G_CTX_THREAD, 8);
	}
	d->nlim = 0;
	g_barrier("limit blocks sent");
	while (box_drain(mask, G_CTX_THREAD, 64))
		;
	g_barrier("limit blocks freed");
}

static uint64_t lim_bytes[HV_MAX_CPUS];
static unsigned lim_blocks[HV_MAX_CPUS];

static int str_eq(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return *a == *b;
}

/* The distinct out-of-memory reports the CPUs saw. */
static void print_whats(void)
{
	unsigned i, j;

	for (i = 0; i < g_ncpus * 2; i++) {
		const char *w = lim_what[i / 2][i % 2];

		for (j = 0; j < i && !str_eq(lim_what[j / 2][j % 2], w); j++)
			;
		if (j == i)
			g_printf("      '%s'\n", w);
	}
}

static void limit_report(void)
{
	struct vm *v = &vms[HV_LIMIT_VM];
	uint64_t bytes = 0, ooms = 0;
	unsigned c, blocks = 0;
	struct hak_stats st;

	for (c = 0; c < g_ncpus; c++) {
		bytes += lim_bytes[c];
		blocks += lim_blocks[c];
		ooms += v->oom_cpu[c];
	}
	hak_heap_stats(v->h, &st);
	g_printf("[hv] %s at its limit: %u blocks, %lu KiB, on %u CPUs; "
		 "provider held %lu KiB, peak %lu KiB (counted peak %lu KiB) "
		 "of the %lu KiB limit; %lu out-of-memory reports, one per "
		 "NULL:\n", v->name, blocks, kib(bytes), g_ncpus,
		 kib(st.provider_held), kib(st.provider_peak), kib(v->peak),
		 kib(v->limit), (unsigned long)ooms);
	print_whats();
	if (ooms != 2 * g_ncpus)
		g_fail("%s: %lu out-of-memory reports for %u NULLs", v->name,
		       (unsigned long)ooms, 2 * g_ncpus);
	if (st.provider_peak > v->limit || v->peak > v->limit)
		g_fail("%s: peak %lu above the limit", v->name,
		       (unsigned long)st.provider_peak);
	/* Driven to the limit, not stopped short of it by something else:
	 * a failing request needs at most a superslab. */
	if (v->peak + 2 * MIB < v->limit)
		g_fail("%s: NULL with a peak of %lu KiB, limit %lu KiB",
		       v->name, kib(v->peak), kib(v->limit));
	check_heaps("at the limit");
}

/* Every block freed: then hak_heap_trim gives back all but the per-CPU
 * areas. */
static void trim_limit_vm(void)
{
	struct vm *v = &vms[HV_LIMIT_VM];
	uint64_t before = v->held;

	vm_check_empty(v, "after the frees");
	hak_heap_trim(v->h);
	g_printf("[hv] %s after the frees: provider held %lu KiB, after "
		 "hak_heap_trim %lu KiB\n", v->name, kib(before),
		 kib(v->held));
	if (v->held >= before && before > MIB)
		g_fail("%s: hak_heap_trim gave nothing back", v->name);
}

static void limit_phase(unsigned cpu)
{
	struct vm *v = &vms[HV_LIMIT_VM];
	struct hv_item it;

	/* The VM starts empty: nothing of the earlier phases pins its
	 * slabs. IRQs masked: the IRQ slots are ours to free. */
	board_irq_disable();
	free_mine(cpu, 1u << HV_LIMIT_VM);
	while (box_recv(HV_LIMIT_VM, &it))
		item_free(HV_LIMIT_VM, &it.b, it.obj, G_CTX_THREAD);
	g_barrier("limit vm emptied");
	if (cpu == 0) {
		vm_check_empty(v, "before the limit");
		__atomic_store_n(&v->oom_ok, 1, __ATOMIC_RELEASE);
	}
	g_barrier("limit vm ready");
	board_irq_enable();

	lim_bytes[cpu] = fill_to_limit(cpu);
	lim_blocks[cpu] = hc[cpu].nlim;

	board_irq_disable();
	g_barrier("limit reached");
	if (cpu == 0) {
		limit_report();
		__atomic_store_n(&v->oom_ok, 0, __ATOMIC_RELEASE);
	}
	g_barrier("limit reported");
	board_irq_enable();
	unfill_vm(cpu);
	if (cpu == 0)
		trim_limit_vm();
	g_barrier("limit vm empty again");

	/* Room again: half the limit, between all CPUs, must fit. */
	lim_bytes[cpu] = fill_bytes(cpu, v->limit / 2 / g_ncpus);
	unfill_vm(cpu);
	if (cpu == 0) {
		uint64_t again = 0;
		unsigned c;

		for (c = 0; c < g_ncpus; c++)
			again += lim_bytes[c];
		g_printf("[hv] %s after the frees: %lu KiB allocated again "
			 "without a NULL (half its limit)\n", v->name,
			 kib(again));
	}
}

/* ---- the teardown -------------------------------------------------------- */

static void resume_setup(void)
{
	__atomic_store_n(&irq_mask, HV_ALL, __ATOMIC_RELEASE);
}

/* Before the teardown: CPU 0 prints, and the killed VM leaves every mask
 * while every CPU has IRQs masked; past the next barrier no thread or
 * IRQ handler uses it. */
static void teardown_setup(void)
{
	print_heaps("before the teardown (every CPU holds blocks)");
	__atomic_store_n(&live_mask, HV_ALL & ~(1u << HV_KILL_VM),
			 __ATOMIC_RELEASE);
	__atomic_store_n(&irq_mask, live_mask, __ATOMIC_RELEASE);
}

/* hak_free of one old block of the killed VM: exactly one report, an
 * invalid free of that pointer, whichever sink took it. */
static void free_old(void *p, const char *kind)
{
	uint64_t total = events_total();
	uint64_t seen = __atomic_load_n(&expected_seen, __ATOMIC_ACQUIRE);

	__atomic_store_n(&expect_ptr, p, __ATOMIC_RELEASE);
	hak_free(p);
	if (__atomic_load_n(&expected_seen, __ATOMIC_ACQUIRE) != seen + 1) {
		__atomic_store_n(&expect_ptr, NULL, __ATOMIC_RELEASE);
		g_fail("hak_free(%p), an old %s of %s: no invalid-free report",
		       p, kind, vms[HV_KILL_VM].name);
	}
	if (events_total() != total + 1)
		g_fail("hak_free(%p), an old %s of %s: %lu reports, want 1",
		       p, kind, vms[HV_KILL_VM].name,
		       (unsigned long)(events_total() - total));
	check_no_unexpected("free of an old block");
	g_printf("[hv] hak_free(%p), an old %s of %s: one report, invalid "
		 "free: %s\n", p, kind, vms[HV_KILL_VM].name, expected_what);
}

/* Thread operations the other CPUs have made so far. */
static uint64_t other_ops(void)
{
	uint64_t n = 0;
	unsigned c;

	for (c = 1; c < g_ncpus; c++)
		n += __atomic_load_n(&hc[c].ops, __ATOMIC_RELAXED);
	return n;
}

static void kill_vm(void)
{
	struct vm *v = &vms[HV_KILL_VM];
	struct hak_stats st;
	unsigned long t0;
	uint64_t others;
	int rc;

	hak_heap_stats(v->h, &st);
	if (st.tier[0].objects_in_use + st.tier[1].objects_in_use <= 2 ||
	    !st.tier[2].objects_in_use)
		g_fail("%s: too little live to destroy with it", v->name);
	/* The others must be at work when it starts, not still waking. */
	others = other_ops();
	while (g_ncpus > 1 && other_ops() < others + 32)
		g_check_deadline(deadline, "the others to start work");
	t0 = board_ticks();
	others = other_ops();
	rc = hak_heap_destroy(v->h, HAK_HEAP_DESTROY_FORCE);
	others = other_ops() - others;
	g_printf("[hv] %s destroyed (forced) with %lu blocks, %lu KiB live, "
		 "%lu KiB held, in %lu ms, while the other %u CPUs made %lu "
		 "operations on the other heaps: rc %d\n", v->name,
		 (unsigned long)(st.tier[0].objects_in_use +
				 st.tier[1].objects_in_use +
				 st.tier[2].objects_in_use),
		 kib(st.bytes_in_use), kib(st.provider_held),
		 g_elapsed_ms(t0), g_ncpus - 1, (unsigned long)others, rc);
	if (rc)
		g_fail("hak_heap_destroy(%s, FORCE) = %d", v->name, rc);
	if (v->held || v->runs)
		g_fail("%s: its provider still holds %lu bytes in %lu runs",
		       v->name, (unsigned long)v->held, (unsigned long)v->runs);
	if (!region_all_free(v))
		g_fail("%s: its region is not all free again", v->name);
	check_no_unexpected("after the destroy");
	free_old(old_small.p, "slab block");
	free_old(old_large.p, "large block");
	free_old(old_obj.p, "cache object");
}

static void teardown_phase(unsigned cpu)
{
	unsigned mask = HV_ALL & ~(1u << HV_KILL_VM);

	unsigned n = 0;

	if (cpu == 0) {
		kill_vm();
		__atomic_store_n(&teardown_done, 1, __ATOMIC_RELEASE);
		work(cpu, mask, HV_OPS / 4, NULL);
		return;
	}
	/* With 3 CPUs or more, CPU 1 trims and checks the other heaps
	 * (requests to every CPU, CPU 0 inside the destroy included) until
	 * the destroy is over. */
	while (cpu == 1 && g_ncpus > 2 &&
	       !__atomic_load_n(&teardown_done, __ATOMIC_ACQUIRE)) {
		housekeeping(cpu, mask, n++);
		g_check_deadline(deadline, "housekeeping during the destroy");
	}
	if (cpu == 1)
		hk_during = n;
	/* The others at work on the other heaps until it is over. */
	work(cpu, mask, HV_OPS / 4, &teardown_done);
}

static void after_teardown(void)
{
	if (g_ncpus > 2)
		g_printf("[hv] CPU 1 trimmed or checked the other heaps %u "
			 "times around the destroy\n", hk_during);
	print_heaps("after the teardown");
}

/* ---- cleanup ------------------------------------------------------------- */

static void cleanup_setup(void)
{
	__atomic_store_n(&irq_mask, 0, __ATOMIC_RELEASE);
}

static void destroy_rest(void)
{
	struct hak_stats st;
	unsigned i;

	for (i = 0; i < NVM; i++) {
		struct vm *v = &vms[i];

		if (!((live_mask >> i) & 1))
			continue;
		vm_check_empty(v, "cleanup");
		if (hak_cache_destroy(v->cache))
			g_fail("hak_cache_destroy(%s's) refused", v->name);
		if (hak_heap_destroy(v->h, 0))
			g_fail("hak_heap_destroy(%s, 0) refused", v->name);
		if (v->held || v->runs || !region_all_free(v))
			g_fail("%s: its provider still holds %lu bytes",
			       v->name, (unsigned long)v->held);
	}
	/*
	 * The other CPUs tick in their barrier loop meanwhile, and a tick's
	 * idle-decay step moves a chunk of the default heap's cached objects
	 * back to their slabs in two steps, so one snapshot may count the
	 * chunk as live (hak_stats is exact only when nothing runs): a
	 * leak is what stays non-zero over many snapshots.
	 */
	for (i = 0; i < 1000; i++) {
		hak_stats(&st);
		if (!st.bytes_in_use)
			break;
		arch_cpu_relax();
	}
	if (st.bytes_in_use)
		g_fail("the default heap still has %lu bytes in use",
		       (unsigned long)st.bytes_in_use);
	__atomic_store_n(&live_mask, 1u << HV_DEFAULT, __ATOMIC_RELEASE);
	check_heaps("after destroying every VM");
	g_printf("[hv] every block freed; caches and vm0..vm2 destroyed "
		 "without FORCE, every VM region all free again\n");
	print_heaps("at the end");
}

static void cleanup_phase(unsigned cpu)
{
	unsigned mask = live_mask;

	board_irq_disable();
	free_mine(cpu, mask);
	g_barrier("cleanup freed");
	while (box_drain(mask, G_CTX_THREAD, 64))
		;
	g_barrier("cleanup drained");
	if (cpu == 0)
		destroy_rest();
	g_barrier("cleanup done");
}

/* ---- main ---------------------------------------------------------------- */

static void cpu_main(unsigned cpu)
{
	struct hv_cpu *d = &hc[cpu];
	unsigned all = HV_ALL, rest = HV_ALL & ~(1u << HV_KILL_VM);

	d->rng = g_seed(0x4f11, cpu);
	d->irq_rng = g_seed(0x1e4f11, cpu);
	board_timer_start(HV_IRQ_PERIOD_US, hv_tick);
	board_irq_enable();

	work(cpu, all, HV_OPS, NULL);
	phase_end(cpu, "hv_limit", limit_setup);

	limit_phase(cpu);
	phase_end(cpu, "hv_resume", resume_setup);

	work(cpu, all, HV_OPS, NULL);
	if (cpu == 0) {
		/* Old blocks of the VM to be killed, freed after it. */
		blk_alloc(HV_KILL_VM, &old_small, 100, &d->rng, G_CTX_THREAD);
		blk_alloc(HV_KILL_VM, &old_large, 200 * 1024, &d->rng,
			  G_CTX_THREAD);
		obj_alloc(HV_KILL_VM, &old_obj, &d->rng, G_CTX_THREAD);
	}
	phase_end(cpu, "hv_teardown", teardown_setup);

	teardown_phase(cpu);
	phase_end(cpu, "hv_survivors", after_teardown);

	work(cpu, rest, HV_OPS, NULL);
	phase_end(cpu, "hv_cleanup", cleanup_setup);

	cleanup_phase(cpu);
	board_timer_stop();
}

void test_main(void)
{
	unsigned i;

	g_test_begin("hv_setup");
	if (g_heap_bytes() < HV_DEFAULT_BYTES + NVM * HV_VM_BYTES)
		g_fail("board heap of %lu KiB, need %lu", kib(g_heap_bytes()),
		       kib(HV_DEFAULT_BYTES + NVM * HV_VM_BYTES));
	g_heap_init_part(HV_DEFAULT_BYTES, hv_default_report);
	if (g_ncpus > HV_MAX_CPUS)
		g_fail("%u CPUs, this image handles %u", g_ncpus, HV_MAX_CPUS);
	for (i = 0; i < NVM; i++)
		vm_create(i);
	g_printf("hakmem hypervisor: %u CPUs, arch %s; default heap %lu KiB, "
		 "%u VMs of %lu KiB each:", g_ncpus, ARCH_NAME,
		 kib(HV_DEFAULT_BYTES), NVM, kib(HV_VM_BYTES));
	for (i = 0; i < NVM; i++)
		g_printf(" %s (limit %lu KiB, %lu-byte objects)%s", vms[i].name,
			 kib(vms[i].limit), (unsigned long)vms[i].obj_size,
			 i + 1 < NVM ? "," : "\n");
	irq_mask = HV_ALL;
	deadline = board_ticks() + g_ms_ticks(HV_DEADLINE_MS);
	g_test_pass();
	g_test_begin("hv_mixed");
	board_start_secondaries(cpu_main);
	cpu_main(0);
	print_cpus();
	g_test_pass();
	board_exit(0);
}
