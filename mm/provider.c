// SPDX-License-Identifier: MIT
/*
 * provider.c - every call to the embedder's page provider goes through
 * here, under the global lock, so the accounting (taken, returned, peak,
 * permanent metadata) is exact and the provider needs no lock of its own.
 */
#include "internal.h"

void *hak_provider_alloc(size_t bytes, size_t align, int meta)
{
	struct hak_page_provider *pp = &hak_heap.cfg.provider;
	uint64_t held;
	void *p;

	HAK_ASSERT(hak_lock_held(&hak_heap.lock));
	p = pp->alloc(pp->ctx, bytes, align);
	if (!p)
		return NULL;
	if ((uintptr_t)p & (align - 1))
		hak_panic("page provider returned a misaligned run");
	hak_heap.taken += bytes;
	if (meta)
		hak_heap.meta += bytes;
	held = hak_heap.taken - hak_heap.returned;
	if (held > hak_heap.peak_held)
		hak_heap.peak_held = held;
	return p;
}

void hak_provider_release(void *p, size_t bytes)
{
	struct hak_page_provider *pp = &hak_heap.cfg.provider;

	HAK_ASSERT(hak_lock_held(&hak_heap.lock));
	hak_heap.returned += bytes;
	pp->release(pp->ctx, p, bytes);
}
