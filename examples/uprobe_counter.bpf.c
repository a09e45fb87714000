/* Counts calls of bpftime-target's work function per process, like bpftime's malloc counter. */
#include "bpf_example.h"

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1024);
    __type(key, __u32);
    __type(value, __u64);
} calls_by_pid SEC(".maps");

SEC("uprobe/" TARGET ":bpftime_target_work")
int count_work(struct pt_regs *ctx)
{
    __u32 pid = bpf_get_current_pid_tgid() >> 32;
    __u64 one = 1, *count = bpf_map_lookup_elem(&calls_by_pid, &pid);
    if (count)
        __sync_fetch_and_add(count, 1);
    else
        bpf_map_update_elem(&calls_by_pid, &pid, &one, BPF_NOEXIST);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
