/*
 * Register access for probes whose context is the probed function's registers
 * (kprobe, kretprobe, uprobe, uretprobe, usdt): argN, sargN and retval.
 *
 * On x86-64 and arm64 the registers are read straight from the context at the
 * offsets of the architecture's register struct (x86-64's struct pt_regs and
 * arm64's struct user_pt_regs, both uapi: the BPF context ABI of these probes,
 * the same on every kernel), declared here because vmlinux.h is the build
 * host's (cross builds use it for every target).  No CO-RE relocation: with one,
 * libbpf must load and parse the kernel's BTF (4-5 MB) at start-up, which cost
 * a uprobe tool about 55 ms and 9 MiB (bench: docs/benchmarks.md), and every
 * read would be a bpf_probe_read_kernel() call instead of one load.  Other
 * architectures use libbpf's bpf_tracing.h PT_REGS_*_CORE for the architecture
 * the build names with -D__TARGET_ARCH_xxx, relocated against the kernel's BTF.
 */
/* bpf_tracing.h is included at the top of the program (uses_regs). */

struct pt_regs;	/* opaque: the program context (usdt.bpf.h takes it as a pointer) */

#if defined(__TARGET_ARCH_x86)
struct bt_regs {	/* arch/x86/include/uapi/asm/ptrace.h, x86-64 */
	unsigned long r15, r14, r13, r12, bp, bx, r11, r10, r9, r8;
	unsigned long ax, cx, dx, si, di, orig_ax, ip, cs, flags, sp, ss;
};
#define BT_REGS(ctx) ((const struct bt_regs *)(ctx))
#define BT_REG_ARGS 6		/* rdi rsi rdx rcx r8 r9 */
#define BT_STACK_ARG0 1		/* the return address is at sp on entry */
#define BT_REG_SP(ctx) (BT_REGS(ctx)->sp)
#define BT_REG_RC(ctx) (BT_REGS(ctx)->ax)

static __always_inline __u64 bt_regs_reg_arg(void *ctx, int n)
{
	switch (n) {
	case 0: return BT_REGS(ctx)->di;
	case 1: return BT_REGS(ctx)->si;
	case 2: return BT_REGS(ctx)->dx;
	case 3: return BT_REGS(ctx)->cx;
	case 4: return BT_REGS(ctx)->r8;
	default: return BT_REGS(ctx)->r9;
	}
}
#elif defined(__TARGET_ARCH_arm64)
struct bt_regs {	/* arch/arm64/include/uapi/asm/ptrace.h: struct user_pt_regs */
	__u64 regs[31];
	__u64 sp;
	__u64 pc;
	__u64 pstate;
};
#define BT_REGS(ctx) ((const struct bt_regs *)(ctx))
#define BT_REG_ARGS 8		/* x0..x7 */
#define BT_STACK_ARG0 0
#define BT_REG_SP(ctx) (BT_REGS(ctx)->sp)
#define BT_REG_RC(ctx) (BT_REGS(ctx)->regs[0])

static __always_inline __u64 bt_regs_reg_arg(void *ctx, int n)
{
	return BT_REGS(ctx)->regs[n];	/* n < 8, a constant at every call site */
}
#else
#define BT_REG_ARGS 5		/* what bpf_tracing.h names on every architecture */
#define BT_STACK_ARG0 0
#define BT_REG_SP(ctx) PT_REGS_SP_CORE(ctx)
#define BT_REG_RC(ctx) PT_REGS_RC_CORE(ctx)

static __always_inline __u64 bt_regs_reg_arg(void *ctx, int n)
{
	switch (n) {
	case 0: return PT_REGS_PARM1_CORE(ctx);
	case 1: return PT_REGS_PARM2_CORE(ctx);
	case 2: return PT_REGS_PARM3_CORE(ctx);
	case 3: return PT_REGS_PARM4_CORE(ctx);
	default: return PT_REGS_PARM5_CORE(ctx);
	}
}
#endif

/* A word on the probed task's stack: user (uprobe) or kernel (kprobe) memory. */
static __always_inline __u64 bt_regs_stack_word(void *ctx, int n, int user)
{
	__u64 v = 0, addr = BT_REG_SP(ctx) + 8 * n;

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
	if (n < BT_REG_ARGS)
		return bt_regs_reg_arg(ctx, n);
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
	return BT_REG_RC(ctx);
}
