/* SPDX-License-Identifier: MIT */
/*
 * hakmem/arch_test.h - test-only hooks an arch_impl.h calls when built
 * with -DHAK_TEST_IRQ_WINDOW (never a shipped library): the IRQ-window
 * image of tests/qemu/icount.c defines them to time every window with
 * IRQs masked. Each arch calls hak_test_irq_off right after IRQs go from
 * enabled to masked and hak_test_irq_on right before they go back.
 */
#ifndef HAKMEM_ARCH_TEST_H
#define HAKMEM_ARCH_TEST_H

#ifdef HAK_TEST_IRQ_WINDOW
void hak_test_irq_off(void);
void hak_test_irq_on(void);
#endif

#endif /* HAKMEM_ARCH_TEST_H */
