# SPDX-License-Identifier: MIT
# The compile flags hakmem's freestanding code needs on x86_64, written
# only here: the library, the QEMU boards and the test images use them.
#   -mno-red-zone         an interrupt would overwrite the 128 bytes below
#                         the stack pointer that leaf code may use
#   -mgeneral-regs-only   interrupt handlers save no FPU/SSE state
ARCH_CFLAGS_x86_64 := -mno-red-zone -mgeneral-regs-only
