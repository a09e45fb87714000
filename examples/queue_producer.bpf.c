/* Pushes the first argument of each call into a queue map, like bpftime's queue demo. */
#include "bpf_example.h"

struct {
    __uint(type, BPF_MAP_TYPE_QUEUE);
    __uint(max_entries, 64);
    __type(value, __u64);
} arguments SEC(".maps");

SEC("uprobe/" TARGET ":bpftime_target_work")
int BPF_UPROBE(push_argument, long n)
{
    __u64 value = n;
    bpf_map_push_elem(&arguments, &value, BPF_ANY);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
