# SPDX-License-Identifier: MIT
# Host tests: each tests/host/test_*.c is one program (the heap is global,
# so each scenario gets its own process), built three ways:
#   build/test/plain  -O2, like the shipped library
#   build/test/asan   ASan + UBSan
#   build/test/tsan   TSan (the multi-threaded tests)

HOST_TESTS := $(patsubst tests/host/%.c,%,$(sort $(wildcard tests/host/test_*.c)))
# test_debug checks what only the debug build reports.
ifneq ($(DEBUG),1)
HOST_TESTS := $(filter-out test_debug,$(HOST_TESTS))
endif
# test_init_race's refused init may report before the winner installed
# its hook: the port's default sink then, which aborts on misuse unless
# built to report and continue. It runs against that build only.
HOST_TESTS := $(filter-out test_init_race,$(HOST_TESTS))
# test_refill_race needs refills of several lock holds, as bare metal's
# (the hosted port's holds take a whole batch): it runs against a build
# with bare metal's hold sizes only.
HOST_TESTS := $(filter-out test_refill_race,$(HOST_TESTS))
TSAN_TESTS := test_mt test_heap test_check test_remote_hold
LIB_SRCS := $(MM_SRCS) $(HOSTED_SRCS)
TEST_CFLAGS := $(HOST_CFLAGS) -Itests/host -DHAK_TEST_HOOKS

# The library is compiled once per variant into an archive that every
# test of that variant links: plain, asan, tsan and trylock (the hosted
# port without rseq sections).
TEST_LIB_HDRS := $(wildcard include/*.h include/hakmem/*.h mm/*.h \
	port/hosted/*.h port/hosted/include/hakmem/*.h port/hosted/include/hakmem/rseq/*.h arch/$(HOST_ARCH)/include/hakmem/*.h) \
	$(HOST_GEN)/hak_rseq_tp.h
TEST_VARIANT_FLAGS_plain :=
TEST_VARIANT_FLAGS_asan := $(ASAN_FLAGS)
TEST_VARIANT_FLAGS_tsan := $(TSAN_FLAGS)
TEST_VARIANT_FLAGS_trylock := -DHAK_HOSTED_NO_RSEQ_BUILD
TEST_VARIANT_FLAGS_continue := -DHAK_HOSTED_REPORT_CONTINUE=1
TEST_VARIANT_FLAGS_holds := -UHAK_HOLD_OBJECTS -DHAK_HOLD_OBJECTS=16 \
	-UHAK_HOLD_SLABS -DHAK_HOLD_SLABS=8
# A library built against a glibc whose rseq area lies elsewhere (32 from
# the thread pointer: none does): its rseq sections read the offset from
# a variable (port_impl.h, hak_port_rseq_fixed).
TEST_VARIANT_FLAGS_rseqvar := -DHAK_HOSTED_RSEQ_TP_OFF=32L -DHAK_TEST_RSEQ_VAR=1

# $(1) variant
define test_variant
$(B)/test/$(1)/lib/%.o: %.c $(TEST_LIB_HDRS) tests/host/host.mk $(call flags_stamp,$(B)/test/$(1),$(HOST_CC) $(TEST_CFLAGS) $(TEST_VARIANT_FLAGS_$(1)))
	@mkdir -p $$(dir $$@)
	@echo "  CC      $$@"
	$(Q)$(HOST_CC) $(TEST_CFLAGS) $(TEST_VARIANT_FLAGS_$(1)) -c $$< -o $$@

$(B)/test/$(1)/libhakmem-test.a: $(patsubst %.c,$(B)/test/$(1)/lib/%.o,$(LIB_SRCS))
	@echo "  AR      $$@"
	$(Q)rm -f $$@ && ar rcs $$@ $$^
endef
$(foreach v,plain asan tsan trylock continue holds rseqvar,$(eval $(call test_variant,$(v))))

TEST_HDRS := $(TEST_LIB_HDRS) $(wildcard tests/host/*.h)

$(B)/test/plain/test_%: tests/host/test_%.c $(B)/test/plain/libhakmem-test.a $(TEST_HDRS)
	@echo "  CC      $@"
	$(Q)$(HOST_CC) $(TEST_CFLAGS) -o $@ $< $(B)/test/plain/libhakmem-test.a -lpthread

$(B)/test/asan/test_%: tests/host/test_%.c $(B)/test/asan/libhakmem-test.a $(TEST_HDRS)
	@echo "  CC      $@"
	$(Q)$(HOST_CC) $(TEST_CFLAGS) $(ASAN_FLAGS) -o $@ $< $(B)/test/asan/libhakmem-test.a -lpthread

$(B)/test/tsan/test_%: tests/host/test_%.c $(B)/test/tsan/libhakmem-test.a $(TEST_HDRS)
	@echo "  CC      $@"
	$(Q)$(HOST_CC) $(TEST_CFLAGS) $(TSAN_FLAGS) -o $@ $< $(B)/test/tsan/libhakmem-test.a -lpthread

# The threaded test again with the hosted trylock fallback forced.
$(B)/test/plain/test_mt_trylock: tests/host/test_mt.c $(B)/test/trylock/libhakmem-test.a $(TEST_HDRS)
	@echo "  CC      $@"
	$(Q)$(HOST_CC) $(TEST_CFLAGS) -DHAK_HOSTED_NO_RSEQ_BUILD -o $@ $< $(B)/test/trylock/libhakmem-test.a -lpthread

# The hosted sink policy again, against the report-and-continue build.
$(B)/test/continue/test_hosted_policy: tests/host/test_hosted_policy.c $(B)/test/continue/libhakmem-test.a $(TEST_HDRS)
	@echo "  CC      $@"
	$(Q)$(HOST_CC) $(TEST_CFLAGS) -o $@ $< $(B)/test/continue/libhakmem-test.a -lpthread

$(B)/test/continue/test_init_race: tests/host/test_init_race.c $(B)/test/continue/libhakmem-test.a $(TEST_HDRS)
	@echo "  CC      $@"
	$(Q)$(HOST_CC) $(TEST_CFLAGS) -o $@ $< $(B)/test/continue/libhakmem-test.a -lpthread

$(B)/test/holds/test_refill_race: tests/host/test_refill_race.c $(B)/test/holds/libhakmem-test.a $(TEST_HDRS)
	@echo "  CC      $@"
	$(Q)$(HOST_CC) $(TEST_CFLAGS) $(TEST_VARIANT_FLAGS_holds) -o $@ $< $(B)/test/holds/libhakmem-test.a -lpthread

# The rseq sections that read the rseq area's offset from a variable: the
# section choice, the threaded mix, the remote holds and the aborts.
RSEQVAR_TESTS := test_rseq_fixed test_mt test_remote_hold
$(B)/test/rseqvar/test_%: tests/host/test_%.c $(B)/test/rseqvar/libhakmem-test.a $(TEST_HDRS)
	@echo "  CC      $@"
	$(Q)$(HOST_CC) $(TEST_CFLAGS) $(TEST_VARIANT_FLAGS_rseqvar) -o $@ $< $(B)/test/rseqvar/libhakmem-test.a -lpthread

$(B)/test/rseqvar/test_rseq_abort: tests/aarch64-linux/test_rseq_abort.c $(B)/test/rseqvar/libhakmem-test.a $(TEST_HDRS)
	@echo "  CC      $@"
	$(Q)$(HOST_CC) $(TEST_CFLAGS) $(TEST_VARIANT_FLAGS_rseqvar) -o $@ $< $(B)/test/rseqvar/libhakmem-test.a -lpthread

# The rseq abort test lives with the aarch64 Linux test; it runs here too.
$(B)/test/plain/test_rseq_abort: tests/aarch64-linux/test_rseq_abort.c $(B)/test/plain/libhakmem-test.a $(TEST_HDRS)
	@echo "  CC      $@"
	$(Q)$(HOST_CC) $(TEST_CFLAGS) -o $@ $< $(B)/test/plain/libhakmem-test.a -lpthread

TEST_BINS := $(addprefix $(B)/test/plain/,$(HOST_TESTS)) \
	     $(B)/test/plain/test_mt_trylock $(B)/test/plain/test_rseq_abort \
	     $(B)/test/continue/test_hosted_policy \
	     $(B)/test/continue/test_init_race \
	     $(B)/test/holds/test_refill_race \
	     $(addprefix $(B)/test/asan/,$(HOST_TESTS)) \
	     $(addprefix $(B)/test/tsan/,$(TSAN_TESTS))

# Not again in the debug tree: the choice of sections is the same there.
ifneq ($(DEBUG),1)
TEST_BINS += $(addprefix $(B)/test/rseqvar/,$(RSEQVAR_TESTS) test_rseq_abort)
endif

test-bins: $(TEST_BINS) $(B)/host/libhakmem.so

# The test programs this tree builds, one per line: what run-all.sh runs
# (a glob of build/ would also run the binary of a test whose source is
# gone, and pass or fail on code no longer there).
test-list:
	@printf '%s\n' $(TEST_BINS)

# run-all.sh host also runs the debug build's tests and nm-checks the
# debug freestanding libraries: build those too, so that make test-host
# works on its own (it failed on a fresh tree with "missing").
# ... and nm-checks the QEMU images' library flavours (tests/qemu/qemu.mk,
# tests/qemu/lua/lua.mk).
NM_FLAVOUR_LIBS := $(foreach f,x86_64-gsoff aarch64-idoff riscv64-sscratch \
	x86_64-lanes aarch64-lanes aarch64-libc riscv64-libc,$(B)/$(f)/libhakmem.a)
test-host: test-bins $(FS_LIBS) $(NM_FLAVOUR_LIBS)
	$(Q)$(MAKE) --no-print-directory DEBUG=1 test-bins freestanding
	$(Q)tests/run-all.sh host

$(B)/test/preload_probe: tests/host/preload_probe.c include/hakmem.h
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(HOST_CC) $(WARN) -Iinclude -o $@ $< -ldl

$(B)/test/preload_badfree: tests/host/preload_badfree.c
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(HOST_CC) $(WARN) -Wno-free-nonheap-object -o $@ $<

test-bins: $(B)/test/preload_probe $(B)/test/preload_badfree
