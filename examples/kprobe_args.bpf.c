/* A BPF_KPROBE-style program reading two arguments of bpftime-target's add function
 * (PT_REGS_PARM1/2 through CO-RE), keeping the last pair and the sum of all seen. */
#include "bpf_example.h"

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 3);
    __type(key, __u32);
    __type(value, __u64);
} seen SEC(".maps");

static __always_inline void store(__u32 slot, __u64 value)
{
    bpf_map_update_elem(&seen, &slot, &value, BPF_ANY);
}

SEC("uprobe/" TARGET ":bpftime_target_add")
int BPF_KPROBE(add_args, long a, long b)
{
    __u32 slot = 2;
    store(0, a);
    store(1, b);
    __u64 *sum = bpf_map_lookup_elem(&seen, &slot);
    if (sum)
        __sync_fetch_and_add(sum, a + b);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
