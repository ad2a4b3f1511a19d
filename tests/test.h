/* test.h: the tests' tiny harness. CHECK* record a failure and go on; each
 * test binary ends with TEST_SUMMARY(), which prints "name: N checks, M failed"
 * and returns nonzero when anything failed (77 = skipped, for CTest). */
#ifndef WHET_TEST_H
#define WHET_TEST_H
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static int test_checks_, test_failures_;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        test_checks_++;                                                              \
        if (!(cond)) { test_failures_++; fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); } \
    } while (0)

#define CHECK_MSG(cond, ...)                                                         \
    do {                                                                             \
        test_checks_++;                                                              \
        if (!(cond)) {                                                               \
            test_failures_++;                                                        \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                            \
            fputc('\n', stderr);                                                     \
        }                                                                            \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                           \
    do {                                                                             \
        long long a_ = (long long)(a), b_ = (long long)(b);                          \
        CHECK_MSG(a_ == b_, "%s = %lld, %s = %lld", #a, a_, #b, b_);                 \
    } while (0)

#define CHECK_STR_EQ(a, b)                                                           \
    do {                                                                             \
        const char *a_ = (a), *b_ = (b);                                             \
        CHECK_MSG(a_ && b_ && strcmp(a_, b_) == 0, "\"%s\" != \"%s\"", a_ ? a_ : "(null)", b_ ? b_ : "(null)"); \
    } while (0)

/* |a - b| <= atol + rtol * |b| */
#define CHECK_NEAR(a, b, atol, rtol)                                                 \
    do {                                                                             \
        double a_ = (a), b_ = (b);                                                   \
        CHECK_MSG(fabs(a_ - b_) <= (atol) + (rtol) * fabs(b_), "%s = %.9g, %s = %.9g", #a, a_, #b, b_); \
    } while (0)

/* The status call must succeed; prints the error message otherwise. */
#define CHECK_OK(expr, errp)                                                         \
    do {                                                                             \
        int s_ = (int)(expr);                                                        \
        CHECK_MSG(s_ == 0, "%s -> %d: %s", #expr, s_, (errp)->msg);                  \
    } while (0)

#define TEST_SKIP(why)                                                               \
    do { printf("SKIP: %s\n", why); return 77; } while (0)

#define TEST_SUMMARY()                                                               \
    (printf("%s: %d checks, %d failed\n", __FILE__, test_checks_, test_failures_), test_failures_ ? 1 : 0)

/* max |a-b| over n floats */
static inline double test_max_abs_diff(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > m || d != d) m = d != d ? INFINITY : d;
    }
    return m;
}

/* Is s[0..n) well-formed UTF-8 (no truncated or stray continuation bytes)? */
static inline bool test_utf8_valid(const char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t k = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (!k || i + k > n) return false;
        for (size_t j = 1; j < k; j++)
            if (((unsigned char)s[i + j] & 0xC0) != 0x80) return false;
        i += k;
    }
    return true;
}
#endif
