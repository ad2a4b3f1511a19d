/* rng.c: xoshiro256** (Blackman & Vigna) with splitmix64 seeding. */
#include "core/rng.h"
#include <math.h>

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void whet_rng_seed(whet_rng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t whet_rng_u64(whet_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t; s[3] = rotl(s[3], 45);
    return result;
}

double whet_rng_uniform(whet_rng *r) { return (double)(whet_rng_u64(r) >> 11) * 0x1.0p-53; }

uint64_t whet_rng_below(whet_rng *r, uint64_t n) {
    if (n == 0) return 0;
    uint64_t limit = UINT64_MAX - UINT64_MAX % n, x;
    do x = whet_rng_u64(r); while (x >= limit);
    return x % n;
}

double whet_rng_normal(whet_rng *r) {
    double u1 = whet_rng_uniform(r), u2 = whet_rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

void whet_rng_shuffle(whet_rng *r, uint32_t *idx, uint32_t n) {
    for (uint32_t i = n; i > 1; i--) {
        uint32_t j = (uint32_t)whet_rng_below(r, i);
        uint32_t t = idx[i - 1]; idx[i - 1] = idx[j]; idx[j] = t;
    }
}
