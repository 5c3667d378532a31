// SPDX-License-Identifier: MIT
/*
 * run.c - the picolibc side of the Lua image: one unmodified Lua 5.4
 * interpreter per call, allocating through luaL_newstate's own allocator
 * (realloc/free, which are hakmem's in this image).
 *
 * Opened: the libraries that need no OS (base, coroutine, table, string,
 * math, utf8). Not opened: io, os and package (files, processes, clocks,
 * dlopen) and debug; the scripts do not use them, and the host lua5.4
 * runs the same scripts for the reference output.
 */
#include <stdio.h>
#include <string.h>

#include "lauxlib.h"
#include "lua.h"
#include "lualib.h"
#include "run.h"

static const luaL_Reg run_libs[] = {
	{ LUA_GNAME, luaopen_base },	     { LUA_COLIBNAME, luaopen_coroutine },
	{ LUA_TABLIBNAME, luaopen_table },   { LUA_STRLIBNAME, luaopen_string },
	{ LUA_MATHLIBNAME, luaopen_math },   { LUA_UTF8LIBNAME, luaopen_utf8 },
	{ NULL, NULL },
};

void lua_run_job(void *arg)
{
	struct lua_job *job = arg;
	const luaL_Reg *lib;
	char chunk[64];
	lua_State *L;

	job->err[0] = 0;
	job->lua_kb = 0;
	L = luaL_newstate();
	if (!L) {
		job->status = -1;
		snprintf(job->err, sizeof(job->err), "luaL_newstate failed");
		return;
	}
	for (lib = run_libs; lib->func; lib++) {
		luaL_requiref(L, lib->name, lib->func, 1);
		lua_pop(L, 1);
	}
	/* Generational, as lua.c sets it: the scripts run under the GC mode
	 * of the host's lua5.4 they are compared with. */
	lua_gc(L, LUA_GCGEN, 0, 0);
	/* The chunk name the host interpreter gives a file run from its
	 * directory, so error positions match too. */
	snprintf(chunk, sizeof(chunk), "@%s", job->script->name);
	job->status = luaL_loadbuffer(L, job->script->src, job->script->len,
				      chunk);
	if (job->status == LUA_OK)
		job->status = lua_pcall(L, 0, 0, 0);
	if (job->status != LUA_OK) {
		const char *msg = lua_tostring(L, -1);

		snprintf(job->err, sizeof(job->err), "%s",
			 msg ? msg : "(error object is not a string)");
	}
	job->lua_kb = (unsigned long)lua_gc(L, LUA_GCCOUNT, 0);
	fflush(stdout);
	lua_close(L);
}
