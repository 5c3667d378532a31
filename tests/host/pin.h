/* SPDX-License-Identifier: MIT */
/*
 * pin.h - pin the calling thread to one CPU, so that it plays that CPU's
 * cache (hosted rseq follows the CPU a thread runs on). Tests that
 * include it define _GNU_SOURCE before any header.
 */
#ifndef HAKMEM_TESTS_PIN_H
#define HAKMEM_TESTS_PIN_H

#ifndef _GNU_SOURCE
#error "pin.h needs _GNU_SOURCE, defined before the first #include"
#endif
#include <pthread.h>
#include <sched.h>

#include "check.h"

static inline void pin(unsigned cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	CHECK(!pthread_setaffinity_np(pthread_self(), sizeof(set), &set),
	      "pin to cpu %u", cpu);
}

#endif /* HAKMEM_TESTS_PIN_H */
