// SPDX-License-Identifier: MIT
/*
 * provider.c - every call to a heap's page provider goes through here.
 *
 * The books (taken, returned, peak, permanent metadata, and the bytes
 * charged to calls in flight) change only under the heap's lock, so the
 * heap's byte limit holds at every moment. The calls themselves are
 * serialised by the heap's provider lock, the innermost lock, held for
 * nothing but the call (and the advise_large hook after a large run's
 * alloc): so the provider needs no lock of its own, and a
 * caller may make the call with the heap's lock dropped (the large tier
 * does: an mmap or munmap is long, and every CPU waits on the heap's
 * lock). Such a call is charged first, under the heap's lock, settled
 * after; a release is made first and booked after, so what the heap
 * counts as held is never less than what its provider has given it.
 */
#include "internal.h"

int hak_provider_charge(struct hak_heap *h, size_t bytes)
{
	uint64_t held = h->taken - h->returned + h->charged;

	HAK_ASSERT(hak_lock_held(&h->lock));
	/* The limit counts what the heap holds from its provider: the
	 * memory a hypervisor charges the VM with. */
	if (h->limit && (bytes > h->limit || held > h->limit - bytes))
		return -1;
	h->charged += bytes;
	return 0;
}

/* Inline: the test of `large` folds away in each caller. */
static hak_always_inline void *provider_get(struct hak_heap *h, size_t bytes,
					    size_t align, int large)
{
	struct hak_page_provider *pp = &h->cfg.provider;
	unsigned long flags = hak_lock(&h->provider_lock);
	void *p = pp->alloc(pp->ctx, bytes, align);

	if (large && p && pp->advise_large)
		pp->advise_large(pp->ctx, p, bytes);
	hak_unlock(&h->provider_lock, flags);
	if ((uintptr_t)p & (align - 1))
		hak_panic("page provider returned a misaligned run");
	return p;
}

void *hak_provider_get(struct hak_heap *h, size_t bytes, size_t align)
{
	return provider_get(h, bytes, align, 0);
}

void *hak_provider_get_large(struct hak_heap *h, size_t bytes, size_t align)
{
	return provider_get(h, bytes, align, 1);
}

void hak_provider_settle(struct hak_heap *h, size_t bytes, void *p, int meta)
{
	uint64_t held;

	HAK_ASSERT(hak_lock_held(&h->lock));
	h->charged -= bytes;
	if (!p)
		return;
	h->taken += bytes;
	if (meta)
		h->meta += bytes;
	held = h->taken - h->returned;
	if (held > h->peak_held)
		h->peak_held = held;
}

void hak_provider_put(struct hak_heap *h, void *p, size_t bytes)
{
	struct hak_page_provider *pp = &h->cfg.provider;
	unsigned long flags = hak_lock(&h->provider_lock);

	pp->release(pp->ctx, p, bytes);
	hak_unlock(&h->provider_lock, flags);
}

void hak_provider_put_meta(struct hak_heap *h, void *p, size_t bytes)
{
	unsigned long flags;

	__atomic_add_fetch(&h->releasing, bytes, __ATOMIC_RELAXED);
	hak_provider_put(h, p, bytes);
	flags = hak_lock(&h->lock);
	h->meta -= bytes;
	h->returned += bytes;
	__atomic_sub_fetch(&h->releasing, bytes, __ATOMIC_RELAXED);
	hak_unlock(&h->lock, flags);
}

void *hak_provider_alloc(struct hak_heap *h, size_t bytes, size_t align,
			 int meta)
{
	void *p;

	if (hak_provider_charge(h, bytes))
		return NULL;
	p = hak_provider_get(h, bytes, align);
	hak_provider_settle(h, bytes, p, meta);
	return p;
}

void hak_provider_release(struct hak_heap *h, void *p, size_t bytes)
{
	HAK_ASSERT(hak_lock_held(&h->lock));
	hak_provider_put(h, p, bytes);
	h->returned += bytes;
}

void *hak_provider_alloc_unlocked(struct hak_heap *h, size_t bytes,
				  size_t align, int meta)
{
	unsigned long flags = hak_lock(&h->lock);
	int charged = !hak_provider_charge(h, bytes);
	void *p = NULL;

	hak_unlock(&h->lock, flags);
	if (!charged)
		return NULL;
	p = hak_provider_get(h, bytes, align);
	flags = hak_lock(&h->lock);
	hak_provider_settle(h, bytes, p, meta);
	hak_unlock(&h->lock, flags);
	return p;
}

void hak_pending_add(struct hak_pending *pd, void *p, size_t bytes)
{
	HAK_ASSERT(pd->n < HAK_PENDING_MAX && pd->h);
	/* Seen from the hold that takes the run off the books (an atomic:
	 * a run the caller holds is added with no lock) to its booking. */
	__atomic_add_fetch(&pd->h->releasing, bytes, __ATOMIC_RELAXED);
	pd->run[pd->n].p = p;
	pd->run[pd->n].bytes = bytes;
	pd->n++;
}

void hak_provider_release_pending(struct hak_heap *h, struct hak_pending *pd)
{
	unsigned long flags;
	uint64_t bytes = 0;
	unsigned i;

	HAK_ASSERT(pd->h == h);
	if (!pd->n)
		return;
	for (i = 0; i < pd->n; i++) {
		hak_provider_put(h, pd->run[i].p, pd->run[i].bytes);
		bytes += pd->run[i].bytes;
	}
	pd->n = 0;
	flags = hak_lock(&h->lock);
	h->returned += bytes;
	__atomic_sub_fetch(&h->releasing, bytes, __ATOMIC_RELAXED);
	hak_unlock(&h->lock, flags);
}
