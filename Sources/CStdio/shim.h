// Standard output's state for Swift, which cannot name C's mutable global `stdout` under strict concurrency.
#include <stdio.h>

/// Flushes standard output; returns non-zero if a write to it failed, now or earlier (a full disk,
/// `> /dev/full`, a closed file).
static inline int poolscope_flush_stdout_failed(void) {
    int flushFailed = fflush(stdout) != 0;
    return flushFailed || ferror(stdout) != 0;
}
