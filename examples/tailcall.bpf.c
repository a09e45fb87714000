/* A dispatcher that tail-calls one of two handlers through a prog_array filled in the object
 * (libbpf's __array(values, ...)), like bpftime's tail-call example. */
#include "bpf_example.h"

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 2);
    __type(key, __u32);
    __type(value, __u64);
} handled SEC(".maps");

static __always_inline int count(__u32 slot)
{
    __u64 *value = bpf_map_lookup_elem(&handled, &slot);
    if (value)
        __sync_fetch_and_add(value, 1);
    return 0;
}

SEC("uprobe")
int handle_even(struct pt_regs *ctx) { return count(0); }

SEC("uprobe")
int handle_odd(struct pt_regs *ctx) { return count(1); }

struct {
    __uint(type, BPF_MAP_TYPE_PROG_ARRAY);
    __uint(max_entries, 2);
    __uint(key_size, sizeof(__u32));
    __array(values, int(struct pt_regs *));
} handlers SEC(".maps") = {
    .values = { [0] = (void *)&handle_even, [1] = (void *)&handle_odd },
};

SEC("uprobe/" TARGET ":bpftime_target_work")
int dispatch(struct pt_regs *ctx)
{
    bpf_tail_call(ctx, &handlers, PT_REGS_PARM1(ctx) & 1);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
