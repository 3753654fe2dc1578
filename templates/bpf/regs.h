/*
 * Register access for probes whose context is the probed function's registers
 * (kprobe, kretprobe, uprobe, uretprobe, usdt): argN, sargN and retval, through
 * libbpf's bpf_tracing.h PT_REGS_*_CORE for the architecture the build names
 * with -D__TARGET_ARCH_xxx.
 *
 * The register struct is declared here with a CO-RE flavour suffix (___bt)
 * and relocated by field name against the running kernel's BTF, instead of
 * being taken from vmlinux.h: vmlinux.h is the build host's (cross builds use
 * it for every target), and struct pt_regs differs between architectures.
 */
/* bpf_tracing.h is included at the top of the program (uses_regs). */

struct pt_regs;	/* opaque: the program context (usdt.bpf.h takes it as a pointer) */

#if defined(__TARGET_ARCH_x86)
struct pt_regs___bt {
	unsigned long di, si, dx, cx, r8, r9, ax, sp, ip;
} __attribute__((preserve_access_index));
#undef __PT_REGS_CAST
#define __PT_REGS_CAST(x) ((const struct pt_regs___bt *)(x))
#define BT_REG_ARGS 6		/* rdi rsi rdx rcx r8 r9 */
#define BT_STACK_ARG0 1		/* the return address is at sp on entry */
#define BT_REG_ARG5(ctx) BPF_CORE_READ(__PT_REGS_CAST(ctx), r9)
#elif defined(__TARGET_ARCH_arm64)
struct user_pt_regs___bt {
	__u64 regs[31];
	__u64 sp;
	__u64 pc;
} __attribute__((preserve_access_index));
#undef __PT_REGS_CAST
#define __PT_REGS_CAST(x) ((const struct user_pt_regs___bt *)(x))
#define BT_REG_ARGS 8		/* x0..x7 */
#define BT_STACK_ARG0 0
#define BT_REG_ARG5(ctx) BPF_CORE_READ(__PT_REGS_CAST(ctx), regs[5])
#define BT_REG_ARG6(ctx) BPF_CORE_READ(__PT_REGS_CAST(ctx), regs[6])
#define BT_REG_ARG7(ctx) BPF_CORE_READ(__PT_REGS_CAST(ctx), regs[7])
#else
#define BT_REG_ARGS 5		/* what bpf_tracing.h names on every architecture */
#define BT_STACK_ARG0 0
#endif

/* A word on the probed task's stack: user (uprobe) or kernel (kprobe) memory. */
static __always_inline __u64 bt_regs_stack_word(void *ctx, int n, int user)
{
	__u64 v = 0, addr = PT_REGS_SP_CORE(ctx) + 8 * n;

	if (user)
		bpf_probe_read_user(&v, sizeof(v), (void *)addr);
	else
		bpf_probe_read_kernel(&v, sizeof(v), (void *)addr);
	return v;
}

/*
 * Argument n (from 0) of the probed function at its entry.  n is a constant at
 * every call site, so the switch folds to one register read.  user: the
 * registers are a user process's (uprobe), so stack arguments are user memory.
 */
static __always_inline __u64 bt_regs_arg(void *ctx, int n, int user)
{
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
	return bt_regs_stack_word(ctx, n - BT_REG_ARGS + BT_STACK_ARG0, user);
}

/* sargN: the N-th word-sized argument passed on the stack (after the return
 * address where the call pushes one). */
static __always_inline __u64 bt_regs_sarg(void *ctx, int n, int user)
{
	return bt_regs_stack_word(ctx, n + BT_STACK_ARG0, user);
}

/* The probed function's return value (kretprobe, uretprobe). */
static __always_inline __u64 bt_regs_ret(void *ctx)
{
	return PT_REGS_RC_CORE(ctx);
}
