# SPDX-License-Identifier: MIT
# x86_64 QEMU board: variables only, included by tests/qemu/qemu.mk.
# Paths are relative to the repository root.

BOARD_SRCS := boards/print.c boards/x86_64/boot.S \
	      boards/x86_64/board.c \
	      boards/x86_64/mem.c

# For the board and the test images (the top Makefile's KERNEL_CFLAGS
# and arch/x86_64/arch.mk). -Iboards finds board.h.
BOARD_CFLAGS := $(KERNEL_CFLAGS) $(ARCH_CFLAGS_x86_64) \
		-Iinclude -Iarch/x86_64/include -Iboards

BOARD_LDSCRIPT := linker/x86_64.ld
# Already carries -T $(BOARD_LDSCRIPT); do not add a second -T.
BOARD_LDFLAGS := -no-pie -static -nostdlib -T $(BOARD_LDSCRIPT) \
		 -Wl,--build-id=none -Wl,-z,max-page-size=0x1000

# The higher-half variant: linked at BOARD_HIGH_VMA + 1 MiB, loaded at
# 1 MiB, everything in it (board, tests, libhakmem.a) in the kernel code
# model. BOARD_HIGH_VMA must match BOARD_HIGH_LDSCRIPT's KERNEL_VMA (the
# script checks).
BOARD_HIGH_VMA := 0xffffffff80000000
BOARD_HIGH_CFLAGS := $(BOARD_CFLAGS) -mcmodel=kernel \
		     -DBOARD_KERNEL_VMA=$(BOARD_HIGH_VMA)
BOARD_HIGH_LDSCRIPT := linker/x86_64-high.ld
BOARD_HIGH_LDFLAGS := $(BOARD_LDFLAGS:$(BOARD_LDSCRIPT)=$(BOARD_HIGH_LDSCRIPT))

# Add -smp N -kernel IMAGE. TCG only (no -enable-kvm); -cpu max for RDTSCP.
QEMU_BASE := qemu-system-x86_64 -M q35 -cpu max -m 256M -nodefaults \
	     -display none -serial stdio -no-reboot \
	     -device isa-debug-exit,iobase=0xf4,iosize=0x04
# isa-debug-exit: board_exit(0) writes 0x10 -> exit 33; failure 0x11 -> 35.
QEMU_PASS_CODE := 33
