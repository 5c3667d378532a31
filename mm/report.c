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
	[HAK_EV_BUFFER_OVERFLOW] = "buffer overflow",
	[HAK_EV_USE_AFTER_FREE] = "use after free",
	[HAK_EV_MISUSE] = "API misuse",
	[HAK_EV_LEAK] = "leak",
};

const char *hak_event_name(enum hak_event ev)
{
	if ((unsigned)ev >= HAK_EV__COUNT)
		return "unknown";
	return event_names[ev];
}

/* Field by field: a struct copy or initialiser may become a memcpy call,
 * which the freestanding library must not reference. */
void hak_report_init(struct hak_report *r, enum hak_event ev, const void *ptr,
		     size_t size, const char *what)
{
	r->event = ev;
	r->ptr = ptr;
	r->size = size;
	r->cpu = 0;
	r->what = what;
	r->alloc_site = NULL;
	r->free_site = NULL;
	r->alloc_cpu = -1;
	r->free_cpu = -1;
}

/* Every report is counted in hak_stats and stamped with the CPU. */
static void report_count(struct hak_report *r)
{
	__atomic_fetch_add(&hak_heap.events[r->event], 1, __ATOMIC_RELAXED);
	r->cpu = hak_port_cpu_hint();
}

void hak_report_full(struct hak_report *r)
{
	/* Every failed allocation is reported: the standard names' errno. */
	if (r->event == HAK_EV_BAD_ALIGNMENT)
		hak_port_set_errno(HAK_EINVAL);
	else if (r->event == HAK_EV_OUT_OF_MEMORY ||
		 r->event == HAK_EV_SIZE_OVERFLOW ||
		 r->event == HAK_EV_NOT_INITIALISED)
		hak_port_set_errno(HAK_ENOMEM);
	report_count(r);
	/* Before hak_init installed the embedder's hook (a bad free before
	 * the hosted library's first malloc, say), the port's own sink. */
	if (hak_heap.cfg.report)
		hak_heap.cfg.report(r, hak_heap.cfg.report_ctx);
	else if (!__atomic_load_n(&hak_heap.ready, __ATOMIC_ACQUIRE))
		hak_port_report_fallback(r);
}

void hak_report_to_port(enum hak_event ev, const void *ptr, size_t size,
			const char *what)
{
	struct hak_report r;

	hak_report_init(&r, ev, ptr, size, what);
	report_count(&r);
	hak_port_report_fallback(&r);
}

void hak_report(enum hak_event ev, const void *ptr, size_t size,
		const char *what)
{
	struct hak_report r;

	hak_report_init(&r, ev, ptr, size, what);
	hak_report_full(&r);
}

/*
 * A created heap's report: its what names the heap ("heap vm2: ..."), it
 * is counted in the heap's events, and it goes to the heap's sink, else
 * to the default heap's (not counted there: hak_stats of the default heap
 * counts its own).
 */
void hak_report_heap(struct hak_heap *h, enum hak_event ev, const void *ptr,
		     size_t size, const char *what)
{
	char msg[160], *m = msg, *end = msg + sizeof(msg);
	struct hak_report r;

	if (h == &hak_heap) {
		hak_report(ev, ptr, size, what);
		return;
	}
	m = hak_fmt_str(m, end, "heap ");
	m = hak_fmt_str(m, end, h->name);
	m = hak_fmt_str(m, end, ": ");
	hak_fmt_str(m, end, what);
	hak_report_init(&r, ev, ptr, size, msg);
	if (ev == HAK_EV_OUT_OF_MEMORY || ev == HAK_EV_SIZE_OVERFLOW)
		hak_port_set_errno(HAK_ENOMEM);
	else if (ev == HAK_EV_BAD_ALIGNMENT)
		hak_port_set_errno(HAK_EINVAL);
	__atomic_fetch_add(&h->events[ev], 1, __ATOMIC_RELAXED);
	r.cpu = hak_port_cpu_hint();
	if (h->cfg.report)
		h->cfg.report(&r, h->cfg.report_ctx);
	else if (hak_heap.cfg.report)
		hak_heap.cfg.report(&r, hak_heap.cfg.report_ctx);
}

void hak_assert_fail(const char *cond, const char *file, int line)
{
	char msg[200], *m = msg, *end = msg + sizeof(msg);

	m = hak_fmt_str(m, end, "hakmem: assertion failed: ");
	m = hak_fmt_str(m, end, cond);
	m = hak_fmt_str(m, end, " (");
	m = hak_fmt_str(m, end, file);
	m = hak_fmt_str(m, end, ":");
	m = hak_fmt_uint(m, end, (uint64_t)line, 10);
	hak_fmt_str(m, end, ")");
	hak_panic(msg);
}

void hak_panic(const char *msg)
{
	if (hak_heap.cfg.panic)
		hak_heap.cfg.panic(msg);
	hak_port_trap();
	__builtin_unreachable();
}
