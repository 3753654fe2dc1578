/*
 * Register access for probes whose context is the probed function's registers
 * (kprobe, kretprobe, uprobe, uretprobe): argN and retval.  The registers come
 * from libbpf's bpf_tracing.h for the architecture the build names with
 * -D__TARGET_ARCH_xxx, read with CO-RE so the layout of struct pt_regs is the
 * running kernel's.  Arguments past the registers are read from the stack.
 */

#if defined(__TARGET_ARCH_x86)
#define BT_REG_ARGS 6		/* rdi rsi rdx rcx r8 r9 */
#define BT_STACK_ARG0 1		/* the return address is at sp on entry */
#define BT_REG_ARG5(ctx) BPF_CORE_READ(__PT_REGS_CAST(ctx), r9)
#elif defined(__TARGET_ARCH_arm64)
#define BT_REG_ARGS 8		/* x0..x7 */
#define BT_STACK_ARG0 0
#define BT_REG_ARG5(ctx) BPF_CORE_READ(__PT_REGS_CAST(ctx), regs[5])
#define BT_REG_ARG6(ctx) BPF_CORE_READ(__PT_REGS_CAST(ctx), regs[6])
#define BT_REG_ARG7(ctx) BPF_CORE_READ(__PT_REGS_CAST(ctx), regs[7])
#else
#define BT_REG_ARGS 5		/* what bpf_tracing.h names on every architecture */
#define BT_STACK_ARG0 0
#endif

/*
 * Argument n (from 0) of the probed function at its entry.  n is a constant at
 * every call site, so the switch folds to one register read.  user: the
 * registers are a user process's (uprobe), so stack arguments are user memory.
 */
static __always_inline __u64 bt_regs_arg(struct pt_regs *ctx, int n, int user)
{
	__u64 v = 0;

	switch (n) {
	case 0: return PT_REGS_PARM1_CORE(ctx);
	case 1: return PT_REGS_PARM2_CORE(ctx);
	case 2: return PT_REGS_PARM3_CORE(ctx);
	case 3: return PT_REGS_PARM4_CORE(ctx);
	case 4: return PT_REGS_PARM5_CORE(ctx);
#ifdef BT_REG_ARG5
	case 5: return BT_REG_ARG5(ctx);
#endif
#ifdef BT_REG_ARG6
	case 6: return BT_REG_ARG6(ctx);
	case 7: return BT_REG_ARG7(ctx);
#endif
	}
	/* Past the argument registers: on the caller's stack, one word each. */
	__u64 addr = PT_REGS_SP_CORE(ctx) + 8 * (n - BT_REG_ARGS + BT_STACK_ARG0);

	if (user)
		bpf_probe_read_user(&v, sizeof(v), (void *)addr);
	else
		bpf_probe_read_kernel(&v, sizeof(v), (void *)addr);
	return v;
}

/* The probed function's return value (kretprobe, uretprobe). */
static __always_inline __u64 bt_regs_ret(struct pt_regs *ctx)
{
	return PT_REGS_RC_CORE(ctx);
}
