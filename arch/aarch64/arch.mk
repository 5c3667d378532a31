# SPDX-License-Identifier: MIT
# The compile flags hakmem's freestanding code needs on aarch64, written
# only here: the library, the QEMU boards and the test images use them.
#   -mgeneral-regs-only   interrupt handlers save no FP/SIMD state
#   -mstrict-align        no unaligned access (device memory, MMU off)
#   -mno-outline-atomics  atomics inline: -nostdlib has no libgcc helpers
# and per flavour the atomics: LDXR/STXR (v8.0) or LSE (v8.1).
ARCH_CFLAGS_aarch64 := -mgeneral-regs-only -mstrict-align -mno-outline-atomics
ARCH_MARCH_aarch64-llsc := -march=armv8-a
ARCH_MARCH_aarch64-lse := -march=armv8.1-a
