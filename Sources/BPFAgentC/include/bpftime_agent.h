/*
 * bpftime_agent: run the eBPF programs of a bpftimetool segment at the hooks of this process.
 * Link with -lbpftime_agent (the .so SwiftPM builds as libbpftime_agent.so).
 *
 * A hook is named as bpftime names perf events:
 *   "MODULE:OFFSET"            function entry (uprobe / uprobe_override events), OFFSET decimal or 0x-hex;
 *                              MODULE matches an event's _module_name by file name
 *   "uretprobe:MODULE:OFFSET"  function return (uretprobe events); "uprobe:..." is the same as no prefix
 *   "tracepoint:ID"            a tracepoint by id
 *   "SYMBOL", "uretprobe:SYMBOL"  an exported symbol of this process (dlsym), resolved to its
 *                              file and file offset as libbpf computes uprobe offsets
 * Firing runs every program attached (attach_fds or links) to an enabled matching perf event, in
 * attach order, with r1 = a private copy of ctx, r2 = len, and the attach cookie for
 * bpf_get_attach_cookie. Changes to the segment are picked up at the next fire; once the segment
 * is removed, fires run nothing (one warning is logged). Logs go to stderr (level: SPDLOG_LEVEL).
 * Programs run on the engine named by BPFTIME_AGENT_ENGINE: "jit" (the default on x86-64) or
 * "interpreter". Each run may execute at most BPFTIME_AGENT_MAX_INSNS instructions (default
 * 16777216); a program that exceeds it is stopped and counts as faulted, so a looping program
 * cannot wedge the process.
 *
 * A handle is not thread-safe: use it from one thread at a time (open one per thread).
 */
#ifndef BPFTIME_AGENT_H
#define BPFTIME_AGENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bpftime_agent bpftime_agent;

/* Maps segment shm_name (NULL: $BPFTIME_GLOBAL_SHM_NAME, else the default name) and loads its
 * programs. Returns NULL with errno set (ENOENT no such segment, EACCES, EBADMSG not a segment or
 * inconsistent, EINVAL unknown BPFTIME_AGENT_ENGINE, EIO other) and the reason in
 * bpftime_agent_last_error(). EACCES also covers a segment of another user or one others may
 * write. */
bpftime_agent *bpftime_agent_open(const char *shm_name);

/* As bpftime_agent_open, with an instruction budget per program run (> 0) instead of
 * BPFTIME_AGENT_MAX_INSNS. */
bpftime_agent *bpftime_agent_open_with_budget(const char *shm_name, uint64_t max_insns);

/* A small integer id for hook (>= 0), valid for this handle's life; or -EINVAL (bad syntax),
 * -ENOENT (unknown symbol), -EBADF (NULL handle). */
int64_t bpftime_agent_resolve(bpftime_agent *agent, const char *hook);

/* Fires a resolved hook: the number of programs that ran to completion (0 when nothing is
 * attached), or -EINVAL (id not from this handle), -EBADF (NULL handle). The fast path. */
int bpftime_agent_fire_id(bpftime_agent *agent, int64_t hook_id, const void *ctx, size_t len);

/* The registers of a hooked call (System V x86-64). */
typedef struct bpftime_call {
    uint64_t args[6]; /* arguments 1-6: di, si, dx, cx, r8, r9 */
    uint64_t ret;     /* ax: the return value, for uretprobe hooks */
    uint64_t ip;      /* the hooked function's address (or, at a return, the return address) */
    uint64_t sp;      /* the stack pointer at the hook */
    uint64_t bp;      /* the frame pointer at the hook: bpf_get_stack walks the frames from it */
} bpftime_call;

/* Fires a resolved hook as a call: programs get r1 = an x86-64 struct pt_regs (168 bytes) holding
 * call's registers, the others zero, as uprobe/uretprobe programs expect (PT_REGS_PARM1..6,
 * PT_REGS_RC, PT_REGS_IP, PT_REGS_SP, PT_REGS_FP); r2 = its size. call NULL: every register zero.
 * When sp lies on the calling thread's stack, programs may also read that stack from sp up to its
 * top (bpf_probe_read_user, and bpf_get_stack(ctx, buf, size, BPF_F_USER_STACK), which walks the
 * frame pointers from bp); nothing else of the process is readable. Returns as
 * bpftime_agent_fire_id. */
int bpftime_agent_fire_call(bpftime_agent *agent, int64_t hook_id, const bpftime_call *call);

/* As bpftime_agent_fire_call, at a function entry the embedder can skip (what bpftime's
 * uprobe_override events, perf type 1008, do). When a program attached to a uprobe_override event
 * called bpf_override_return(ctx, rc) or bpf_set_retval(rc) and ran to its exit, *overridden is
 * set to 1 and *rc to that value (the last such call wins): the embedder must then not run the
 * hooked function and return rc to its caller. Otherwise *overridden is 0 and *rc untouched, and
 * the function runs as usual. Either pointer may be NULL. As in bpftime, the helpers have no
 * effect in programs attached to plain uprobe events (logged once per program). */
int bpftime_agent_fire_call_override(bpftime_agent *agent, int64_t hook_id, const bpftime_call *call,
                                     int *overridden, uint64_t *rc);

/* Fires a hook by name (resolved once, then cached): as bpftime_agent_fire_id, plus the
 * errors of bpftime_agent_resolve. */
int bpftime_agent_fire(bpftime_agent *agent, const char *hook, const void *ctx, size_t len);

/* 1 once the segment was removed (every fire is then a no-op), 0 while it exists, -EBADF. */
int bpftime_agent_detached(bpftime_agent *agent);

/* Unmaps the segment and frees the handle (NULL is ignored). */
void bpftime_agent_close(bpftime_agent *agent);

/* The message of this thread's last failed call ("" if none); valid until its next call. */
const char *bpftime_agent_last_error(void);

#ifdef __cplusplus
}
#endif

#endif /* BPFTIME_AGENT_H */
