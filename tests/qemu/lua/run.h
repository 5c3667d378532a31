/* SPDX-License-Identifier: MIT */
/*
 * run.h - between the Lua image's kernel side (main.c: board, timer,
 * hakmem checks; no FP, no C library) and its picolibc side (run.c: the
 * interpreter). No C library header here.
 */
#ifndef HAKMEM_TESTS_QEMU_LUA_RUN_H
#define HAKMEM_TESTS_QEMU_LUA_RUN_H

#include <stddef.h>

/* The scripts, embedded by the generated scripts.S (tests/qemu/lua/lua.mk). */
struct lua_script {
	const char *name; /* file name, also the chunk name ("@name") */
	const char *src;
	unsigned long len;
};
extern const struct lua_script lua_scripts[];
extern const unsigned lua_nscripts;

/* One run of one script in an interpreter of its own. */
struct lua_job {
	const struct lua_script *script;
	int status;	      /* 0, or the failing lua_pcall/load status */
	unsigned long lua_kb; /* collectgarbage("count") when it ended */
	char err[160];	      /* the error message when status != 0 */
};

/* luaL_newstate, the OS-free libraries, the script, lua_close. Writes
 * through stdout into the calling CPU's picolibc output buffer. */
void lua_run_job(void *job);

/* Runs fn(arg) on the stack that ends at stack_top (16-byte aligned):
 * the board's 16 KiB stacks are too small for the interpreter. */
void lua_call_on_stack(void (*fn)(void *), void *arg, void *stack_top);

#endif
