# SPDX-License-Identifier: MIT
# The hosted port on aarch64 Linux: the host tests cross-compiled
# statically, booted in QEMU (TCG) with a Debian arm64 kernel, with the
# arch/aarch64 rseq sections (tests/aarch64-linux/run.sh). Slow under TCG
# (about 3 min), so `make test` runs a quick subset (about 1 min). Needs
# the kernel setup.sh unpacks (or HAK_A64_KERNEL=path);
# HAK_A64_TESTS=test_mt,test_stress runs a subset.
#
# make icount-aarch64-linux: the same port's fast-path hits counted in
# exact user-space instructions (perf's instructions event under QEMU
# -icount shift=0), rseq and trylock, against bounds (about 15 s; in
# `make test`). Table in docs/guarantees.md.

.PHONY: test-aarch64-linux icount-aarch64-linux
test-aarch64-linux:
	$(Q)tests/aarch64-linux/run.sh

icount-aarch64-linux:
	$(Q)tests/aarch64-linux/icount.sh
