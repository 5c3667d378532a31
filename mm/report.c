// SPDX-License-Identifier: MIT
/*
 * report.c - the report and panic sinks. Every bad-input event is counted
 * (hak_stats().events) and handed to the embedder's hook, if any; the heap
 * is left as it was before the bad call.
 */
#include "internal.h"

static const char *const event_names[HAK_EV__COUNT] = {
	[0] = "none",
	[HAK_EV_DOUBLE_FREE] = "double free",
	[HAK_EV_INVALID_FREE] = "invalid free",
	[HAK_EV_INTERIOR_FREE] = "interior free",
	[HAK_EV_BAD_ALIGNMENT] = "bad alignment",
	[HAK_EV_SIZE_OVERFLOW] = "size overflow",
	[HAK_EV_OUT_OF_MEMORY] = "out of memory",
	[HAK_EV_CORRUPTION] = "corruption",
	[HAK_EV_NOT_INITIALISED] = "not initialised",
};

const char *hak_event_name(enum hak_event ev)
{
	if ((unsigned)ev >= HAK_EV__COUNT)
		return "unknown";
	return event_names[ev];
}

void hak_report(enum hak_event ev, const void *ptr, size_t size,
		const char *what)
{
	struct hak_report r;

	__atomic_fetch_add(&hak_heap.events[ev], 1, __ATOMIC_RELAXED);
	if (!hak_heap.cfg.report)
		return;
	r.event = ev;
	r.ptr = ptr;
	r.size = size;
	r.cpu = hak_port_cpu_hint();
	r.what = what;
	hak_heap.cfg.report(&r, hak_heap.cfg.report_ctx);
}

void hak_panic(const char *msg)
{
	if (hak_heap.cfg.panic)
		hak_heap.cfg.panic(msg);
	hak_port_trap();
	__builtin_unreachable();
}
