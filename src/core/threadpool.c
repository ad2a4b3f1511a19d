/* threadpool.c: pthread pool behind whet_parallel_for. A job is one
 * (fn, ctx, n) triple split into equal contiguous ranges so each worker
 * touches its own memory. Decode runs a few hundred small jobs per token,
 * so waking a sleeping thread (~10 µs through a condition variable) would
 * cost more than many of the jobs: between jobs, workers spin on the job
 * counter for a short while (WHET_POOL_SPIN_NS) and
 * only then sleep on the condition variable; the caller waits for the
 * workers the same way. The job fields are written before the release
 * store of `generation` and read after an acquire load of it; the caller
 * changes `generation` under the mutex, so a worker that decides to sleep
 * cannot miss it. */
#include "core/threadpool.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* How long a worker (or the caller) spins before sleeping: long enough to
 * span the gap between two jobs of a decode step, short enough not to burn
 * a core that another process needs. */
#define WHET_POOL_SPIN_NS 50000

struct whet_threadpool {
    int n_threads;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    unsigned long generation;  /* atomic: bumped once per job */
    int pending;               /* atomic: workers still running the job */
    int sleepers;              /* under mu: workers waiting on `wake` */
    int caller_sleeping;       /* under mu: the caller waits on `done` */
    int quit;                  /* atomic */
    whet_range_fn fn;
    void *ctx;
    size_t n;
};

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static inline long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Spin until *word != value (returns the new value) or the budget runs out
 * (returns `value`); the clock is read every 64 pauses. */
static unsigned long spin_while_equal(const unsigned long *word, unsigned long value, const int *quit) {
    const long long deadline = now_ns() + WHET_POOL_SPIN_NS;
    for (unsigned i = 1;; i++) {
        const unsigned long v = __atomic_load_n(word, __ATOMIC_ACQUIRE);
        if (v != value || __atomic_load_n(quit, __ATOMIC_ACQUIRE)) return v;
        cpu_relax();
        if (i % 64 == 0 && now_ns() > deadline) return value;
    }
}

static void spin_while_positive(const int *word) {
    const long long deadline = now_ns() + WHET_POOL_SPIN_NS;
    for (unsigned i = 1; __atomic_load_n(word, __ATOMIC_ACQUIRE) > 0; i++) {
        cpu_relax();
        if (i % 64 == 0 && now_ns() > deadline) return;
    }
}

typedef struct {
    whet_threadpool *pool;
    int index;
} worker_arg;

static void run_share(whet_threadpool *p, int index) {
    size_t chunk = (p->n + (size_t)p->n_threads - 1) / (size_t)p->n_threads;
    size_t begin = (size_t)index * chunk;
    size_t end = begin + chunk < p->n ? begin + chunk : p->n;
    if (begin < end) p->fn(p->ctx, begin, end, index);
}

static void *worker_main(void *arg) {
    worker_arg *wa = arg;
    whet_threadpool *p = wa->pool;
    int index = wa->index;
    free(wa);
    unsigned long seen = 0;
    for (;;) {
        unsigned long gen = spin_while_equal(&p->generation, seen, &p->quit);
        if (gen == seen) {
            pthread_mutex_lock(&p->mu);
            p->sleepers++;
            while (!__atomic_load_n(&p->quit, __ATOMIC_ACQUIRE) &&
                   (gen = __atomic_load_n(&p->generation, __ATOMIC_ACQUIRE)) == seen)
                pthread_cond_wait(&p->wake, &p->mu);
            p->sleepers--;
            pthread_mutex_unlock(&p->mu);
        }
        if (__atomic_load_n(&p->quit, __ATOMIC_ACQUIRE)) break;
        seen = gen;
        run_share(p, index);
        if (__atomic_sub_fetch(&p->pending, 1, __ATOMIC_ACQ_REL) == 0) {
            pthread_mutex_lock(&p->mu);
            if (p->caller_sleeping) pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
    return NULL;
}

int whet_default_threads(void) {
    const char *env = getenv("WHET_NUM_THREADS");
    if (env && atoi(env) > 0) return atoi(env);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

whet_status whet_threadpool_create(int n_threads, whet_threadpool **out, whet_error *err) {
    if (n_threads <= 0) n_threads = whet_default_threads();
    whet_threadpool *p = calloc(1, sizeof *p);
    if (!p) return whet_errorf(err, WHET_ERR_NOMEM, "thread pool: out of memory");
    p->n_threads = n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    p->threads = calloc((size_t)n_threads, sizeof *p->threads);
    if (!p->threads) {
        free(p);
        return whet_errorf(err, WHET_ERR_NOMEM, "thread pool: out of memory");
    }
    for (int i = 1; i < n_threads; i++) {
        worker_arg *wa = malloc(sizeof *wa);
        if (!wa || pthread_create(&p->threads[i], NULL, worker_main, (wa->pool = p, wa->index = i, wa))) {
            free(wa);
            p->n_threads = i; /* destroy only what started */
            whet_threadpool_destroy(p);
            return whet_errorf(err, WHET_ERR_NOMEM, "thread pool: could not start thread %d of %d", i, n_threads);
        }
    }
    *out = p;
    return WHET_OK;
}

void whet_threadpool_destroy(whet_threadpool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    __atomic_store_n(&p->quit, 1, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n_threads; i++) pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    free(p->threads);
    free(p);
}

int whet_threadpool_size(const whet_threadpool *p) { return p ? p->n_threads : 1; }

void whet_parallel_for(whet_threadpool *p, size_t n, whet_range_fn fn, void *ctx) {
    if (n == 0) return;
    if (!p || p->n_threads == 1 || n == 1) {
        fn(ctx, 0, n, 0);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    __atomic_store_n(&p->pending, p->n_threads - 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&p->generation, 1, __ATOMIC_RELEASE);
    if (p->sleepers) pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    run_share(p, 0);
    spin_while_positive(&p->pending);
    if (__atomic_load_n(&p->pending, __ATOMIC_ACQUIRE) > 0) {
        pthread_mutex_lock(&p->mu);
        p->caller_sleeping = 1;
        while (__atomic_load_n(&p->pending, __ATOMIC_ACQUIRE) > 0) pthread_cond_wait(&p->done, &p->mu);
        p->caller_sleeping = 0;
        pthread_mutex_unlock(&p->mu);
    }
}
