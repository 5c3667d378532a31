/* SPDX-License-Identifier: MIT */
/*
 * board.h - what the QEMU test images get from boards/<arch>/.
 *
 * The board layer boots one CPU, brings up the others, gives a serial
 * console, a per-CPU periodic timer interrupt, and a way to end the run
 * with a status QEMU turns into its exit code. It is test/demo support,
 * not part of the allocator library.
 *
 * After boot each CPU's dense index 0..n-1 is what arch_cpu_id() returns,
 * from whichever id source the image was built for (hakmem/arch_impl.h):
 * x86_64 the GS per-CPU area at ARCH_X86_GS_CPU_OFFSET, or TSC_AUX for
 * RDPID; aarch64 TPIDR_EL1 (or ARCH_A64_CPU_ID_SYSREG) holding the index,
 * or a per-CPU base with the index at ARCH_A64_CPU_ID_OFFSET.
 */
#ifndef HAKMEM_TESTS_QEMU_BOARD_H
#define HAKMEM_TESTS_QEMU_BOARD_H

#include <stddef.h>

/* Heap bounds exported by linker/<arch>.ld (page aligned). */
extern char __heap_start[];
extern char __heap_end[];

/* Entry point of the image, called on CPU 0 with IRQs masked. */
void test_main(void);

/* Write one character / a string to the serial console. Not locked:
 * callers that print from several CPUs serialise themselves. */
void board_putc(char c);
void board_puts(const char *s);
/* A number in decimal / in hex with "0x" (print.c). */
void board_putdec(unsigned long v);
void board_puthex(unsigned long v);

/* Number of CPUs QEMU gave the machine (-smp N), known after boot. */
unsigned board_ncpus(void);

/*
 * Start every secondary CPU; each runs fn(cpu) with its own stack, IRQs
 * masked and arch_cpu_id() == cpu. When fn returns the CPU parks (wfi/hlt
 * loop with IRQs masked). Returns once every secondary has entered fn.
 */
void board_start_secondaries(void (*fn)(unsigned cpu));

/*
 * Start a periodic timer interrupt on the calling CPU: handler(cpu) runs in
 * IRQ context about every period_us microseconds while IRQs are unmasked on
 * that CPU. board_timer_stop() stops it on the calling CPU.
 */
void board_timer_start(unsigned period_us, void (*handler)(unsigned cpu));
void board_timer_stop(void);

/* Unmask / mask IRQs on the calling CPU. */
void board_irq_enable(void);
void board_irq_disable(void);

/* A monotonic counter (TSC / CNTVCT) and its frequency in Hz (0 if unknown). */
unsigned long board_ticks(void);
unsigned long board_tick_hz(void);

/*
 * Misuse tests only (tests/qemu/fail.c): make arch_cpu_id() on the calling
 * CPU return id from now on, as a kernel with a wrong id setup would; or
 * leave its id source as a kernel that forgot to set it up would (x86_64:
 * GS base 0, or TSC_AUX 0 for RDPID; aarch64: the id register 0). The
 * board's own per-CPU data is not reachable afterwards: no timer on that
 * CPU.
 */
void board_set_cpu_id(unsigned id);
void board_unset_cpu_id(void);

/* End the run: status 0 = pass, anything else = fail. Never returns.
 * Any CPU may call it. */
__attribute__((noreturn)) void board_exit(int status);

#endif
