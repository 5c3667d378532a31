# SPDX-License-Identifier: MIT
# The compile flags hakmem's freestanding code needs on riscv64, written
# only here: the library, the QEMU board and the test images use them.
#   -march=rv64imac_zicsr_zifencei -mabi=lp64   integer registers only (IRQ
#                         handlers save no FP state), A for the atomics
#   -mcmodel=medany       code and data anywhere (kernels run at 2 GiB+)
#   -mstrict-align        no misaligned access (it traps or is emulated)
ARCH_CFLAGS_riscv64 := -march=rv64imac_zicsr_zifencei -mabi=lp64 \
	-mcmodel=medany -mstrict-align
