// What a layout allows on this machine, before building it: 1,000,000 random 4-byte-key
// lookups in POSIX shared memory, in plain C (the shortest path a lookup can have), over
//  - chained: the segment's hash layout (u32 buckets -> 24-byte pool entries, chained), with
//    the kernel's bucket count (the next power of two >= entries: 0.95 entries per bucket, as
//    in segments before layout version 3) and with twice that (0.48: version 3), and
//  - bucketized: 64-byte buckets holding an occupancy mask, an overflow chain head and two
//    24-byte entries in place (the rest chained in a pool), at 0.95 and 0.48 entries per slot.
// Independent lookups let misses overlap, the more the shorter each lookup's path is (shown
// with 30 to 400 instructions added: a map helper call from a program runs about 400, the JIT's
// inline lookup about 60); dependent ones (each key waits for the previous result) cannot, as
// lock-holding updates cannot.
// Run through Scripts/bench-hash-layouts.sh.
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

enum { N = 1000000, ROUNDS = 3 };
typedef struct { uint32_t next, flags, key, pad; uint64_t value; } Entry;              // 24 bytes
typedef struct { uint32_t mask, overflow; Entry slot[2]; uint64_t pad; } Bucket;        // 64 bytes
typedef struct { Bucket *buckets; Entry *pool; uint32_t mask, pooled; } Bucketized;

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
static inline uint32_t mix(uint64_t x) { uint64_t h = x * 0x9E3779B97F4A7C15ull; return (uint32_t)(h ^ (h >> 32)); }
static char *alignLine(char *p) { return (char *)(((uintptr_t)p + 63) & ~(uintptr_t)63); }

typedef struct { uint32_t *buckets; Entry *pool; uint32_t mask; } Chained;

static inline uint64_t chained(const Chained *t, uint32_t k) {
    for (uint32_t x = t->buckets[mix(k) & t->mask]; x; x = t->pool[x].next)
        if (t->pool[x].key == k) return t->pool[x].value;
    return 0;
}

// Entries in key order in the pool, as an import of keys 0..N-1 lays them out.
static Chained chainedTable(char *at, uint32_t bucketCount) {
    Chained t = { (uint32_t *)at, (Entry *)alignLine(at + bucketCount * 4ul), bucketCount - 1 };
    for (uint32_t k = 0; k < N; k++) {
        uint32_t h = mix(k) & t.mask;
        t.pool[k + 1] = (Entry){ .next = t.buckets[h], .key = k, .value = k * 3ull };
        t.buckets[h] = k + 1;
    }
    return t;
}

static inline uint64_t bucketized(const Bucketized *t, uint32_t k) {
    const Bucket *b = &t->buckets[mix(k) & t->mask];
    for (int s = 0; s < 2; s++) if ((b->mask >> s & 1) && b->slot[s].key == k) return b->slot[s].value;
    for (uint32_t x = b->overflow; x; x = t->pool[x].next) if (t->pool[x].key == k) return t->pool[x].value;
    return 0;
}

static void bucketizedInsert(Bucketized *t, uint32_t k) {
    Bucket *b = &t->buckets[mix(k) & t->mask];
    for (int s = 0; s < 2; s++)
        if (!(b->mask >> s & 1)) { b->mask |= 1u << s; b->slot[s].key = k; b->slot[s].value = k * 3ull; return; }
    Entry *e = &t->pool[++t->pooled];
    e->key = k; e->value = k * 3ull; e->next = b->overflow; b->overflow = t->pooled;
}

// A longer path per lookup, as a library call's checks and calls make it: NOPs occupy the
// reorder window like other instructions, so fewer lookups overlap their misses.
#define NOP10 "nop; nop; nop; nop; nop; nop; nop; nop; nop; nop;"
#define NOP100 NOP10 NOP10 NOP10 NOP10 NOP10 NOP10 NOP10 NOP10 NOP10 NOP10
static inline uint64_t chainedPadded30(const Chained *t, uint32_t k) { __asm__ volatile(NOP10 NOP10 NOP10); return chained(t, k); }
static inline uint64_t chainedPadded100(const Chained *t, uint32_t k) { __asm__ volatile(NOP100); return chained(t, k); }
static inline uint64_t chainedPadded200(const Chained *t, uint32_t k) { __asm__ volatile(NOP100 NOP100); return chained(t, k); }
static inline uint64_t chainedPadded400(const Chained *t, uint32_t k) { __asm__ volatile(NOP100 NOP100 NOP100 NOP100); return chained(t, k); }

// Hides from the compiler that the result is multiplied away, so the next key waits for it.
static inline uint32_t after(uint64_t result) { uint32_t z = (uint32_t)result; __asm__ volatile("and $0, %0" : "+r"(z)); return z; }

#define TIME(label, expression, dependent) do { \
    double best = 1e9; \
    for (int r = 0; r < ROUNDS; r++) { \
        uint64_t acc = 0; double start = now(); \
        for (int i = 0; i < N; i++) { uint32_t k = keys[i] ^ (dependent ? after(acc) : 0); acc += (expression); } \
        double t = (now() - start) * 1e9 / N; if (t < best) best = t; sink += acc; \
    } \
    printf("%-52s %6.1f ns/lookup\n", label, best); } while (0)

int main(void) {
    char name[64]; snprintf(name, sizeof name, "/bpftimetool_layouts_%d", getpid());
    int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
    if (fd < 0) { perror("shm_open"); return 1; }
    shm_unlink(name);
    size_t size = 320ul << 20;
    if (ftruncate(fd, size) != 0) { perror("ftruncate"); return 1; }
    char *m = mmap(0, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) { perror("mmap"); return 1; }

    uint32_t *keys = malloc(N * sizeof *keys);
    for (uint32_t i = 0; i < N; i++) keys[i] = i;
    srand(1);
    for (int i = N - 1; i > 0; i--) { int j = rand() % (i + 1); uint32_t x = keys[i]; keys[i] = keys[j]; keys[j] = x; }

    uint32_t count = 1; while (count < N) count <<= 1;   // the kernel's: next power of two >= max
    Chained kernel = chainedTable(m, count), doubled = chainedTable(m + (256ul << 20), 2 * count);
    Bucketized half = { (Bucket *)alignLine(m + (64ul << 20)), 0, count / 2 - 1, 0 };
    half.pool = (Entry *)(half.buckets + count / 2);
    Bucketized full = { (Bucket *)alignLine(m + (160ul << 20)), 0, count - 1, 0 };
    full.pool = (Entry *)(full.buckets + count);
    for (uint32_t k = 0; k < N; k++) { bucketizedInsert(&half, k); bucketizedInsert(&full, k); }

    uint64_t sink = 0;
    printf("1,000,000 entries, random keys; entries past the two slots of their bucket: %u (32 MiB of buckets), %u (64 MiB)\n",
           half.pooled, full.pooled);
    TIME("chained, independent lookups", chained(&kernel, k), 0);
    TIME("chained, independent, 30 more instructions each", chainedPadded30(&kernel, k), 0);
    TIME("chained, independent, 100 more instructions each", chainedPadded100(&kernel, k), 0);
    TIME("chained, dependent lookups", chained(&kernel, k), 1);
    TIME("chained, 2x buckets, independent lookups", chained(&doubled, k), 0);
    TIME("chained, 2x buckets, 100 more instructions each", chainedPadded100(&doubled, k), 0);
    TIME("chained, 2x buckets, 200 more instructions each", chainedPadded200(&doubled, k), 0);
    TIME("chained, 2x buckets, 400 more instructions each", chainedPadded400(&doubled, k), 0);
    TIME("chained, 2x buckets, dependent lookups", chained(&doubled, k), 1);
    TIME("bucketized, 32 MiB of buckets, independent lookups", bucketized(&half, k), 0);
    TIME("bucketized, 64 MiB of buckets, independent lookups", bucketized(&full, k), 0);
    TIME("bucketized, 64 MiB of buckets, dependent lookups", bucketized(&full, k), 1);
    return sink == 42;
}
