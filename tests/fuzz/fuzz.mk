# SPDX-License-Identifier: MIT
# The libFuzzer harness (tests/fuzz/, see its README.md), clang only:
#   build/fuzz/fuzz_heap   the harness over the whole library, with ASan,
#                          UBSan and the trylock port (one thread plays the
#                          CPUs); built by test-bins, so by make test
#   make fuzz-short        every seed of tests/fuzz/corpus, then
#                          FUZZ_SHORT_TIME seconds of fuzzing (make test)
#   make fuzz              FUZZ_TIME seconds on build/fuzz/corpus, which
#                          keeps what each run found
# Neither writes to tests/fuzz/corpus; findings go to build/fuzz/artifacts/.
# Include after MM_SRCS and HOSTED_SRCS are defined (next to host.mk).

FUZZ_BIN := $(B)/fuzz/fuzz_heap
FUZZ_SRCS := $(MM_SRCS) $(HOSTED_SRCS)
FUZZ_TIME ?= 300
FUZZ_SHORT_TIME ?= 25
# Not $(HOST_CFLAGS): no -fPIC/-fvisibility games, -O1 for the sanitizers.
FUZZ_CFLAGS := -std=gnu11 -g -O1 -fno-omit-frame-pointer $(WARN) $(HOSTED_DEFS) \
	       -fsanitize=fuzzer,address,undefined \
	       -fno-sanitize-recover=undefined \
	       -DHAK_HOSTED_TEST_HOOKS -DHAK_HOSTED_NO_RSEQ_BUILD \
	       -Iinclude -Iarch/$(HOST_ARCH)/include -Iport/hosted/include \
	       -Iport/hosted
FUZZ_DEPS := tests/fuzz/fuzz_heap.c tests/fuzz/fuzz.mk $(FUZZ_SRCS) \
	     $(call flags_stamp,$(patsubst %/,%,$(dir $(FUZZ_BIN))),$(CLANG) $(FUZZ_CFLAGS)) \
	     $(wildcard include/*.h include/hakmem/*.h mm/*.h port/hosted/*.h \
		port/hosted/include/hakmem/*.h port/hosted/include/hakmem/rseq/*.h arch/$(HOST_ARCH)/include/hakmem/*.h)

$(FUZZ_BIN): $(FUZZ_DEPS)
	@mkdir -p $(dir $@)
	@command -v $(CLANG) >/dev/null 2>&1 || { echo "fuzz: $(CLANG) not found: the fuzz harness needs clang and libclang-rt-14-dev (./setup.sh installs them)" >&2; exit 1; }
	@echo "  CLANG   $@"
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -o $@ tests/fuzz/fuzz_heap.c $(FUZZ_SRCS) -lpthread

test-bins: $(FUZZ_BIN)

fuzz-short: $(FUZZ_BIN)
	$(Q)tests/fuzz/run.sh short $(FUZZ_SHORT_TIME)

fuzz: $(FUZZ_BIN)
	$(Q)tests/fuzz/run.sh long $(FUZZ_TIME)

.PHONY: fuzz fuzz-short
