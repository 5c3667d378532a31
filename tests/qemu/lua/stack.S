/* SPDX-License-Identifier: MIT */
/*
 * stack.S - lua_call_on_stack(fn, arg, stack_top) (run.h): fn(arg) on
 * another stack. The old stack pointer lives in a callee-saved register,
 * so fn keeps it for us. IRQs taken meanwhile land on the new stack.
 */
	.text
	.globl	lua_call_on_stack
	.type	lua_call_on_stack, %function
lua_call_on_stack:
#if defined(__aarch64__)
	stp	x29, x30, [sp, #-16]!
	mov	x29, sp
	mov	sp, x2
	mov	x3, x0
	mov	x0, x1
	blr	x3
	mov	sp, x29
	ldp	x29, x30, [sp], #16
	ret
#elif defined(__riscv)
	addi	sp, sp, -16
	sd	ra, 8(sp)
	sd	s0, 0(sp)
	mv	s0, sp
	mv	sp, a2
	mv	t0, a0
	mv	a0, a1
	jalr	t0
	mv	sp, s0
	ld	ra, 8(sp)
	ld	s0, 0(sp)
	addi	sp, sp, 16
	ret
#else
#error "lua_call_on_stack: no implementation for this arch"
#endif
	.size	lua_call_on_stack, . - lua_call_on_stack
