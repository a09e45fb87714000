/* Emits one record per call into a ring buffer, read by `bpftimetool map event-pipe`. */
#include "bpf_example.h"

struct event {
    __u32 pid;
    __u32 pad;
    __u64 argument;
};

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 4096);
} events SEC(".maps");

SEC("uprobe/" TARGET ":bpftime_target_work")
int BPF_UPROBE(emit, long n)
{
    struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    if (!e)
        return 0;
    e->pid = bpf_get_current_pid_tgid() >> 32;
    e->pad = 0;
    e->argument = n;
    bpf_ringbuf_submit(e, 0);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
