# SPDX-License-Identifier: MIT
#
# tests/qemu/lua/lua.mk - the Lua images, included by tests/qemu/qemu.mk.
#
#   build/qemu/<flavour>/lua.elf       the image (tests/qemu/lua/main.c)
#   build/qemu/<flavour>/lua.elf.map   its link map (check-map.sh reads it)
#
# An image links, in this order: the board and main.c (board flags: no
# FP, no C library), boards/picolibc.c and run.c (picolibc's headers,
# FP allowed), Lua 5.4 (liblua.a), libhakmem.a built with
# HAK_EXPORT_MALLOC=1 (so it defines malloc, free and the rest, and
# picolibc's nano-malloc members are never pulled in), then picolibc's
# libc.a and libgcc.
#
# Lua comes from Debian's source package, unpacked by setup.sh into
# LUA_DIR: every .c file but lua.c and luac.c, compiled unmodified, its
# configuration by -D only (LUA_COMPAT_5_3 and -std=gnu99, as Debian
# builds the host lua5.4 the outputs are compared with). Debian's
# luaconf.h includes lua5.4-deb-multiarch.h, which its debian/rules
# writes at build time; we write the same one-line header into the build
# tree (it only names the package library paths, and the package library
# is not opened).
#
# Flavours:
#   aarch64-libc   the aarch64-lse image flags (-cpu max); picolibc's TLS in
#                  TPIDR_EL0, hakmem's CPU id in TPIDR_EL1 as usual
#   riscv64-libc   picolibc's rv64imac/lp64 multilib (soft float: the board
#                  and hakmem use no FP registers either; medany); picolibc's
#                  TLS owns tp, so board and library read the CPU id from
#                  sscratch (-DARCH_RV_CPU_ID_SSCRATCH)

LUA_DIR ?= $(or $(HAK_CACHE),/usr/local/share/hakmem)/lua5.4
LUA_SRCS := $(filter-out %/lua.c %/luac.c,$(sort $(wildcard $(LUA_DIR)/src/*.c)))
LUA_SCRIPTS := $(sort $(wildcard tests/qemu/lua/*.lua))
LUA_FLAVOURS := aarch64-libc riscv64-libc
LUA_IMAGES := $(foreach f,$(LUA_FLAVOURS),$(QB)/$(f)/lua.elf)

PICOLIBC_aarch64-libc := /usr/lib/picolibc/aarch64-linux-gnu
PICOLIBC_riscv64-libc := /usr/lib/picolibc/riscv64-unknown-elf

# Kernel side: the flavour the image's board flags come from.
QEMU_CC_aarch64-libc := $(A64_CC)
QEMU_CFLAGS_aarch64-libc := $(QEMU_CFLAGS_aarch64-lse)
QEMU_LDFLAGS_aarch64-libc := $(QEMU_LDFLAGS_aarch64-lse)
QEMU_LDSCRIPT_aarch64-libc := $(QEMU_LDSCRIPT_aarch64-lse)
# picolibc has memcpy and friends: no boards/libc.c.
QEMU_BOARD_aarch64-libc := $(filter-out boards/libc.c,$(QEMU_BOARD_aarch64-lse))
LUA_ID_aarch64-libc :=
$(eval $(call fs_lib,$(B)/aarch64-libc,$(A64_CC),$(A64_FS_CFLAGS) \
	$(ARCH_MARCH_aarch64-lse) -DHAK_EXPORT_MALLOC=1,$(B)/malloc.syms))

LUA_ID_riscv64-libc := -DARCH_RV_CPU_ID_SSCRATCH
QEMU_CC_riscv64-libc := $(RV_CC)
QEMU_CFLAGS_riscv64-libc := $(QEMU_CFLAGS_riscv64) $(LUA_ID_riscv64-libc)
QEMU_LDFLAGS_riscv64-libc := $(QEMU_LDFLAGS_riscv64)
QEMU_LDSCRIPT_riscv64-libc := $(QEMU_LDSCRIPT_riscv64)
QEMU_BOARD_riscv64-libc := $(filter-out boards/libc.c,$(QEMU_BOARD_riscv64))
$(eval $(call fs_lib,$(B)/riscv64-libc,$(RV_CC),$(RV_FS_CFLAGS) \
	$(LUA_ID_riscv64-libc) -DHAK_EXPORT_MALLOC=1,$(B)/malloc.syms))

# picolibc side: compiler (through picolibc.specs: its headers), flags for
# Lua and for our own code, the link driver and libc.a.
LUA_CC_aarch64-libc := $(A64_CC) --specs=picolibc.specs
LUA_ARCH_aarch64-libc := $(ARCH_MARCH_aarch64-lse)
LUA_LD_aarch64-libc := $(A64_CC)
LUA_LIBC_aarch64-libc := $(PICOLIBC_aarch64-libc)/lib/libc.a

# riscv64-unknown-elf-gcc (picolibc's dependency) has the multilibs; the
# board's riscv64-linux-gnu-gcc objects link with it (same lp64 ABI). The
# link names plain rv64imac so GCC picks the rv64imac/lp64 libgcc.
LUA_CC_riscv64-libc := riscv64-unknown-elf-gcc --specs=picolibc.specs
LUA_ARCH_riscv64-libc := -march=rv64imac_zicsr_zifencei -mabi=lp64 \
	-mcmodel=medany
LUA_LD_riscv64-libc := riscv64-unknown-elf-gcc -march=rv64imac -mabi=lp64 \
	-mcmodel=medany
LUA_LIBC_riscv64-libc := $(PICOLIBC_riscv64-libc)/lib/rv64imac/lp64/libc.a

LUA_COMMON_CFLAGS := -std=gnu11 -O2 -g -fno-pic -fno-pie -fno-stack-protector
LUA_LUA_CFLAGS := $(filter-out -std=%,$(LUA_COMMON_CFLAGS)) -std=gnu99 \
	-DLUA_COMPAT_5_3
LUA_OWN_CFLAGS := $(LUA_COMMON_CFLAGS) $(WARN) -Iinclude -Iboards \
	-Iport/baremetal/include -Itests/qemu/lua -I$(LUA_DIR)/src $(EMBED_CFLAGS)
LUA_OWN_HDRS := boards/picolibc_board.h boards/board.h tests/qemu/lua/run.h \
	include/hakmem.h

# Kernel-side objects of the image (compiled by qemu_objs' rules).
LUA_KOBJS := tests/qemu/lua/main.o tests/qemu/guest.o tests/qemu/lua/stack.o \
	tests/qemu/lua/scripts.o
# picolibc-side objects.
LUA_POBJS := boards/picolibc.o tests/qemu/lua/run.o

# Missing Lua source fails here, loudly, not as a link error later.
$(LUA_DIR)/src/%.c:
	@echo "lua: $@ is missing: ./setup.sh unpacks Lua 5.4's Debian source into $(LUA_DIR)" >&2
	@exit 1

# $(1) flavour
define lua_image
$(eval $(call qemu_objs,$(1)))

$(QB)/$(1)/lua-include/lua5.4-deb-multiarch.h:
	@mkdir -p $$(dir $$@)
	$(Q)printf '#define DEB_HOST_MULTIARCH "%s"\n' $(1) >$$@

$(QB)/$(1)/lua-src/%.o: $(LUA_DIR)/src/%.c $(QB)/$(1)/lua-include/lua5.4-deb-multiarch.h
	@mkdir -p $$(dir $$@)
	@echo "  CC      $$@"
	$(Q)$(LUA_CC_$(1)) $(LUA_ARCH_$(1)) $(LUA_LUA_CFLAGS) \
		-I$(QB)/$(1)/lua-include -c $$< -o $$@

$(B)/$(1)/liblua.a: $(patsubst $(LUA_DIR)/src/%.c,$(QB)/$(1)/lua-src/%.o,\
		$(or $(LUA_SRCS),$(LUA_DIR)/src/lapi.c))
	@echo "  AR      $$@"
	$(Q)rm -f $$@ && $(QEMU_CC_$(1):gcc=ar) rcs $$@ $$^

$(QB)/$(1)/pico/%.o: %.c $(LUA_OWN_HDRS) $(QB)/$(1)/lua-include/lua5.4-deb-multiarch.h
	@mkdir -p $$(dir $$@)
	@echo "  CC      $$@"
	$(Q)$(LUA_CC_$(1)) $(LUA_ARCH_$(1)) $(LUA_OWN_CFLAGS) \
		-I$(QB)/$(1)/lua-include \
		-Iarch/$(firstword $(subst -, ,$(1)))/include $(LUA_ID_$(1)) \
		-c $$< -o $$@

$(QB)/$(1)/obj/tests/qemu/lua/scripts.o: $(QB)/$(1)/lua-scripts.S
	@echo "  AS      $$@"
	$(Q)$(QEMU_CC_$(1)) $(QEMU_CFLAGS_$(1)) -c $$< -o $$@

$(QB)/$(1)/lua.elf: $(addprefix $(QB)/$(1)/obj/,$(LUA_KOBJS)) \
		$(patsubst %,$(QB)/$(1)/obj/%.o,$(basename $(QEMU_BOARD_$(1)))) \
		$(addprefix $(QB)/$(1)/pico/,$(LUA_POBJS)) \
		$(B)/$(1)/liblua.a $(B)/$(1)/libhakmem.a \
		$(QEMU_LDSCRIPT_$(1)) linker/picolibc-tls.ld
	@echo "  LD      $$@"
	$(Q)$(LUA_LD_$(1)) $(QEMU_LDFLAGS_$(1)) -Wl,-Map=$$@.map -o $$@ \
		$$(filter %.o,$$^) linker/picolibc-tls.ld \
		$(B)/$(1)/liblua.a $(B)/$(1)/libhakmem.a \
		-Wl,--start-group $(LUA_LIBC_$(1)) -lgcc -Wl,--end-group
endef

$(foreach f,$(LUA_FLAVOURS),$(eval $(call lua_image,$(f))))

# The scripts, embedded: a table of { name, source, length } (run.h).
$(QB)/%/lua-scripts.S: $(LUA_SCRIPTS) tests/qemu/lua/lua.mk
	@mkdir -p $(dir $@)
	@echo "  GEN     $@"
	$(Q){ \
	echo '/* generated by tests/qemu/lua/lua.mk from the .lua files there */'; \
	echo '	.section .rodata.lua_scripts, "a"'; \
	i=0; for s in $(LUA_SCRIPTS); do \
		echo "src_$$i: .incbin \"$$s\""; echo "end_$$i: .byte 0"; \
		echo "name_$$i: .asciz \"$$(basename $$s)\""; i=$$((i + 1)); \
	done; \
	echo '	.balign 8'; echo '	.globl lua_scripts'; echo 'lua_scripts:'; \
	i=0; for s in $(LUA_SCRIPTS); do \
		echo "	.quad name_$$i, src_$$i, end_$$i - src_$$i"; i=$$((i + 1)); \
	done; \
	echo '	.globl lua_nscripts'; echo 'lua_nscripts:'; echo "	.word $$i"; \
	} >$@

images: $(LUA_IMAGES)
