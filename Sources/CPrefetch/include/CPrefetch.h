#ifndef CPREFETCH_H
#define CPREFETCH_H

/// Asks the CPU to start loading the cache line at `address` (for a later read) and goes on at
/// once: batched map operations issue these some keys ahead, so that the cache misses of many
/// keys overlap instead of each waiting on the last. Swift has no prefetch of its own. Static
/// inline, so that Swift compiles it into the caller: one instruction, no call. A prefetch never
/// faults, but callers still pass only addresses inside the map's storage.
static inline void bpf_prefetch(const void *address) { __builtin_prefetch(address, 0, 3); }

#endif
