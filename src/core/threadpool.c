/* threadpool.c: pthread pool behind whet_parallel_for. Workers sleep on a
 * condition variable between jobs; a job is one (fn, ctx, n) triple split
 * into equal contiguous ranges so each worker touches its own memory. */
#include "core/threadpool.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

struct whet_threadpool {
    int n_threads;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    unsigned long generation;
    int pending;
    int quit;
    whet_range_fn fn;
    void *ctx;
    size_t n;
};

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
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->quit && p->generation == seen) pthread_cond_wait(&p->wake, &p->mu);
        if (p->quit) break;
        seen = p->generation;
        pthread_mutex_unlock(&p->mu);
        run_share(p, index);
        pthread_mutex_lock(&p->mu);
        if (--p->pending == 0) pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
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
    p->quit = 1;
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
    p->pending = p->n_threads - 1;
    p->generation++;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    run_share(p, 0);
    pthread_mutex_lock(&p->mu);
    while (p->pending > 0) pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
