/* SPDX-License-Identifier: MIT */
/*
 * hakmem_hosted.h - extras of the hosted (Linux user-space) port, for
 * tests and embedders that call hak_init themselves on Linux.
 */
#ifndef HAKMEM_HOSTED_H
#define HAKMEM_HOSTED_H

#include "hakmem.h"

#pragma GCC visibility push(default)

/* The page provider the hosted port initialises with: superslabs from a
 * reserved 64 GiB of address space (a span, so free() uses the slab map),
 * the rest from mmap (port/hosted/arena.c). One arena per process: every
 * call returns it, and it takes no lock of its own (one heap's provider
 * calls are serialised by that heap): give it to hak_init only, not to
 * hak_heap_create (a created heap takes hak_hosted_mmap_provider()). */
struct hak_page_provider hak_hosted_arena_provider(void);
/* Plain mmap for everything, no span (free() walks the page map). */
struct hak_page_provider hak_hosted_mmap_provider(void);
/* CPUs the kernel may run us on (capped at HAK_MAX_CPUS; when sysfs
 * cannot say, those this thread may run on). */
unsigned hak_hosted_possible_cpus(void);
/* A report hook: one line on stderr, no allocation. */
void hak_hosted_report_stderr(const struct hak_report *r, void *ctx);
/* The hook the lazy init installs: silent for failed allocations (the
 * caller sees NULL and errno), one line then abort() for heap misuse
 * (print and continue when built with HAK_HOSTED_REPORT_CONTINUE=1). */
void hak_hosted_report_default(const struct hak_report *r, void *ctx);
/* Its panic hook: the message on stderr, then abort(). */
void hak_hosted_panic_default(const char *msg);

#pragma GCC visibility pop

#endif
