// A cache prefetch: the one instruction the search loops need that Swift cannot say. Clang's
// `_m_prefetch` is imported as `readnone` (the optimizer deletes every call) and `_mm_prefetch` is a
// macro, so this header-only module (no library to link) gives one inline function the importer keeps.
// It compiles to one PREFETCHT0 on x86-64 (PRFM PLDL1KEEP on arm64) and never faults: a prefetch of
// any address, mapped or not, is only a hint.
#ifndef ENGRAM_CPREFETCH_SHIM_H
#define ENGRAM_CPREFETCH_SHIM_H

static inline __attribute__((always_inline)) void engram_prefetch(const void *address) {
    __builtin_prefetch(address, 0, 3);
}

#endif
