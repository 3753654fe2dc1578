/*
 * Register access for probes whose context is the probed function's registers
 * (kprobe, kretprobe, uprobe, uretprobe, usdt): argN, sargN and retval.
 *
 * ctx points at the kernel's struct pt_regs, whose leading words are the
 * architecture's user-visible register set: a layout fixed by the kernel ABI
 * (ptrace and perf depend on it).  bt2c describes that part for each
 * architecture below and -D__TARGET_ARCH_xxx picks one, so one .bpf.c builds
 * for every architecture with nothing from the target's kernel headers (and
 * with loongarch, which libbpf 1.1's bpf_tracing.h lacks).  Each register is
 * one load from the context: no helper call and no CO-RE relocation, so the
 * programs also load on kernels without BTF.
 *
 * BT_REG_ARGS: arguments passed in registers; past them, argument n is the
 * word at sp + 8 * (n - BT_REG_ARGS + BT_STACK_ARG0) at the function's entry.
 */

struct pt_regs;	/* opaque: the program context (usdt.bpf.h takes it as a pointer) */
#if defined(__TARGET_ARCH_x86)
/* x86_64: struct pt_regs; arguments in rdi rsi rdx rcx r8 r9, result in rax. */
struct bt_regs {
	__u64 r15, r14, r13, r12, bp, bx, r11, r10, r9, r8;
	__u64 ax, cx, dx, si, di, orig_ax, ip, cs, flags, sp, ss;
};
#define BT_REG_ARGS 6
#define BT_STACK_ARG0 1 /* the return address is at sp on entry */
#define BT_REG_RET(r) ((r)->ax)
#define BT_REG_IP(r) ((r)->ip)
#define BT_REG_SP(r) ((r)->sp)
#define BT_REG_ARG(r, n)                                                         \
	((n) == 0 ? (r)->di : (n) == 1 ? (r)->si : (n) == 2 ? (r)->dx :         \
	 (n) == 3 ? (r)->cx : (n) == 4 ? (r)->r8 : (r)->r9)
#elif defined(__TARGET_ARCH_arm64)
/* arm64: struct user_pt_regs; arguments in x0..x7, result in x0. */
struct bt_regs {
	__u64 regs[31], sp, pc, pstate;
};
#define BT_REG_ARGS 8
#define BT_STACK_ARG0 0
#define BT_REG_RET(r) ((r)->regs[0])
#define BT_REG_IP(r) ((r)->pc)
#define BT_REG_SP(r) ((r)->sp)
#define BT_REG_ARG(r, n) ((r)->regs[(n)])
#elif defined(__TARGET_ARCH_riscv)
/* riscv64: struct user_regs_struct; arguments in a0..a7, result in a0. */
struct bt_regs {
	__u64 pc, ra, sp, gp, tp, t0, t1, t2, s0, s1;
	__u64 a[8]; /* a0..a7 */
};
#define BT_REG_ARGS 8
#define BT_STACK_ARG0 0
#define BT_REG_RET(r) ((r)->a[0])
#define BT_REG_IP(r) ((r)->pc)
#define BT_REG_SP(r) ((r)->sp)
#define BT_REG_ARG(r, n) ((r)->a[(n)])
#elif defined(__TARGET_ARCH_s390)
/* s390x: user_pt_regs; arguments in r2..r6, result in r2, sp is r15. */
struct bt_regs {
	__u64 args[1];
	__u64 psw_mask, psw_addr;
	__u64 gprs[16];
};
#define BT_REG_ARGS 5
#define BT_STACK_ARG0 20 /* past the caller's 160-byte register save area */
#define BT_REG_RET(r) ((r)->gprs[2])
#define BT_REG_IP(r) ((r)->psw_addr)
#define BT_REG_SP(r) ((r)->gprs[15])
#define BT_REG_ARG(r, n) ((r)->gprs[2 + (n)])
#elif defined(__TARGET_ARCH_powerpc)
/* powerpc64le: struct user_pt_regs; arguments in r3..r10, result in r3, sp is r1. */
struct bt_regs {
	__u64 gpr[32], nip;
};
#define BT_REG_ARGS 8
#define BT_STACK_ARG0 12 /* ELFv2: 32-byte frame header, then the 8 register args' slots */
#define BT_REG_RET(r) ((r)->gpr[3])
#define BT_REG_IP(r) ((r)->nip)
#define BT_REG_SP(r) ((r)->gpr[1])
#define BT_REG_ARG(r, n) ((r)->gpr[3 + (n)])
#elif defined(__TARGET_ARCH_loongarch)
/* loongarch64: struct user_pt_regs; arguments in a0..a7 (r4..r11), result in a0. */
struct bt_regs {
	__u64 regs[32], orig_a0, csr_era;
};
#define BT_REG_ARGS 8
#define BT_STACK_ARG0 0
#define BT_REG_RET(r) ((r)->regs[4])
#define BT_REG_IP(r) ((r)->csr_era)
#define BT_REG_SP(r) ((r)->regs[3])
#define BT_REG_ARG(r, n) ((r)->regs[4 + (n)])
#else
#error "bt2c: build with -D__TARGET_ARCH_x86, arm64, riscv, s390, powerpc or loongarch"
#endif

/*
 * usdt.bpf.h reads the probe's address with PT_REGS_IP: take it from the
 * struct above, which also covers loongarch where libbpf 1.1 has no layout.
 */
#undef PT_REGS_IP
#define PT_REGS_IP(x) BT_REG_IP((const struct bt_regs *)(x))

/* A word on the probed task's stack: user (uprobe) or kernel (kprobe) memory. */
static __always_inline __u64 bt_regs_stack_word(void *ctx, int n, int user)
{
	const struct bt_regs *r = ctx;
	__u64 v = 0, addr = BT_REG_SP(r) + 8 * n;

	if (user)
		bpf_probe_read_user(&v, sizeof(v), (void *)addr);
	else
		bpf_probe_read_kernel(&v, sizeof(v), (void *)addr);
	return v;
}

/*
 * Argument n (from 0) of the probed function at its entry.  n is a constant at
 * every call site, so this folds to one load.  user: the registers are a user
 * process's (uprobe), so stack arguments are user memory.
 */
static __always_inline __u64 bt_regs_arg(void *ctx, int n, int user)
{
	const struct bt_regs *r = ctx;

	if (n < BT_REG_ARGS)
		return BT_REG_ARG(r, n);
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
	const struct bt_regs *r = ctx;

	return BT_REG_RET(r);
}

/* usermode: the registers are a user process's (privilege level 3 on x86-64,
 * exception level 0 on arm64). */
static __always_inline __u8 bt_regs_usermode(void *ctx)
{
	const struct bt_regs *r = ctx;

#if defined(__TARGET_ARCH_x86)
	return (r->cs & 3) == 3;
#elif defined(__TARGET_ARCH_arm64)
	return (r->pstate & 0xf) == 0;
#else
	(void)r;
	return 0;
#endif
}
