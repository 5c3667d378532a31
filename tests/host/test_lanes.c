// SPDX-License-Identifier: MIT
/*
 * test_lanes - the shared pool's lanes (mm/shared_pool.c, config.h
 * HAK_LANES): a class's partial slabs are kept by the lane of the CPU
 * that last refilled from them, and another CPU's refill takes them only
 * when that lane is idle or holds more than HAK_LANE_KEEP of them, or
 * when the provider gives no fresh slab (no false out-of-memory).
 *
 * The thread plays CPU 0 and CPU 1 by pinning itself (hosted rseq
 * follows the CPU it runs on), so the machine needs two CPUs: without
 * them the test fails, it does not skip. White box: it reads the shard's
 * lane counts (mm/internal.h). Each case runs in a child process (a fresh
 * heap).
 */
#define _GNU_SOURCE
#include <sys/mman.h>

#include "pin.h"
#include "../../mm/internal.h"

_Static_assert(HAK_LANES >= 2, "the hosted build has lanes");

#define OBJ 1024 /* 64 objects a slab (the slab's first unit: fewer) */
#define NOBJ 512

static void *objs[8192];
static struct report_log oom_log, check_log;

static uintptr_t slab_base(const void *p)
{
	return (uintptr_t)p & ~(uintptr_t)(HAK_SLAB_SIZE - 1);
}

static struct hak_shard *shard_of(const void *p)
{
	return hak_slab_of_object((uintptr_t)p)->shard;
}

/* Was p carved from one of the slabs of objs[0..n)? */
static int in_slabs(const void *p, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (slab_base(objs[i]) == slab_base(p))
			return 1;
	return 0;
}

/* On CPU 0: n objects, every other one freed, the caches flushed to the
 * slabs: lane 0 then holds their slabs, each partly free. */
static struct hak_shard *fill_lane0(unsigned n)
{
	struct hak_shard *sh;
	unsigned i;

	pin(0);
	for (i = 0; i < n; i++) {
		objs[i] = hak_malloc(OBJ);
		CHECK(objs[i], "malloc %u", i);
	}
	for (i = 0; i < n; i += 2)
		hak_free(objs[i]);
	hak_trim();
	sh = shard_of(objs[1]);
	for (i = 1; i < n; i += 2)
		CHECK(hak_slab_of_object((uintptr_t)objs[i])->lane == 0,
		      "object %u's slab on lane %u", i,
		      hak_slab_of_object((uintptr_t)objs[i])->lane);
	CHECK(sh->npartial[0] >= n / 64 && sh->npartial[1] == 0,
	      "lane 0 holds %u slabs, lane 1 %u", sh->npartial[0],
	      sh->npartial[1]);
	return sh;
}

/* Lane 0 busy: CPU 1's refill carves a fresh slab, its own, and leaves
 * lane 0's alone (their objects' lines stay with CPU 0). */
static void case_affinity(void)
{
	struct hak_shard *sh = fill_lane0(NOBJ);
	uint32_t before = sh->npartial[0];
	void *p;

	pin(1);
	p = hak_malloc(OBJ);
	CHECK(p, "malloc on cpu 1");
	CHECK(!in_slabs(p, NOBJ), "cpu 1 took %p from lane 0's slabs", p);
	CHECK(hak_slab_of_object((uintptr_t)p)->lane == 1, "p's lane %u",
	      hak_slab_of_object((uintptr_t)p)->lane);
	CHECK(sh->npartial[0] == before, "lane 0: %u slabs, was %u",
	      sh->npartial[0], before);
	hak_free(p);
	CHECK(hak_check() == 0, "hak_check after the affinity case");
}

/* Lane 0 idle (no refill or drain of the class on CPU 0 for
 * HAK_LANE_IDLE of the shard's refills and drain holds): CPU 1's
 * refills take its slabs.
 * Not before: a lane's tick only moves when it works, so a slab taken
 * from it while the idle test was false would show as a steal at a count
 * of holds not past HAK_LANE_IDLE. */
static void case_idle(void)
{
	struct hak_shard *sh = fill_lane0(NOBJ);
	uint32_t before = sh->npartial[0], tick0 = sh->lane_tick[0];
	void *batch[64];
	unsigned round, i;

	pin(1);
	for (round = 0; round < 4 * HAK_LANE_IDLE; round++) {
		for (i = 0; i < 64; i++) {
			batch[i] = hak_malloc(OBJ);
			CHECK(batch[i], "malloc on cpu 1");
		}
		for (i = 0; i < 64; i++)
			hak_free(batch[i]);
		hak_trim(); /* the next round refills again */
		CHECK(sh->lane_tick[0] == tick0,
		      "lane 0 worked: tick %u, was %u", sh->lane_tick[0],
		      tick0);
		if (sh->npartial[0] < before)
			break;
	}
	CHECK(sh->npartial[0] < before,
	      "lane 0 still holds %u slabs after %u rounds on cpu 1",
	      sh->npartial[0], round);
	/* The round that took one ended with lane 0 idle; a steal from an
	 * active lane would have come rounds earlier (each round is a few
	 * holds). */
	CHECK(sh->ticks - tick0 > HAK_LANE_IDLE,
	      "a slab left lane 0 after only %u holds", sh->ticks - tick0);
	CHECK(sh->ticks - tick0 < HAK_LANE_IDLE + 64,
	      "lane 0 idle for %u holds before a refill took its slabs",
	      sh->ticks - tick0);
	CHECK(hak_check() == 0, "hak_check after the idle case");
}

/* More than HAK_LANE_KEEP partial slabs: open to other lanes even while
 * busy. */
static void case_keep(void)
{
	unsigned n = (HAK_LANE_KEEP + 4) * 64;
	struct hak_shard *sh;
	uint32_t before, nslabs;
	void *p;

	CHECK(n <= sizeof(objs) / sizeof(objs[0]), "objs[] too small");
	sh = fill_lane0(n);
	before = sh->npartial[0];
	CHECK(before > HAK_LANE_KEEP, "lane 0 holds %u slabs", before);
	pin(1);
	nslabs = sh->nslabs;
	p = hak_malloc(OBJ);
	CHECK(p && in_slabs(p, n),
	      "cpu 1 carved %p rather than take one of lane 0's %u slabs", p,
	      before);
	/* One slab, or two when the first had less than a batch free. */
	CHECK(sh->npartial[0] < before && sh->nslabs == nslabs &&
		      hak_slab_of_object((uintptr_t)p)->lane == 1,
	      "lane 0: %u slabs, was %u; %u slabs, was %u; p's lane %u",
	      sh->npartial[0], before, sh->nslabs, nslabs,
	      hak_slab_of_object((uintptr_t)p)->lane);
	hak_free(p);
	CHECK(hak_check() == 0, "hak_check after the keep case");
}

/* hak_check knows the lanes: a slab on one lane's list whose lane byte
 * names another, and a lane count off by one, are corruption. */
static void case_check(void)
{
	struct hak_shard *sh;
	struct hak_slab *s;

	init_hosted(2, &check_log);
	check_log.quiet = 1;
	sh = fill_lane0(NOBJ);
	CHECK(hak_check() == 0, "hak_check on a clean heap");
	s = hak_slab_of_object((uintptr_t)objs[1]);
	CHECK(s->on_list == 1 /* LIST_PARTIAL */ && s->lane == 0,
	      "objs[1]'s slab on list %u "
	      "lane %u",
	      s->on_list, s->lane);
	s->lane = 1;
	CHECK(hak_check() > 0 && check_log.count[HAK_EV_CORRUPTION] > 0,
	      "a slab on lane 0's list that says lane 1 went unseen");
	s->lane = 0;
	CHECK(hak_check() == 0, "hak_check after the lane came back");
	sh->npartial[1]++;
	CHECK(hak_check() > 0, "lane 1's count off by one went unseen");
	sh->npartial[1]--;
	CHECK(hak_check() == 0, "hak_check after the count came back");
}

/* A created heap at its limit: CPU 1 cannot carve, and takes lane 0's
 * free objects rather than fail while they are there. */
static void case_no_false_oom(void)
{
	const size_t region = 32 << 20, limit = 4 << 20;
	struct hak_page_provider prov;
	struct hak_heap_config cfg = {0};
	struct hak_heap *h;
	unsigned n = 0, freed = 0, got = 0, i;
	void *base, *p;

	hak_free(hak_malloc(1)); /* the lazy init: heaps need it done */
	base = mmap(NULL, region, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(base != MAP_FAILED, "mmap");
	CHECK(!hak_region_provider(base, region, &prov), "provider");
	cfg.name = "lanes";
	cfg.provider = prov;
	cfg.limit = limit;
	cfg.report = report_record; /* the out-of-memory reports */
	cfg.report_ctx = &oom_log;
	oom_log.quiet = 1;
	h = hak_heap_create(&cfg);
	CHECK(h, "hak_heap_create");
	pin(0);
	while (n < sizeof(objs) / sizeof(objs[0]) &&
	       (objs[n] = hak_heap_malloc(h, OBJ)))
		n++;
	CHECK(n > 64 && n < sizeof(objs) / sizeof(objs[0]),
	      "%u objects under a %zu-byte limit", n, limit);
	for (i = 0; i < n; i += 2, freed++)
		hak_free(objs[i]);
	hak_heap_trim(h);
	pin(1);
	while ((p = hak_heap_malloc(h, OBJ))) {
		CHECK(in_slabs(p, n), "%p from outside the limit's slabs", p);
		got++;
		CHECK(got <= freed, "more objects than were freed");
	}
	CHECK(got == freed, "cpu 1 got %u of the %u free objects", got, freed);
	CHECK(oom_log.count[HAK_EV_OUT_OF_MEMORY] >= 2,
	      "%d out-of-memory reports", oom_log.count[HAK_EV_OUT_OF_MEMORY]);
	CHECK(!hak_heap_destroy(h, HAK_HEAP_DESTROY_FORCE), "destroy");
	munmap(base, region);
}

/* A fresh heap of 2 CPUs, decay off (it could take a batch), on CPU 0:
 * n objects of 200 bytes into objs[]. */
static void transfer_start(unsigned n)
{
	unsigned i;

	init_hosted(2, &check_log);
	check_log.quiet = 1;
	hak_heap.decay_off = 1;
	/* At their initial capacity, the magazines overflow into the
	 * transfer cache (a lazy provider's would grow to hold them all). */
	hak_heap.grow_off = 1;
	pin(0);
	for (i = 0; i < n; i++)
		CHECK(objs[i] = hak_malloc(200), "malloc %u", i);
}

/*
 * The transfer cache is per lane too: CPU 0's free misses hand their
 * batches to lane 0's, CPU 1's allocations take none of them, and CPU
 * 0's take them back. A lane holds at most its share of
 * HAK_TRANSFER_BATCHES (mm/transfer.c lane_cap); hak_check covers every
 * lane's and hak_trim empties them.
 */
static void case_transfer(void)
{
	enum { N = 4096 };
	unsigned cpus, cap, cls, i, held;
	struct hak_transfer *x0, *x1;
	void *saved;

	transfer_start(N);
	cpus = hak_heap.ncpus < HAK_LANES ? hak_heap.ncpus : HAK_LANES;
	CHECK(cpus >= 2, "%u CPUs", hak_heap.ncpus);
	cap = HAK_TRANSFER_BATCHES / cpus;
	CHECK(cap >= 2, "a lane's share %u: no test", cap);
	cls = shard_of(objs[0])->cls;
	x0 = &hak_xfer[cls][0];
	x1 = &hak_xfer[cls][1];
	for (i = 0; i < N; i++)
		hak_free(objs[i]);
	/* N frees overflow the cache by far more than cap batches. */
	CHECK(x0->n == cap && x0->cap == cap, "lane 0 holds %u batches of %u, "
	      "its share %u", x0->n, x0->cap, cap);
	CHECK(x1->n == 0, "lane 1 holds %u batches of CPU 0's", x1->n);
	CHECK(hak_check() == 0, "hak_check with a lane's batches held");

	pin(1);
	for (i = 0; i < N; i++)
		CHECK(objs[i] = hak_malloc(200), "malloc on cpu 1, %u", i);
	CHECK(x0->n == cap, "CPU 1 took %u of lane 0's batches", cap - x0->n);
	for (i = 0; i < N; i++)
		hak_free(objs[i]);
	CHECK(x1->n == cap, "lane 1 holds %u batches of %u", x1->n, cap);
	/* An object inside another in lane 1's cache is corruption. */
	saved = x1->slots[0];
	x1->slots[0] = (char *)saved + 8;
	CHECK(hak_check() > 0 && check_log.count[HAK_EV_CORRUPTION] > 0,
	      "an interior pointer in lane 1's transfer cache went unseen");
	x1->slots[0] = saved;
	CHECK(hak_check() == 0, "hak_check after the slot came back");

	pin(0);
	held = x0->n;
	for (i = 0; i < N; i++)
		CHECK(objs[i] = hak_malloc(200), "malloc %u", i);
	CHECK(x0->n < held, "CPU 0 took none of its lane's batches back");
	CHECK(x1->n == cap, "CPU 0 took %u of lane 1's batches",
	      cap - x1->n);
	for (i = 0; i < N; i++)
		hak_free(objs[i]);
	/* An offline CPU holds nothing: its lane's batches go back too. */
	held = x0->n;
	hak_cpu_offline(1);
	CHECK(x1->n == 0, "CPU 1 is offline, its lane holds %u batches",
	      x1->n);
	CHECK(x0->n == held, "CPU 1's offline took %u of lane 0's batches",
	      held - x0->n);
	hak_trim();
	CHECK(x0->n == 0 && x1->n == 0, "hak_trim left %u and %u batches",
	      x0->n, x1->n);
	CHECK(hak_check() == 0, "hak_check");
}

/*
 * Idle decay looks at each lane's transfer cache: a lane nobody used
 * since the last visit gives back a batch a visit while another lane of
 * the class is busy (its moves are played here by bumping its count of
 * puts, white box). One visit of a class every HAK_NCLASSES^2 ticks
 * (test_decay.c), so cap batches take about cap such visits.
 */
static void case_transfer_decay(void)
{
	enum { N = 4096 };
	const unsigned long per_visit = HAK_NCLASSES * HAK_NCLASSES;
	struct hak_transfer *x0, *x1;
	unsigned cls, i, cap;
	unsigned long t, limit;

	transfer_start(N);
	cls = shard_of(objs[0])->cls;
	x0 = &hak_xfer[cls][0];
	x1 = &hak_xfer[cls][1];
	for (i = 0; i < N; i++)
		hak_free(objs[i]);
	pin(1);
	for (i = 0; i < N; i++)
		CHECK(objs[i] = hak_malloc(200), "malloc on cpu 1, %u", i);
	for (i = 0; i < N; i++)
		hak_free(objs[i]);
	cap = x0->cap;
	CHECK(x0->n == cap && x1->n == cap && cap >= 2,
	      "lanes hold %u and %u batches of %u", x0->n, x1->n, cap);
	hak_heap.decay_off = 0;
	limit = (cap + 2) * per_visit;
	for (t = 0; x0->n && t < limit; t++) {
		__atomic_fetch_add(&x1->puts, 1, __ATOMIC_RELAXED);
		hak_tick();
	}
	CHECK(x0->n == 0, "idle lane 0 still holds %u batches after %lu "
	      "ticks", x0->n, t);
	CHECK(x1->n == cap, "busy lane 1 gave back %u batches", cap - x1->n);
	CHECK(hak_check() == 0, "hak_check");
}

int main(void)
{
	CHECK(sysconf(_SC_NPROCESSORS_ONLN) >= 2,
	      "needs 2 CPUs to play two lanes, has %ld",
	      sysconf(_SC_NPROCESSORS_ONLN));
	run_in_child(case_affinity, 60, "affinity");
	run_in_child(case_idle, 120, "idle");
	run_in_child(case_keep, 60, "keep");
	run_in_child(case_no_false_oom, 60, "no false oom");
	run_in_child(case_check, 60, "check");
	run_in_child(case_transfer, 60, "transfer");
	run_in_child(case_transfer_decay, 120, "transfer decay");
	printf("PASS test_lanes\n");
	return 0;
}
