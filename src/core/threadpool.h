/* threadpool.h: a fixed pool of pthreads running parallel-for loops. The
 * caller's thread takes part, so a pool of 1 runs inline with no locking. */
#ifndef WHET_CORE_THREADPOOL_H
#define WHET_CORE_THREADPOOL_H

#include <stddef.h>
#include "core/status.h"

typedef struct whet_threadpool whet_threadpool;

/* Body of a parallel-for: handle items [begin, end). `worker` is 0..n_threads-1. */
typedef void (*whet_range_fn)(void *ctx, size_t begin, size_t end, int worker);

/* n_threads <= 0 means "number of online CPUs" (or WHET_NUM_THREADS). */
whet_status whet_threadpool_create(int n_threads, whet_threadpool **out, whet_error *err);
void whet_threadpool_destroy(whet_threadpool *pool);
int whet_threadpool_size(const whet_threadpool *pool);
/* Split [0, n) into contiguous chunks, one per thread, and wait for all.
 * `pool` may be NULL: runs inline on the caller. Not reentrant. */
void whet_parallel_for(whet_threadpool *pool, size_t n, whet_range_fn fn, void *ctx);
/* Threads the machine offers (WHET_NUM_THREADS overrides). */
int whet_default_threads(void);

#endif
