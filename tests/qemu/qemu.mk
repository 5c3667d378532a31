# SPDX-License-Identifier: MIT
#
# tests/qemu/qemu.mk - the QEMU images, included by the top Makefile.
#
#   make images               every image below
#   make test-qemu            the matrix (tests/qemu/run-matrix.sh)
#   make run [ARCH=aarch64]   boot the demo on 4 CPUs (x86_64, or the
#                             aarch64 LSE image on -cpu max)
#   make run DEMO=lua [ARCH=] Lua 5.4 on picolibc + hakmem, 4 CPUs
#                             (tests/qemu/lua/lua.mk; aarch64 for the
#                             default x86_64, or riscv64)
#   make run DEMO=hypervisor [ARCH=]  four VM heaps and their object
#                             caches on 4 CPUs: a limit hit, a VM killed
#                             while the others run, each heap's stats
#
# Images: build/qemu/<flavour>/<name>.elf, flavour x86_64, aarch64-llsc
# (-march=armv8-a) or aarch64-lse (-march=armv8.1-a); each links the
# board, its test sources and the matching freestanding libhakmem.a.
# Flavour x86_64-kernel is the x86_64 suite as a higher-half kernel
# (linked at 0xffffffff80000000 + 1 MiB, -mcmodel=kernel, against
# build/x86_64-kernel/libhakmem.a); it builds the suite only. So do the
# second-id-source flavours x86_64-gsoff and aarch64-idoff (below).
#   suite        the in-guest test suite (tests/qemu/suite.c)
#   demo         what `make run` boots (tests/qemu/demo.c)
#   hypervisor   the board heap split between the default heap and four
#                VM heaps (hak_heap_create), their limits, object caches
#                and a forced destroy (tests/qemu/hypervisor.c)
#   smoke        board bring-up check (tests/qemu/smoke.c)
#   fail         deliberately failing: corrupts slab metadata
#   fail-<mode>  deliberately failing in other ways (tests/qemu/fail.c)
#   suite-debug  the suite built with -DHAK_DEBUG=1 against a debug
#                libhakmem.a (mm/debug.c: headers, red zones, poison)
#                that qemu.mk builds itself from $(MM_SRCS) with the
#                flavour's flags, into build/qemu/<flavour>/debug/

QB := $(B)/qemu

# Both board.mk files define the same names: copy each right after its
# include.
include boards/x86_64/board.mk
X86_BOARD_SRCS := $(BOARD_SRCS)
X86_BOARD_CFLAGS := $(BOARD_CFLAGS)
X86_BOARD_LDFLAGS := $(BOARD_LDFLAGS)
X86_BOARD_LDSCRIPT := $(BOARD_LDSCRIPT)
X86_HIGH_CFLAGS := $(BOARD_HIGH_CFLAGS)
X86_HIGH_LDFLAGS := $(BOARD_HIGH_LDFLAGS)
X86_HIGH_LDSCRIPT := $(BOARD_HIGH_LDSCRIPT) $(BOARD_LDSCRIPT)
include boards/aarch64/board.mk
A64_BOARD_SRCS := $(BOARD_SRCS)
A64_BOARD_CFLAGS := $(BOARD_CFLAGS)
A64_BOARD_LDFLAGS := $(BOARD_LDFLAGS) -T $(BOARD_LDSCRIPT)
A64_BOARD_LDSCRIPT := $(BOARD_LDSCRIPT)
include boards/riscv64/board.mk
RV_BOARD_SRCS := $(BOARD_SRCS)
RV_BOARD_CFLAGS := $(BOARD_CFLAGS)
RV_BOARD_LDFLAGS := $(BOARD_LDFLAGS)
RV_BOARD_LDSCRIPT := $(BOARD_LDSCRIPT)

QEMU_HDRS := $(wildcard tests/qemu/*.h include/*.h include/hakmem/*.h \
	mm/*.h port/baremetal/include/hakmem/*.h arch/*/include/hakmem/*.h \
	boards/*.h boards/aarch64/*.h)
QEMU_CFLAGS := -Iinclude -Iport/baremetal/include -Iboards -Itests/qemu \
	       $(EMBED_CFLAGS)

QEMU_FLAVOURS := x86_64 aarch64-llsc aarch64-lse riscv64

QEMU_CC_x86_64 := $(X86_CC)
QEMU_CFLAGS_x86_64 := $(X86_BOARD_CFLAGS) -Iarch/x86_64/include $(QEMU_CFLAGS)
QEMU_LDFLAGS_x86_64 := $(X86_BOARD_LDFLAGS)
QEMU_LDSCRIPT_x86_64 := $(X86_BOARD_LDSCRIPT)
QEMU_BOARD_x86_64 := $(X86_BOARD_SRCS)

QEMU_CC_x86_64-kernel := $(X86_CC)
QEMU_CFLAGS_x86_64-kernel := $(X86_HIGH_CFLAGS) -Iarch/x86_64/include \
	$(QEMU_CFLAGS)
QEMU_LDFLAGS_x86_64-kernel := $(X86_HIGH_LDFLAGS)
QEMU_LDSCRIPT_x86_64-kernel := $(X86_HIGH_LDSCRIPT)
QEMU_BOARD_x86_64-kernel := $(X86_BOARD_SRCS)

QEMU_CC_aarch64-llsc := $(A64_CC)
QEMU_CFLAGS_aarch64-llsc := $(A64_BOARD_CFLAGS) $(ARCH_MARCH_aarch64-llsc) \
	-Iarch/aarch64/include $(QEMU_CFLAGS)
QEMU_LDFLAGS_aarch64-llsc := $(A64_BOARD_LDFLAGS)
QEMU_LDSCRIPT_aarch64-llsc := $(A64_BOARD_LDSCRIPT)
QEMU_BOARD_aarch64-llsc := $(A64_BOARD_SRCS) boards/libc.c

QEMU_CC_aarch64-lse := $(A64_CC)
QEMU_CFLAGS_aarch64-lse := $(A64_BOARD_CFLAGS) $(ARCH_MARCH_aarch64-lse) \
	-Iarch/aarch64/include $(QEMU_CFLAGS)
QEMU_LDFLAGS_aarch64-lse := $(A64_BOARD_LDFLAGS)
QEMU_LDSCRIPT_aarch64-lse := $(A64_BOARD_LDSCRIPT)
QEMU_BOARD_aarch64-lse := $(A64_BOARD_SRCS) boards/libc.c

QEMU_CC_riscv64 := $(RV_CC)
QEMU_CFLAGS_riscv64 := $(RV_BOARD_CFLAGS) $(QEMU_CFLAGS)
QEMU_LDFLAGS_riscv64 := $(RV_BOARD_LDFLAGS)
QEMU_LDSCRIPT_riscv64 := $(RV_BOARD_LDSCRIPT)
QEMU_BOARD_riscv64 := $(RV_BOARD_SRCS)

# Failure modes of tests/qemu/fail.c (fail.elf itself is mode "corrupt").
QEMU_FAIL_MODES := nopass failline exit fault nobegin hang reset \
	cpuid_range double_init pcpu_reg
# Misuse only the debug build catches: fail-<mode>-debug.elf against the
# debug library.
QEMU_DEBUG_FAIL_MODES := cpuid_alias cpuid_unset
QEMU_IMAGE_NAMES := suite demo hypervisor smoke embed fail \
	$(addprefix fail-,$(QEMU_FAIL_MODES))

QEMU_OBJS_suite := tests/qemu/suite.o tests/qemu/guest.o tests/qemu/peek.o
QEMU_OBJS_demo := tests/qemu/demo.o tests/qemu/guest.o
QEMU_OBJS_hypervisor := tests/qemu/hypervisor.o tests/qemu/guest.o
QEMU_OBJS_smoke := tests/qemu/smoke.o
# docs/embedding.md's example: the public header, the board, the public
# library, nothing else (its own compile rule drops every other -I).
QEMU_OBJS_embed := examples/embed/kernel.o
QEMU_OBJS_fail := tests/qemu/fail-corrupt.o tests/qemu/guest.o
$(foreach m,$(QEMU_FAIL_MODES),$(eval QEMU_OBJS_fail-$(m) := \
	tests/qemu/fail-$(m).o tests/qemu/guest.o))

# $(1) flavour: compile rules.
define qemu_objs
$(QB)/$(1)/obj/%.o: %.c $(QEMU_HDRS) $(call flags_stamp,$(QB)/$(1)/obj,$(QEMU_CC_$(1)) $(QEMU_CFLAGS_$(1)))
	@mkdir -p $$(dir $$@)
	@echo "  CC      $$@"
	$(Q)$(QEMU_CC_$(1)) $(QEMU_CFLAGS_$(1)) -c $$< -o $$@

$(QB)/$(1)/obj/%.o: %.S $(QEMU_HDRS) $(QB)/$(1)/obj/.flags
	@mkdir -p $$(dir $$@)
	@echo "  AS      $$@"
	$(Q)$(QEMU_CC_$(1)) $(QEMU_CFLAGS_$(1)) -c $$< -o $$@

$(QB)/$(1)/obj/examples/embed/%.o: examples/embed/%.c include/hakmem.h boards/board.h $(QB)/$(1)/obj/.flags
	@mkdir -p $$(dir $$@)
	@echo "  CC      $$@"
	$(Q)$(QEMU_CC_$(1)) $$(filter-out -I%,$(QEMU_CFLAGS_$(1))) -Iinclude \
		-Iboards -c $$< -o $$@

$(QB)/$(1)/obj/tests/qemu/fail-%.o: tests/qemu/fail.c $(QEMU_HDRS) $(QB)/$(1)/obj/.flags
	@mkdir -p $$(dir $$@)
	@echo "  CC      $$@"
	$(Q)$(QEMU_CC_$(1)) $(QEMU_CFLAGS_$(1)) -DFAIL_MODE=FAIL_$$* -c $$< -o $$@
endef

# Images that use only the public API link the library an embedder gets
# (internal symbols local); the white-box ones (peek.c, icount.c, fail.c
# read internals) link the same objects with their symbols global.
QEMU_PUBLIC_IMAGES := demo hypervisor smoke embed
qemu_lib = $(if $(filter $(QEMU_PUBLIC_IMAGES),$(1)),libhakmem.a,libhakmem-internal.a)

# $(1) flavour, $(2) image name: link rule.
define qemu_image
$(QB)/$(1)/$(2).elf: $(addprefix $(QB)/$(1)/obj/,$(QEMU_OBJS_$(2))) \
		$(patsubst %,$(QB)/$(1)/obj/%.o,$(basename $(QEMU_BOARD_$(1)))) \
		$(B)/$(1)/$(call qemu_lib,$(2)) $(QEMU_LDSCRIPT_$(1))
	@echo "  LD      $$@"
	$(Q)$(QEMU_CC_$(1)) $(QEMU_CFLAGS_$(1)) $(QEMU_LDFLAGS_$(1)) -o $$@ \
		$$(filter %.o,$$^) $(B)/$(1)/$(call qemu_lib,$(2))
endef

$(foreach f,$(QEMU_FLAVOURS),$(eval $(call qemu_objs,$(f))))
$(foreach f,$(QEMU_FLAVOURS),$(foreach i,$(QEMU_IMAGE_NAMES),\
	$(eval $(call qemu_image,$(f),$(i)))))

QEMU_IMAGES := $(foreach f,$(QEMU_FLAVOURS),\
	$(foreach i,$(QEMU_IMAGE_NAMES),$(QB)/$(f)/$(i).elf))

images: $(QEMU_IMAGES)

$(eval $(call qemu_objs,x86_64-kernel))
$(eval $(call qemu_image,x86_64-kernel,suite))
$(eval $(call qemu_image,x86_64-kernel,embed))
QEMU_KERNEL_IMAGES := $(QB)/x86_64-kernel/suite.elf $(QB)/x86_64-kernel/embed.elf

images: $(QEMU_KERNEL_IMAGES)

# ---- the other CPU id source on each arch -----------------------------------
#
# The suite with board, tests and library all built for the id source
# arch_impl.h offers besides the default, against a library of their own
# (build/<flavour>/libhakmem{,-internal}.a):
#   x86_64-gsoff   the index at %gs:64 instead of %gs:0 (RDPID would
#                  leave GS alone, but QEMU 7.2's TCG has no RDPID)
#   aarch64-idoff  TPIDR_EL1 holds a per-CPU base, the index is the
#                  word at base + 64 (LSE, -cpu max)

#   riscv64-sscratch  the index in sscratch, the hart id in tp (what the
#                  picolibc images need: picolibc's TLS owns tp)

QEMU_ID_x86_64-gsoff := -DARCH_X86_GS_CPU_OFFSET=64
QEMU_ID_aarch64-idoff := -DARCH_A64_CPU_ID_SYSREG=tpidr_el1 \
	-DARCH_A64_CPU_ID_OFFSET=64
QEMU_ID_riscv64-sscratch := -DARCH_RV_CPU_ID_SSCRATCH

$(eval $(call fs_lib,$(B)/x86_64-gsoff,$(X86_CC),$(X86_FS_CFLAGS) \
	$(QEMU_ID_x86_64-gsoff)))
$(eval $(call fs_lib,$(B)/aarch64-idoff,$(A64_CC),$(A64_FS_CFLAGS) \
	$(ARCH_MARCH_aarch64-lse) $(QEMU_ID_aarch64-idoff)))
$(eval $(call fs_lib,$(B)/riscv64-sscratch,$(RV_CC),$(RV_FS_CFLAGS) \
	$(QEMU_ID_riscv64-sscratch)))

QEMU_CC_x86_64-gsoff := $(X86_CC)
QEMU_CFLAGS_x86_64-gsoff := $(QEMU_CFLAGS_x86_64) $(QEMU_ID_x86_64-gsoff)
QEMU_LDFLAGS_x86_64-gsoff := $(QEMU_LDFLAGS_x86_64)
QEMU_LDSCRIPT_x86_64-gsoff := $(QEMU_LDSCRIPT_x86_64)
QEMU_BOARD_x86_64-gsoff := $(QEMU_BOARD_x86_64)

QEMU_CC_aarch64-idoff := $(A64_CC)
QEMU_CFLAGS_aarch64-idoff := $(QEMU_CFLAGS_aarch64-lse) \
	$(QEMU_ID_aarch64-idoff)
QEMU_LDFLAGS_aarch64-idoff := $(QEMU_LDFLAGS_aarch64-lse)
QEMU_LDSCRIPT_aarch64-idoff := $(QEMU_LDSCRIPT_aarch64-lse)
QEMU_BOARD_aarch64-idoff := $(QEMU_BOARD_aarch64-lse)

QEMU_CC_riscv64-sscratch := $(RV_CC)
QEMU_CFLAGS_riscv64-sscratch := $(QEMU_CFLAGS_riscv64) \
	$(QEMU_ID_riscv64-sscratch)
QEMU_LDFLAGS_riscv64-sscratch := $(QEMU_LDFLAGS_riscv64)
QEMU_LDSCRIPT_riscv64-sscratch := $(QEMU_LDSCRIPT_riscv64)
QEMU_BOARD_riscv64-sscratch := $(QEMU_BOARD_riscv64)

QEMU_ID_FLAVOURS := x86_64-gsoff aarch64-idoff riscv64-sscratch
$(foreach f,$(QEMU_ID_FLAVOURS),$(eval $(call qemu_objs,$(f)))\
	$(eval $(call qemu_image,$(f),suite)))
QEMU_ID_IMAGES := $(foreach f,$(QEMU_ID_FLAVOURS),$(QB)/$(f)/suite.elf)

# The suite links libhakmem-internal.a; the public archive is built too,
# for tests/check-nm.sh (tests/run-all.sh).
images: $(QEMU_ID_IMAGES) \
	$(foreach f,$(QEMU_ID_FLAVOURS),$(B)/$(f)/libhakmem.a)

# ---- lanes on bare metal ------------------------------------------------------
#
# The suite with board, tests and library built with HAK_LANES=4 and a
# transfer cache of 8 batches a class (config.h; both off in the
# freestanding default), against a library of their own: a class's
# partial slabs and transfer batches then belong to the lane of the CPU
# that last used them, as in the hosted port, and the -smp 4 suite's
# cross-CPU frees, IRQ-handler allocations and exhaustion run through
# every lane rule (mm/shared_pool.c, mm/transfer.c). x86_64 and aarch64
# LL/SC (cortex-a72: the weaker of the two aarch64 atomics builds).
QEMU_LANES_DEFS := -DHAK_LANES=4 -DHAK_TRANSFER_BATCHES=8

$(eval $(call fs_lib,$(B)/x86_64-lanes,$(X86_CC),$(X86_FS_CFLAGS) \
	$(QEMU_LANES_DEFS)))
$(eval $(call fs_lib,$(B)/aarch64-lanes,$(A64_CC),$(A64_FS_CFLAGS) \
	$(ARCH_MARCH_aarch64-llsc) $(QEMU_LANES_DEFS)))

QEMU_CC_x86_64-lanes := $(X86_CC)
QEMU_CFLAGS_x86_64-lanes := $(QEMU_CFLAGS_x86_64) $(QEMU_LANES_DEFS)
QEMU_LDFLAGS_x86_64-lanes := $(QEMU_LDFLAGS_x86_64)
QEMU_LDSCRIPT_x86_64-lanes := $(QEMU_LDSCRIPT_x86_64)
QEMU_BOARD_x86_64-lanes := $(QEMU_BOARD_x86_64)

QEMU_CC_aarch64-lanes := $(A64_CC)
QEMU_CFLAGS_aarch64-lanes := $(QEMU_CFLAGS_aarch64-llsc) $(QEMU_LANES_DEFS)
QEMU_LDFLAGS_aarch64-lanes := $(QEMU_LDFLAGS_aarch64-llsc)
QEMU_LDSCRIPT_aarch64-lanes := $(QEMU_LDSCRIPT_aarch64-llsc)
QEMU_BOARD_aarch64-lanes := $(QEMU_BOARD_aarch64-llsc)

QEMU_LANES_FLAVOURS := x86_64-lanes aarch64-lanes
$(foreach f,$(QEMU_LANES_FLAVOURS),$(eval $(call qemu_objs,$(f)))\
	$(eval $(call qemu_image,$(f),suite)))
images: $(foreach f,$(QEMU_LANES_FLAVOURS),$(QB)/$(f)/suite.elf \
	$(B)/$(f)/libhakmem.a)

# ---- debug images: suite-debug.elf ------------------------------------------
#
# The suite, guest support and peek compiled with -DHAK_DEBUG=1 into
# $(QB)/<flavour>/debug/obj, against build/qemu/<flavour>/debug/libhakmem.a
# (the flavour's freestanding flags plus -DHAK_DEBUG=1); the board objects
# are the release ones (they do not depend on HAK_DEBUG).

QEMU_DEBUG_LIBFLAGS_x86_64 := $(X86_FS_CFLAGS) -DHAK_DEBUG=1
QEMU_DEBUG_LIBFLAGS_aarch64-llsc := $(A64_FS_CFLAGS) $(ARCH_MARCH_aarch64-llsc) -DHAK_DEBUG=1
QEMU_DEBUG_LIBFLAGS_aarch64-lse := $(A64_FS_CFLAGS) $(ARCH_MARCH_aarch64-lse) -DHAK_DEBUG=1
QEMU_DEBUG_LIBFLAGS_riscv64 := $(RV_FS_CFLAGS) -DHAK_DEBUG=1
QEMU_DEBUG_LIBHDRS := $(wildcard include/*.h include/hakmem/*.h mm/*.h \
	arch/*/include/hakmem/*.h port/baremetal/include/hakmem/*.h)

# $(1) flavour
define qemu_debug
$(QB)/$(1)/debug/lib/%.o: %.c $(QEMU_DEBUG_LIBHDRS) $(call flags_stamp,$(QB)/$(1)/debug/lib,$(QEMU_CC_$(1)) $(QEMU_DEBUG_LIBFLAGS_$(1)))
	@mkdir -p $$(dir $$@)
	@echo "  CC      $$@"
	$(Q)$(QEMU_CC_$(1)) $(QEMU_DEBUG_LIBFLAGS_$(1)) -c $$< -o $$@

$(QB)/$(1)/debug/libhakmem.a: $(patsubst %.c,$(QB)/$(1)/debug/lib/%.o,$(MM_SRCS))
	@echo "  AR      $$@"
	$(Q)rm -f $$@ && $(QEMU_CC_$(1):gcc=ar) rcs $$@ $$^

$(QB)/$(1)/debug/obj/%.o: %.c $(QEMU_HDRS) $(call flags_stamp,$(QB)/$(1)/debug/obj,$(QEMU_CC_$(1)) $(QEMU_CFLAGS_$(1)))
	@mkdir -p $$(dir $$@)
	@echo "  CC      $$@"
	$(Q)$(QEMU_CC_$(1)) $(QEMU_CFLAGS_$(1)) -DHAK_DEBUG=1 -c $$< -o $$@

$(QB)/$(1)/debug/obj/tests/qemu/fail-%.o: tests/qemu/fail.c $(QEMU_HDRS) $(QB)/$(1)/debug/obj/.flags
	@mkdir -p $$(dir $$@)
	@echo "  CC      $$@"
	$(Q)$(QEMU_CC_$(1)) $(QEMU_CFLAGS_$(1)) -DHAK_DEBUG=1 -DFAIL_MODE=FAIL_$$* -c $$< -o $$@

$(QB)/$(1)/fail-%-debug.elf: $(QB)/$(1)/debug/obj/tests/qemu/fail-%.o \
		$(QB)/$(1)/debug/obj/tests/qemu/guest.o $(QB)/$(1)/debug/obj/tests/qemu/peek.o \
		$(patsubst %,$(QB)/$(1)/obj/%.o,$(basename $(QEMU_BOARD_$(1)))) \
		$(QB)/$(1)/debug/libhakmem.a $(QEMU_LDSCRIPT_$(1))
	@echo "  LD      $$@"
	$(Q)$(QEMU_CC_$(1)) $(QEMU_CFLAGS_$(1)) $(QEMU_LDFLAGS_$(1)) -o $$@ \
		$$(filter %.o,$$^) $(QB)/$(1)/debug/libhakmem.a

$(QB)/$(1)/suite-debug.elf: $(addprefix $(QB)/$(1)/debug/obj/,$(QEMU_OBJS_suite)) \
		$(patsubst %,$(QB)/$(1)/obj/%.o,$(basename $(QEMU_BOARD_$(1)))) \
		$(QB)/$(1)/debug/libhakmem.a $(QEMU_LDSCRIPT_$(1))
	@echo "  LD      $$@"
	$(Q)$(QEMU_CC_$(1)) $(QEMU_CFLAGS_$(1)) $(QEMU_LDFLAGS_$(1)) -o $$@ \
		$$(filter %.o,$$^) $(QB)/$(1)/debug/libhakmem.a
endef

$(foreach f,$(QEMU_FLAVOURS),$(eval $(call qemu_debug,$(f))))
QEMU_DEBUG_IMAGES := $(foreach f,$(QEMU_FLAVOURS),$(QB)/$(f)/suite-debug.elf \
	$(foreach m,$(QEMU_DEBUG_FAIL_MODES),$(QB)/$(f)/fail-$(m)-debug.elf))

images: $(QEMU_DEBUG_IMAGES)

test-qemu: images
	$(Q)X86_CC=$(X86_CC) A64_CC=$(A64_CC) tests/qemu/run-matrix.sh

ifeq ($(ARCH),aarch64)
QEMU_RUN_FLAVOUR := aarch64-lse
else ifeq ($(ARCH),riscv64)
QEMU_RUN_FLAVOUR := riscv64
else
QEMU_RUN_FLAVOUR := x86_64
endif

# make run DEMO=<image>: that image of the flavour instead, e.g.
# DEMO=hypervisor. DEMO=lua: the Lua image (aarch64 and riscv64 only:
# tests/qemu/lua/lua.mk), each CPU's script output and hakmem's stats after
# every round.
DEMO ?= demo
ifeq ($(DEMO),lua)
QEMU_RUN_FLAVOUR := $(if $(filter x86_64,$(QEMU_RUN_FLAVOUR)),aarch64,$(QEMU_RUN_FLAVOUR:-lse=))-libc
endif

run: $(QB)/$(QEMU_RUN_FLAVOUR)/$(DEMO).elf
	$(Q)VERBOSE=1 tests/qemu/run-image.sh $(QEMU_RUN_FLAVOUR) $< 4

# ---- icount: exact guest instruction counts ---------------------------------
#
#   make icount-images   build/qemu/<flavour>/icount.elf (also part of images)
#   make test-icount     boot each under TCG with -icount shift=0 -smp 1,
#                        print the per-path table, fail if a path is over
#                        its bound or icount is unavailable
#                        (tests/qemu/icount.sh; docs/guarantees-icount.md)

QEMU_OBJS_icount := tests/qemu/icount.o tests/qemu/guest.o tests/qemu/peek.o
QEMU_ICOUNT_FLAVOURS := x86_64 aarch64-llsc aarch64-lse riscv64
$(foreach f,$(QEMU_ICOUNT_FLAVOURS),$(eval $(call qemu_image,$(f),icount)))
QEMU_ICOUNT_IMAGES := $(foreach f,$(QEMU_ICOUNT_FLAVOURS),$(QB)/$(f)/icount.elf)

icount-images: $(QEMU_ICOUNT_IMAGES)
images: $(QEMU_ICOUNT_IMAGES)

test-icount: $(QEMU_ICOUNT_IMAGES)
	$(Q)tests/qemu/icount.sh

.PHONY: icount-images test-icount

# ---- icount-irq: the longest IRQ-off window of every path -------------------
#
# icount.c again, compiled with -DHAK_TEST_IRQ_WINDOW and linked against a
# library of its own built with the same flag
# (build/qemu/<flavour>/irqwin/libhakmem.a): arch_irq_save/restore then
# call the image's hooks whenever IRQs go from enabled to masked and back,
# so every IRQ-off window is timed. Its instruction counts include the
# hooks, so it checks the windows only; icount.elf keeps the exact counts.

QEMU_IRQWIN_LIBFLAGS_x86_64 := $(X86_FS_CFLAGS) -DHAK_TEST_IRQ_WINDOW
QEMU_IRQWIN_LIBFLAGS_aarch64-llsc := $(A64_FS_CFLAGS) $(ARCH_MARCH_aarch64-llsc) -DHAK_TEST_IRQ_WINDOW
QEMU_IRQWIN_LIBFLAGS_aarch64-lse := $(A64_FS_CFLAGS) $(ARCH_MARCH_aarch64-lse) -DHAK_TEST_IRQ_WINDOW
QEMU_IRQWIN_LIBFLAGS_riscv64 := $(RV_FS_CFLAGS) -DHAK_TEST_IRQ_WINDOW

# $(1) flavour
define qemu_irqwin
$(QB)/$(1)/irqwin/lib/%.o: %.c $(QEMU_DEBUG_LIBHDRS) $(call flags_stamp,$(QB)/$(1)/irqwin/lib,$(QEMU_CC_$(1)) $(QEMU_IRQWIN_LIBFLAGS_$(1)))
	@mkdir -p $$(dir $$@)
	@echo "  CC      $$@"
	$(Q)$(QEMU_CC_$(1)) $(QEMU_IRQWIN_LIBFLAGS_$(1)) -c $$< -o $$@

$(QB)/$(1)/irqwin/libhakmem.a: $(patsubst %.c,$(QB)/$(1)/irqwin/lib/%.o,$(MM_SRCS))
	@echo "  AR      $$@"
	$(Q)rm -f $$@ && $(QEMU_CC_$(1):gcc=ar) rcs $$@ $$^

$(QB)/$(1)/irqwin/obj/%.o: %.c $(QEMU_HDRS) $(call flags_stamp,$(QB)/$(1)/irqwin/obj,$(QEMU_CC_$(1)) $(QEMU_CFLAGS_$(1)))
	@mkdir -p $$(dir $$@)
	@echo "  CC      $$@"
	$(Q)$(QEMU_CC_$(1)) $(QEMU_CFLAGS_$(1)) -DHAK_TEST_IRQ_WINDOW -c $$< -o $$@

$(QB)/$(1)/icount-irq.elf: $(QB)/$(1)/irqwin/obj/tests/qemu/icount.o \
		$(QB)/$(1)/obj/tests/qemu/guest.o $(QB)/$(1)/obj/tests/qemu/peek.o \
		$(patsubst %,$(QB)/$(1)/obj/%.o,$(basename $(QEMU_BOARD_$(1)))) \
		$(QB)/$(1)/irqwin/libhakmem.a $(QEMU_LDSCRIPT_$(1))
	@echo "  LD      $$@"
	$(Q)$(QEMU_CC_$(1)) $(QEMU_CFLAGS_$(1)) $(QEMU_LDFLAGS_$(1)) -o $$@ \
		$$(filter %.o,$$^) $(QB)/$(1)/irqwin/libhakmem.a
endef

$(foreach f,$(QEMU_ICOUNT_FLAVOURS),$(eval $(call qemu_irqwin,$(f))))
QEMU_IRQWIN_IMAGES := $(foreach f,$(QEMU_ICOUNT_FLAVOURS),$(QB)/$(f)/icount-irq.elf)

icount-images: $(QEMU_IRQWIN_IMAGES)
images: $(QEMU_IRQWIN_IMAGES)
test-icount: $(QEMU_IRQWIN_IMAGES)
include tests/qemu/lua/lua.mk
