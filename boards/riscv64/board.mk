# SPDX-License-Identifier: MIT
# riscv64 QEMU -M virt board (S-mode under OpenSBI): variables only,
# included by tests/qemu/qemu.mk.

BOARD_SRCS := boards/print.c boards/riscv64/start.S boards/riscv64/board.c \
	      boards/libc.c

# The top Makefile's KERNEL_CFLAGS and arch/riscv64/arch.mk.
BOARD_CFLAGS := $(KERNEL_CFLAGS) $(ARCH_CFLAGS_riscv64) \
		-Iinclude -Iarch/riscv64/include -Iboards

BOARD_LDSCRIPT := linker/riscv64.ld
BOARD_LDFLAGS := -static -nostdlib -no-pie -T $(BOARD_LDSCRIPT) \
		 -Wl,--build-id=none -Wl,-z,max-page-size=0x1000

# QEMU's default firmware is OpenSBI (fw_dynamic): it starts the boot hart
# at 0x80200000 in S-mode with a0 = hart id, a1 = DTB, and holds the others
# until SBI HSM hart_start. Append -smp and -kernel. Exit through the
# SiFive test device: 0x5555 is a pass (exit code 0).
QEMU_BASE := qemu-system-riscv64 -M virt -m 256M -display none -nodefaults \
	     -serial stdio -no-reboot -bios default
QEMU_PASS_CODE := 0
