/* bpftime's uprobe-override example: a program in a bare SEC("uprobe") that replaces the hooked
 * function's result with bpf_override_return. Its section names no place, so it is attached as
 * bpftime's attach_override.h does it, here by
 *   bpftimetool prog load uprobe_override.bpf.o --attach-override do_uprobe_override_patch=PATH:FUNC
 * On bpftime-target's work function it makes every call return twice its argument. */
#include "bpf_example.h"

SEC("uprobe")
int do_uprobe_override_patch(struct pt_regs *ctx)
{
    bpf_override_return(ctx, PT_REGS_PARM1(ctx) * 2);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
