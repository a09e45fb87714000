/* Latency of bpftime-target's work function as a log2 histogram, like bpftime's funclatency:
 * knobs in .rodata (set with prog load --set), the histogram in .bss. */
#include "bpf_example.h"

const volatile __u32 target_pid = 0;   /* 0: every process */
const volatile __u64 units_shift = 0;  /* 0: nanoseconds, 10: about microseconds */

__u64 histogram[32] = {};
__u64 calls = 0;

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1024);
    __type(key, __u32);
    __type(value, __u64);
} starts SEC(".maps");

static __always_inline int wanted(__u32 pid) { return target_pid == 0 || target_pid == pid; }

SEC("uprobe/" TARGET ":bpftime_target_work")
int BPF_UPROBE(work_entry)
{
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    __u64 now = bpf_ktime_get_ns();
    if (!wanted(bpf_get_current_pid_tgid() >> 32))
        return 0;
    bpf_map_update_elem(&starts, &tid, &now, BPF_ANY);
    return 0;
}

SEC("uretprobe/" TARGET ":bpftime_target_work")
int BPF_URETPROBE(work_exit, long ret)
{
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    __u64 *start = bpf_map_lookup_elem(&starts, &tid);
    if (!start)
        return 0;
    __u64 delta = (bpf_ktime_get_ns() - *start) >> units_shift;
    __u32 slot = 0;
    while (delta > 1 && slot < 31) {
        delta >>= 1;
        slot++;
    }
    __sync_fetch_and_add(&histogram[slot], 1);
    __sync_fetch_and_add(&calls, 1);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
