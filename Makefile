# SPDX-License-Identifier: MIT
#
# hakmem - top-level Makefile, kernel style.
#
#   make                      everything: host libs, freestanding libs and
#                             QEMU images for x86_64 and aarch64
#   make test                 every test (host, sanitizers, link checks, QEMU)
#   make test-host            host tests (plain, ASan+UBSan, TSan)
#   make test-qemu            the QEMU matrix
#   make run [ARCH=aarch64]   boot the demo on 4 CPUs in QEMU
#   make bench, bench-icount  benchmarks (bench/)
#   V=1                       show commands
#   ARCH=, CROSS_COMPILE=     e.g. make ARCH=aarch64 CROSS_COMPILE=aarch64-linux-gnu-

ARCH ?= x86_64
V ?= 0
DEBUG ?= 0
ifeq ($(V),1)
Q :=
else
Q := @
endif

# make DEBUG=1: red zones, poison and alloc/free records (mm/debug.c), in
# a tree of its own.
ifeq ($(DEBUG),1)
B := build/debug
DBG_FLAGS := -DHAK_DEBUG=1
else
B := build
DBG_FLAGS :=
endif
HOST_ARCH := $(shell uname -m)

# Each arch's compiler: CROSS_COMPILE when it is the ARCH being built, else
# the native compiler on that host, else the Debian cross compiler.
cross_for = $(if $(and $(filter $(1),$(ARCH)),$(CROSS_COMPILE)),$(CROSS_COMPILE),$(if $(filter $(1),$(HOST_ARCH)),,$(1)-linux-gnu-))
X86_CROSS := $(call cross_for,x86_64)
A64_CROSS := $(call cross_for,aarch64)
RV_CROSS := $(call cross_for,riscv64)
X86_CC := $(X86_CROSS)gcc
A64_CC := $(A64_CROSS)gcc
RV_CC := $(RV_CROSS)gcc
HOST_CC ?= gcc
CLANG ?= clang

MM_SRCS := $(sort $(wildcard mm/*.c))
HOSTED_SRCS := port/hosted/hosted.c port/hosted/arena.c

WARN := -Wall -Wextra -Werror
# An embedder's own flags, added to every freestanding library and QEMU
# image compile (both arches: name a target for an arch-only flag, e.g.
# make EXTRA_CFLAGS=-mcmodel=kernel build/x86_64/libhakmem.a). KCFLAGS,
# the kernel's name for the same knob, is appended too.
EMBED_CFLAGS := $(EXTRA_CFLAGS) $(KCFLAGS)
# Kernel code (the library, the QEMU boards, the test images): no libc, no
# builtins turned into libc calls. Per-arch flags: arch/<arch>/arch.mk.
include arch/x86_64/arch.mk arch/aarch64/arch.mk arch/riscv64/arch.mk
KERNEL_CFLAGS := -std=gnu11 -O2 -g -ffreestanding -nostdlib -fno-pic -fno-pie \
		 -fno-stack-protector -fno-tree-loop-distribute-patterns $(WARN)
FS_CFLAGS := $(KERNEL_CFLAGS) $(DBG_FLAGS) -Iinclude -Iport/baremetal/include \
	     $(EMBED_CFLAGS)
X86_FS_CFLAGS := $(FS_CFLAGS) -Iarch/x86_64/include $(ARCH_CFLAGS_x86_64)
A64_FS_CFLAGS := $(FS_CFLAGS) -Iarch/aarch64/include $(ARCH_CFLAGS_aarch64)
RV_FS_CFLAGS := $(FS_CFLAGS) -Iarch/riscv64/include $(ARCH_CFLAGS_riscv64)

# The hosted port's build-time choices (include/hakmem/config.h). 32
# transfer batches a class, not 8: sh6bench-1t 9% and sh8bench-1t 5-7%
# faster, the rest within noise, peak RSS unchanged (docs/performance.md).
# Shard-lock holds of up to 64 objects and 32 slabs, not 16 and 8 (those
# bound bare metal's IRQ-off windows; here nothing is masked): sh8bench-1t
# takes 58% fewer holds and 5.6% fewer instructions (docs/performance.md).
# 8 lanes of partial slabs a class, not 1: a CPU's refills take back the
# slabs its own frees filled (sh8bench-2t 8.5 -> 7.1 s, sh6bench-2t 2.17
# -> 1.97 s; docs/performance.md "Lanes").
HOSTED_DEFS := -DHAK_TRANSFER_BATCHES=32 -DHAK_HOLD_OBJECTS=64 -DHAK_HOLD_SLABS=32 \
	       -DHAK_LANES=8
# The hosted port's generated header (rseq_tp.h, below) is found in HOST_GEN.
HOST_GEN := $(B)/host/gen
HOST_CFLAGS := -std=gnu11 -O2 -g -fPIC -fvisibility=hidden $(HOSTED_DEFS) \
	       -fno-semantic-interposition $(WARN) $(DBG_FLAGS) -Iinclude \
	       -Iarch/$(HOST_ARCH)/include -Iport/hosted/include -Iport/hosted \
	       -I$(HOST_GEN)

ASAN_FLAGS := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
	      -fno-sanitize-recover=undefined
# TSan cannot see the ordering an rseq section and the membarrier fence
# give, so its build checks the trylock fallback (every access in C).
TSAN_FLAGS := -O1 -fsanitize=thread -DHAK_HOSTED_NO_RSEQ_BUILD

# Flag stamps. $(call flags_stamp,dir,flags) names dir/.flags and records
# flags for it. Its rule runs whenever a target that needs it is built
# (FORCE) and rewrites the file only when the flags differ from what it
# holds, so the objects that depend on it rebuild exactly when their
# flags change (make HOSTED_DEFS=..., an edit of the flags here,
# EXTRA_CFLAGS); make alone cannot see a changed command line. Nothing
# runs while the Makefile is read: print-%, test-list or clean write no
# stamp, and a make for one tree leaves the others' alone.
sq = $(subst ','\'',$(1))
flags_stamp = $(eval STAMP_FLAGS_$(1)/.flags := $(2))$(1)/.flags
.PHONY: FORCE
FORCE:
%/.flags: FORCE
	@mkdir -p $(dir $@)
	@printf '%s\n' '$(call sq,$(STAMP_FLAGS_$@))' | cmp -s - $@ || \
		printf '%s\n' '$(call sq,$(STAMP_FLAGS_$@))' >$@

.PHONY: all host freestanding images preflight test test-host test-unit test-asan \
	test-tsan test-nm test-qemu run bench bench-icount fuzz format clean \
	test-list
all: host freestanding images

# ---- host (the hosted port) -------------------------------------------

# Every header a hosted object may include, and the shared library's link
# (bench/bench.mk builds a second one for valgrind).
HOST_HDRS := $(wildcard include/*.h include/hakmem/*.h mm/*.h port/hosted/*.h port/hosted/include/hakmem/*.h port/hosted/include/hakmem/rseq/*.h arch/$(HOST_ARCH)/include/hakmem/*.h) \
	     $(HOST_GEN)/hak_rseq_tp.h
HOST_SO_LD = $(HOST_CC) -shared -Wl,-Bsymbolic-functions -o $@ $^ -lpthread

HOST_OBJS := $(patsubst %.c,$(B)/host/obj/%.o,$(MM_SRCS) $(HOSTED_SRCS))
HOST_SO_OBJS := $(filter-out %/malloc_names.o %/mm/malloc.o,$(HOST_OBJS)) \
		$(B)/host/obj/mm/malloc_names.export.o \
		$(B)/host/obj/mm/malloc.export.o

HOST_STAMP := $(call flags_stamp,$(B)/host,$(HOST_CC) $(HOST_CFLAGS))

# glibc's rseq area offset from the thread pointer, as this machine's
# glibc has it (port/hosted/rseq_tp_probe.c; the x86_64 sections use it
# when the running glibc's is the same). A probe that cannot be built or
# run here (glibc before 2.35, a cross compiler) gives a header without
# it, and the sections read the offset from a variable as before.
# Made again when the compiler or its flags change (the stamp) or the
# system's C library does (a glibc upgrade may move the area).
HOST_LIBC := $(wildcard /lib/$(HOST_ARCH)-linux-gnu/libc.so.6)
$(HOST_GEN)/hak_rseq_tp.h: port/hosted/rseq_tp_probe.c $(HOST_STAMP) $(HOST_LIBC)
	@mkdir -p $(dir $@)
	@echo "  GEN     $@"
	$(Q)if $(HOST_CC) -o $(HOST_GEN)/rseq_tp_probe $< 2>/dev/null && \
		$(HOST_GEN)/rseq_tp_probe >$@.tmp; then mv $@.tmp $@; \
	else echo "  GEN     $@: no probe of glibc's rseq offset here (a cross compiler, glibc < 2.35)"; \
		echo '/* No probe of glibc here: no constant offset. */' >$@; \
		rm -f $@.tmp; fi

$(B)/host/obj/%.o: %.c $(HOST_HDRS) $(HOST_STAMP)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -c $< -o $@

$(B)/host/obj/mm/%.export.o: mm/%.c $(HOST_HDRS) $(HOST_STAMP)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -DHAK_EXPORT_MALLOC=1 -c $< -o $@

$(B)/host/libhakmem.a: $(HOST_OBJS)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

$(B)/host/libhakmem.so: $(HOST_SO_OBJS)
	@echo "  LD      $@"
	$(Q)$(HOST_SO_LD)

host: $(B)/host/libhakmem.a $(B)/host/libhakmem.so

# ---- freestanding libraries -------------------------------------------

# $(1) build dir, $(2) compiler, $(3) flags, $(4) the list of names kept
# global (default: the public API)
define fs_lib
$(1)/obj/%.o: %.c $(wildcard include/*.h include/hakmem/*.h mm/*.h arch/*/include/hakmem/*.h port/baremetal/include/hakmem/*.h) $(call flags_stamp,$(1),$(2) $(3))
	@mkdir -p $$(dir $$@)
	@echo "  CC      $$@"
	$(Q)$(2) $(3) -c $$< -o $$@
# What an embedder links: one object whose only global symbols are the
# public API (tests/public-syms.sh), so no internal name can collide with
# the kernel's own (a hak_panic of its own, say).
$(1)/libhakmem.a: $(patsubst %.c,$(1)/obj/%.o,$(MM_SRCS)) $(or $(4),$(B)/public.syms)
	@echo "  AR      $$@"
	$(Q)$(2:gcc=ld) -r -o $(1)/hakmem.o $$(filter %.o,$$^)
	$(Q)$(2:gcc=objcopy) --keep-global-symbols=$(or $(4),$(B)/public.syms) $(1)/hakmem.o
	$(Q)rm -f $$@ && $(2:gcc=ar) rcs $$@ $(1)/hakmem.o
# The same objects as they are, for the white-box test images that read
# hakmem's internals (tests/qemu/peek.c, icount.c, fail.c).
$(1)/libhakmem-internal.a: $(patsubst %.c,$(1)/obj/%.o,$(MM_SRCS))
	@echo "  AR      $$@"
	$(Q)rm -f $$@ && $(2:gcc=ar) rcs $$@ $$^
endef

$(B)/public.syms: include/hakmem.h tests/public-syms.sh
	@mkdir -p $(dir $@)
	$(Q)tests/public-syms.sh >$@

# The public API plus the standard malloc names (HAK_EXPORT_MALLOC=1).
$(B)/malloc.syms: include/hakmem.h mm/malloc_names.c tests/public-syms.sh
	@mkdir -p $(dir $@)
	$(Q)tests/public-syms.sh malloc >$@

$(eval $(call fs_lib,$(B)/x86_64,$(X86_CC),$(X86_FS_CFLAGS)))
$(eval $(call fs_lib,$(B)/aarch64-llsc,$(A64_CC),$(A64_FS_CFLAGS) $(ARCH_MARCH_aarch64-llsc)))
$(eval $(call fs_lib,$(B)/aarch64-lse,$(A64_CC),$(A64_FS_CFLAGS) $(ARCH_MARCH_aarch64-lse)))
# For a higher-half x86_64 kernel: symbols in the top 2 GiB.
$(eval $(call fs_lib,$(B)/x86_64-kernel,$(X86_CC),$(X86_FS_CFLAGS) -mcmodel=kernel))

$(eval $(call fs_lib,$(B)/riscv64,$(RV_CC),$(RV_FS_CFLAGS)))

FS_LIBS := $(B)/x86_64/libhakmem.a $(B)/aarch64-llsc/libhakmem.a \
	   $(B)/aarch64-lse/libhakmem.a $(B)/x86_64-kernel/libhakmem.a \
	   $(B)/riscv64/libhakmem.a
freestanding: $(FS_LIBS)

include tests/qemu/qemu.mk
include tests/host/host.mk
include tests/fuzz/fuzz.mk
include tests/aarch64-linux/aarch64-linux.mk
-include bench/bench.mk

# ---- checks -----------------------------------------------------------

# The freestanding libraries must reference nothing outside themselves.
test-nm: $(FS_LIBS)
	$(Q)tests/check-nm.sh "$(X86_CROSS)" $(B)/x86_64/libhakmem.a
	$(Q)tests/check-nm.sh "$(X86_CROSS)" $(B)/x86_64-kernel/libhakmem.a
	$(Q)tests/check-nm.sh $(A64_CROSS) $(B)/aarch64-llsc/libhakmem.a
	$(Q)tests/check-nm.sh $(A64_CROSS) $(B)/aarch64-lse/libhakmem.a
	$(Q)tests/check-nm.sh $(RV_CROSS) $(B)/riscv64/libhakmem.a

# Every tool, header and library the tests use, each missing one named
# with its Debian package, before anything is built.
preflight:
	$(Q)tests/preflight.sh all

# The whole suite, release and debug builds.
test: preflight
	$(Q)$(MAKE) --no-print-directory all test-bins
	$(Q)$(MAKE) --no-print-directory DEBUG=1 test-bins freestanding
	$(Q)tests/run-all.sh all

# Intermediate objects (the fail-<mode> images') are kept, not rebuilt.
.SECONDARY:

# For scripts: `make -s print-VAR` prints a variable, so flags are written
# once (tests/aarch64-linux/run.sh takes the hosted flags from here).
print-%:
	@echo $($*)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(B)
