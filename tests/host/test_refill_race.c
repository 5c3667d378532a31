// SPDX-License-Identifier: MIT
/*
 * test_refill_race - a refill whose lock is dropped between two holds
 * while another refill of the same class takes the next objects of the
 * same slab hands out each object once.
 *
 * A refill moves a batch in holds of at most HAK_HOLD_OBJECTS (16), and
 * lets IRQs and other CPUs in between. A batch of never-used objects from
 * one slab is handed out striped (mm/shared_pool.c stripe_run), its
 * addresses computed from the run's first object. The first version took
 * "every visit found no used object, all in one slab" for one run; but in
 * the gap another CPU, or an IRQ handler on this one, may take the next
 * never-used objects, and the rewritten batch then held those again, and
 * lost as many others (the QEMU suites' -smp 4 runs saw the corruption).
 * Here the gap is the test hook hak_test_refill_gap (white box), and the
 * other refill is a nested malloc of the same class, as an IRQ handler's
 * would be: the first malloc of a class no one used yet takes a batch of
 * 64 never-used objects in 4 holds (in the debug build, whose malloc
 * wraps blocks in a larger class, 51 in 4). Every address handed out after
 * that must be distinct.
 */
#include "check.h"
#include "../../mm/internal.h"

enum { NESTED = 20, LATER = 300 };

static struct report_log log;
static void *nested[NESTED];
static int armed, fired;

static void refill_gap(struct hak_shard *sh)
{
	unsigned i;

	(void)sh;
	if (!armed)
		return;
	armed = 0; /* the nested refill's own gaps pass */
	fired = 1;
	for (i = 0; i < NESTED; i++)
		nested[i] = hak_malloc(16);
}

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;

	return x < y ? -1 : x > y;
}

int main(void)
{
	void *all[1 + NESTED + LATER];
	unsigned i, n = 0;

	init_hosted(1, &log);
	log.quiet = 1;
	hak_test_refill_gap = refill_gap;
	armed = 1;
	all[n++] = hak_malloc(16);
	CHECK(all[0], "malloc");
	CHECK(fired, "the refill never dropped its lock between holds");
	for (i = 0; i < NESTED; i++) {
		CHECK(nested[i], "nested malloc %u", i);
		all[n++] = nested[i];
	}
	/* The case meant: the nested refill took from the slab the outer
	 * one was taking from, above its first objects. */
	CHECK(hak_slab_of_object((uintptr_t)nested[0]) ==
		      hak_slab_of_object((uintptr_t)all[0]) &&
		      (uintptr_t)nested[0] > (uintptr_t)all[0],
	      "the nested refill took %p, not from the outer's slab above %p",
	      nested[0], all[0]);
	for (i = 0; i < LATER; i++) {
		all[n] = hak_malloc(16);
		CHECK(all[n], "malloc %u", i);
		n++;
	}
	qsort(all, n, sizeof(all[0]), cmp_ptr);
	for (i = 1; i < n; i++)
		CHECK(all[i] != all[i - 1],
		      "%p handed out twice (of %u allocations)", all[i], n);
	for (i = 0; i < n; i++)
		hak_free(all[i]);
	CHECK(log.count[HAK_EV_DOUBLE_FREE] == 0 &&
		      log.count[HAK_EV_CORRUPTION] == 0,
	      "reports: %d double frees, %d corruptions",
	      log.count[HAK_EV_DOUBLE_FREE], log.count[HAK_EV_CORRUPTION]);
	CHECK(hak_check() == 0, "hak_check");
	printf("PASS refill_race\n");
	return 0;
}
