#ifndef CHINTS_H
#define CHINTS_H

#include <stdint.h>

// Hints to the CPU and the compiler that Swift does not expose. Static inline, so that Swift
// compiles them into the caller: no call remains.

/// Asks the CPU to start loading the cache line at `address` (for a later read) and goes on at
/// once: batched map operations issue these some keys ahead, so that the cache misses of many
/// keys overlap instead of each waiting on the last. One instruction. A prefetch never faults, but
/// callers still pass only addresses inside the map's storage.
static inline void bpf_prefetch(const void *address) { __builtin_prefetch(address, 0, 3); }

/// `value`, unchanged, but opaque to the optimizer: no instruction, yet the compiler can no longer
/// tell which values it may have. The interpreter masks an update with it so that the update stays
/// branch-free: knowing the mask came from a compare, the optimizer turns the masked update back
/// into a branch on the program's data, which the CPU mispredicts half the time on random data.
static inline uint64_t bpf_opaque(uint64_t value) {
    __asm__("" : "+r"(value));
    return value;
}

#endif
