// The C library's heap controls the benchmark needs (glibc's malloc_trim), where the platform has them.
#if defined(__linux__) && __has_include(<malloc.h>)
#include <malloc.h>
#define POOLSCOPE_HAS_MALLOC_TRIM 1
#endif
