# SPDX-License-Identifier: MIT
# aarch64 QEMU -M virt board: variables only, included by tests/qemu/qemu.mk,
# which adds -march (armv8-a for LL/SC images, armv8.1-a for LSE images),
# the include paths, and -T $(BOARD_LDSCRIPT).

BOARD_SRCS := boards/print.c \
	boards/aarch64/start.S \
	boards/aarch64/board.c \
	boards/aarch64/gic.c \
	boards/aarch64/fdt.c

# The top Makefile's KERNEL_CFLAGS and arch/aarch64/arch.mk; qemu.mk adds
# the flavour's -march and the include paths.
BOARD_CFLAGS := $(KERNEL_CFLAGS) $(ARCH_CFLAGS_aarch64)

BOARD_LDFLAGS := -static -nostdlib -no-pie
BOARD_LDSCRIPT := linker/aarch64.ld

# GICv3 so up to 64 CPUs work (QEMU's GICv2 stops at 8); the board code
# probes the GIC and also runs with the default GICv2. Append -cpu, -smp
# and -kernel. Exit code = board_exit() status via semihosting.
QEMU_BASE := qemu-system-aarch64 -M virt,gic-version=3 -m 256M \
	-display none -nodefaults -serial stdio -semihosting -no-reboot
QEMU_LLSC_CPU := cortex-a72
QEMU_LSE_CPU := max
QEMU_PASS_CODE := 0
