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
TSAN_TESTS := test_mt
LIB_SRCS := $(MM_SRCS) $(HOSTED_SRCS)
TEST_CFLAGS := $(HOST_CFLAGS) -Itests/host
TEST_DEPS := Makefile tests/host/host.mk $(LIB_SRCS) $(wildcard include/*.h include/hakmem/*.h mm/*.h port/hosted/*.h port/hosted/include/hakmem/*.h tests/host/*.h)

$(B)/test/plain/%: tests/host/%.c $(TEST_DEPS)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(HOST_CC) $(TEST_CFLAGS) -o $@ $< $(LIB_SRCS) -lpthread

$(B)/test/asan/%: tests/host/%.c $(TEST_DEPS)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(HOST_CC) $(TEST_CFLAGS) $(ASAN_FLAGS) -o $@ $< $(LIB_SRCS) -lpthread

$(B)/test/tsan/%: tests/host/%.c $(TEST_DEPS)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(HOST_CC) $(TEST_CFLAGS) $(TSAN_FLAGS) -o $@ $< $(LIB_SRCS) -lpthread

# The threaded test again with the hosted trylock fallback forced.
$(B)/test/plain/test_mt_trylock: tests/host/test_mt.c $(TEST_DEPS)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(HOST_CC) $(TEST_CFLAGS) -DHAK_HOSTED_NO_RSEQ_BUILD -o $@ $< $(LIB_SRCS) -lpthread

# The rseq abort test lives with the aarch64 Linux test; it runs here too.
$(B)/test/plain/test_rseq_abort: tests/aarch64-linux/test_rseq_abort.c $(TEST_DEPS)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(HOST_CC) $(TEST_CFLAGS) -o $@ $< $(LIB_SRCS) -lpthread

TEST_BINS := $(addprefix $(B)/test/plain/,$(HOST_TESTS)) \
	     $(B)/test/plain/test_mt_trylock $(B)/test/plain/test_rseq_abort \
	     $(addprefix $(B)/test/asan/,$(HOST_TESTS)) \
	     $(addprefix $(B)/test/tsan/,$(TSAN_TESTS))

test-bins: $(TEST_BINS) $(B)/host/libhakmem.so

test-host: test-bins $(FS_LIBS)
	$(Q)tests/run-all.sh host

$(B)/test/preload_probe: tests/host/preload_probe.c include/hakmem.h
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(HOST_CC) $(WARN) -Iinclude -o $@ $< -ldl

test-bins: $(B)/test/preload_probe
