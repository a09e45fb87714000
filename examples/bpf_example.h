/* A small stand-in for libbpf's bpf_helpers.h and bpf_tracing.h, enough for the examples here
 * (x86-64 only). Programs written against it also build against libbpf's headers. */
#ifndef BPF_EXAMPLE_H
#define BPF_EXAMPLE_H

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef int __s32;
typedef long long __s64;

#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name
#define __array(name, val) typeof(val) *name[]
#define __always_inline inline __attribute__((always_inline))

enum {
    BPF_MAP_TYPE_HASH = 1, BPF_MAP_TYPE_ARRAY = 2, BPF_MAP_TYPE_PROG_ARRAY = 3,
    BPF_MAP_TYPE_PERF_EVENT_ARRAY = 4, BPF_MAP_TYPE_PERCPU_ARRAY = 6,
    BPF_MAP_TYPE_QUEUE = 22, BPF_MAP_TYPE_RINGBUF = 27,
};
enum { BPF_ANY = 0, BPF_NOEXIST = 1, BPF_EXIST = 2 };

/* Helpers, by their Linux numbers. */
static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
static long (*bpf_map_update_elem)(void *map, const void *key, const void *value, __u64 flags) = (void *)2;
static __u64 (*bpf_ktime_get_ns)(void) = (void *)5;
static long (*bpf_trace_printk)(const char *fmt, __u32 fmt_size, ...) = (void *)6;
static long (*bpf_tail_call)(void *ctx, void *prog_array_map, __u32 index) = (void *)12;
static __u64 (*bpf_get_current_pid_tgid)(void) = (void *)14;
static long (*bpf_map_push_elem)(void *map, const void *value, __u64 flags) = (void *)87;
static long (*bpf_ringbuf_output)(void *ringbuf, void *data, __u64 size, __u64 flags) = (void *)130;
static void *(*bpf_ringbuf_reserve)(void *ringbuf, __u64 size, __u64 flags) = (void *)131;
static void (*bpf_ringbuf_submit)(void *data, __u64 flags) = (void *)132;

/* x86-64 registers at a probed call. preserve_access_index makes clang emit CO-RE relocations
 * for the fields used, which the loader resolves against the runtime's layout. */
struct pt_regs {
    unsigned long r15, r14, r13, r12, bp, bx, r11, r10, r9, r8;
    unsigned long ax, cx, dx, si, di, orig_ax, ip, cs, flags, sp, ss;
} __attribute__((preserve_access_index));

/* Helpers taking the probed call's registers. */
static long (*bpf_override_return)(struct pt_regs *regs, __u64 rc) = (void *)58;
static long (*bpf_get_stack)(void *ctx, void *buf, __u32 size, __u64 flags) = (void *)67;
static long (*bpf_set_retval)(int retval) = (void *)187;
enum { BPF_F_SKIP_FIELD_MASK = 0xff, BPF_F_USER_STACK = 1 << 8 };

#define PT_REGS_PARM1(x) ((x)->di)
#define PT_REGS_PARM2(x) ((x)->si)
#define PT_REGS_PARM3(x) ((x)->dx)
#define PT_REGS_RC(x) ((x)->ax)
#define PT_REGS_IP(x) ((x)->ip)
#define PT_REGS_SP(x) ((x)->sp)

/* BPF_KPROBE(name, a, b): a program taking struct pt_regs, with its first arguments named
 * (up to three here); BPF_UPROBE is the same, BPF_URETPROBE(name, ret) names the return value. */
#define ___bpf_nth(_, _1, _2, _3, N, ...) N
#define ___bpf_narg(...) ___bpf_nth(_, ##__VA_ARGS__, 3, 2, 1, 0)
#define ___bpf_concat(a, b) a##b
#define ___bpf_apply(fn, n) ___bpf_concat(fn, n)
#define ___bpf_kprobe_args0() ctx
#define ___bpf_kprobe_args1(x) ___bpf_kprobe_args0(), (void *)PT_REGS_PARM1(ctx)
#define ___bpf_kprobe_args2(x, args...) ___bpf_kprobe_args1(args), (void *)PT_REGS_PARM2(ctx)
#define ___bpf_kprobe_args3(x, args...) ___bpf_kprobe_args2(args), (void *)PT_REGS_PARM3(ctx)
#define ___bpf_kprobe_args(args...) ___bpf_apply(___bpf_kprobe_args, ___bpf_narg(args))(args)
#define BPF_KPROBE(name, args...)                                                   \
    name(struct pt_regs *ctx);                                                      \
    static __always_inline typeof(name(0)) ____##name(struct pt_regs *ctx, ##args); \
    typeof(name(0)) name(struct pt_regs *ctx)                                       \
    {                                                                               \
        _Pragma("GCC diagnostic push")                                              \
        _Pragma("GCC diagnostic ignored \"-Wint-conversion\"")                      \
        return ____##name(___bpf_kprobe_args(args));                                \
        _Pragma("GCC diagnostic pop")                                               \
    }                                                                               \
    static __always_inline typeof(name(0)) ____##name(struct pt_regs *ctx, ##args)
#define BPF_UPROBE(name, args...) BPF_KPROBE(name, ##args)
#define BPF_URETPROBE(name, ret)                                                    \
    name(struct pt_regs *ctx);                                                      \
    static __always_inline typeof(name(0)) ____##name(struct pt_regs *ctx, ret);    \
    typeof(name(0)) name(struct pt_regs *ctx)                                       \
    {                                                                               \
        _Pragma("GCC diagnostic push")                                              \
        _Pragma("GCC diagnostic ignored \"-Wint-conversion\"")                      \
        return ____##name(ctx, (void *)PT_REGS_RC(ctx));                            \
        _Pragma("GCC diagnostic pop")                                               \
    }                                                                               \
    static __always_inline typeof(name(0)) ____##name(struct pt_regs *ctx, ret)

/* The uprobe target of the examples: bpftime-target's functions. Build with
 * -DTARGET='"/path/to/bpftime-target"' to attach to another copy. */
#ifndef TARGET
#define TARGET "./bpftime-target"
#endif

#endif
