/* rng.h: deterministic random numbers (xoshiro256**, seeded by splitmix64),
 * so a seed reproduces a run: LoRA init, dropout, shuffling, sampling. */
#ifndef WHET_CORE_RNG_H
#define WHET_CORE_RNG_H
#include <stdint.h>

typedef struct { uint64_t s[4]; } whet_rng;

void whet_rng_seed(whet_rng *r, uint64_t seed);
uint64_t whet_rng_u64(whet_rng *r);
/* Uniform in [0, 1). */
double whet_rng_uniform(whet_rng *r);
/* Uniform integer in [0, n). */
uint64_t whet_rng_below(whet_rng *r, uint64_t n);
/* Standard normal (Box-Muller). */
double whet_rng_normal(whet_rng *r);
/* Fisher-Yates shuffle of an index array. */
void whet_rng_shuffle(whet_rng *r, uint32_t *idx, uint32_t n);
#endif
