// SPDX-License-Identifier: MIT
/*
 * provider.c - every call to a heap's page provider goes through here,
 * under that heap's lock, so the accounting (taken, returned, peak,
 * permanent metadata) is exact, the heap's byte limit holds at every
 * moment, and the provider needs no lock of its own.
 */
#include "internal.h"

void *hak_provider_alloc(struct hak_heap *h, size_t bytes, size_t align,
			 int meta)
{
	struct hak_page_provider *pp = &h->cfg.provider;
	uint64_t held = h->taken - h->returned;
	void *p;

	HAK_ASSERT(hak_lock_held(&h->lock));
	/* The limit counts what the heap holds from its provider: the
	 * memory a hypervisor charges the VM with. */
	if (h->limit && (bytes > h->limit || held > h->limit - bytes))
		return NULL;
	p = pp->alloc(pp->ctx, bytes, align);
	if (!p)
		return NULL;
	if ((uintptr_t)p & (align - 1))
		hak_panic("page provider returned a misaligned run");
	h->taken += bytes;
	if (meta)
		h->meta += bytes;
	held += bytes;
	if (held > h->peak_held)
		h->peak_held = held;
	return p;
}

void hak_provider_release(struct hak_heap *h, void *p, size_t bytes)
{
	struct hak_page_provider *pp = &h->cfg.provider;

	HAK_ASSERT(hak_lock_held(&h->lock));
	h->returned += bytes;
	pp->release(pp->ctx, p, bytes);
}
