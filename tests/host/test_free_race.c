// SPDX-License-Identifier: MIT
/*
 * test_free_race - a bad free whose slab changes while free()'s slow path
 * classifies it (malloc.c, block_lookup, which reads the slab's fields
 * with no lock) is reported, and the heap stays consistent.
 *
 * A block is freed, then freed again. The second free's fast path finds
 * the cookie and hands it to the slow path; there, between its reads of
 * the slab's fields and of the block (the hook hak_test_lookup_gap,
 * white box),
 * hak_trim drains every cache, the block goes back to its slab, which
 * empties and is uncarved: its shard is NULL from then on. Another live
 * block keeps the superslab (its release is the one case left open:
 * docs/security.md). Until session 17 the slow path then followed the
 * NULL shard and the process died of SIGSEGV; now it reports the double
 * free and goes on: the slab's sequence (a seqlock) tells it the slab
 * changed. Then the same again with the slab carved again for another
 * class in the gap: the old code took the pointer for a live block of the
 * new class. (A debug build's header catches the double free before the
 * slow path: there only the report and the heap's consistency are
 * checked.)
 */
#include "check.h"
#include "../../mm/internal.h"

static struct report_log log;
static void (*gap_action)(void);

static void lookup_gap(void)
{
	void (*f)(void) = gap_action;

	gap_action = NULL;
	if (f)
		f();
}

static void trim(void)
{
	hak_trim();
}

static void *other[64];

/* The unit the trim freed, carved again: blocks of another class. */
static void trim_and_reuse(void)
{
	unsigned i;

	hak_trim();
	for (i = 0; i < 64; i++)
		CHECK(other[i] = hak_malloc(100), "malloc(100)");
}

static void one(const char *what, void (*action)(void), size_t size)
{
	int before = log.count[HAK_EV_DOUBLE_FREE] +
			  log.count[HAK_EV_INVALID_FREE];
	void *p = hak_malloc(size);
	struct hak_slab *s;
	uint16_t seq;

	CHECK(p, "%s: malloc", what);
	s = hak_slab_of_object((uintptr_t)p);
	seq = s->seq;
	hak_free(p);
	gap_action = action;
	hak_free(p); /* the second free: into the slow path */
	if (HAK_DEBUG) {
		/* debug.c's header tells the double free before the slow
		 * path looks: the report below is its. */
		gap_action = NULL;
	} else {
		CHECK(!gap_action, "%s: the slow path never reached the gap",
		      what);
		CHECK(s->seq != seq,
		      "%s: the slab was not uncarved in the gap: no test", what);
	}
	if (action == trim_and_reuse && !HAK_DEBUG) {
		unsigned i, in = 0;

		for (i = 0; i < 64; i++)
			in += hak_slab_of_object((uintptr_t)other[i]) == s;
		CHECK(in && s->shard, "%s: the unit was not carved again for "
				      "the 100-byte blocks: no test", what);
	}
	CHECK(log.count[HAK_EV_DOUBLE_FREE] + log.count[HAK_EV_INVALID_FREE] ==
		      before + 1,
	      "%s: %d reports of the bad free", what,
	      log.count[HAK_EV_DOUBLE_FREE] + log.count[HAK_EV_INVALID_FREE] -
		      before);
	CHECK(hak_check() == 0, "%s: hak_check found a violation", what);
}

int main(void)
{
	void *keep;
	unsigned i;

	init_hosted(1, &log);
	log.quiet = 1;
	hak_test_lookup_gap = lookup_gap;
	/* Keeps the superslab: the test's slabs share it. */
	keep = hak_malloc(24);
	CHECK(keep, "malloc");
	one("emptied", trim, 3000);
	one("carved again", trim_and_reuse, 3000);
	for (i = 0; i < 64; i++)
		hak_free(other[i]);
	/* Later calls work. */
	for (i = 0; i < 1000; i++)
		hak_free(hak_malloc(3000));
	hak_free(keep);
	CHECK(hak_check() == 0, "final check");
	printf("PASS free_race\n");
	return 0;
}
