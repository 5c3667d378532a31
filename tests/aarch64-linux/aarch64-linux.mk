# SPDX-License-Identifier: MIT
# The hosted port on aarch64 Linux: the host tests cross-compiled
# statically, booted in QEMU (TCG) with a Debian arm64 kernel, with the
# arch/aarch64 rseq sections (tests/aarch64-linux/run.sh). Slow under TCG
# (about 3 min), so `make test` runs a quick subset (about 1 min). Needs
# the kernel setup.sh unpacks (or HAK_A64_KERNEL=path);
# HAK_A64_TESTS=test_mt,test_stress runs a subset.

.PHONY: test-aarch64-linux
test-aarch64-linux:
	$(Q)tests/aarch64-linux/run.sh
