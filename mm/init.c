// SPDX-License-Identifier: MIT
/*
 * init.c - the heap object and hak_init().
 *
 * There is one heap per image: hakmem is the system allocator of the
 * kernel or program it is linked into. hak_init copies the embedder's
 * hooks, derives the class constants, draws the cookie secret and
 * allocates the per-CPU areas; everything else is allocated on demand.
 */
#include "internal.h"

struct hak_heap hak_heap;

static int config_valid(const struct hak_config *cfg)
{
	return cfg && cfg->provider.alloc && cfg->provider.release &&
	       cfg->ncpus >= 1 && cfg->ncpus <= HAK_MAX_CPUS;
}

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	return x ^ (x >> 33);
}

int hak_init(const struct hak_config *cfg)
{
	if (!config_valid(cfg) || hak_heap.ready)
		return -1;
	hak_memcpy(&hak_heap.cfg, cfg, sizeof(*cfg));
	hak_heap.ncpus = cfg->ncpus;
	hak_sizeclass_init();
	hak_heap.secret = mix64((cfg->entropy ? cfg->entropy() : 0) ^
				hak_port_entropy() ^ (uintptr_t)&hak_heap);
	if (!hak_heap.secret)
		hak_heap.secret = 0x5bd1e9955bd1e995ULL;
	if (hak_pcpu_alloc_areas(cfg->ncpus))
		return -1;
	hak_port_set_ncpus(cfg->ncpus);
	__atomic_store_n(&hak_heap.ready, 1, __ATOMIC_RELEASE);
	return 0;
}
