/* gguf_import_rope.c: Llama 3.1 rope scaling parameters back from a GGUF's
 * rope_freqs.weight (see whet_llama3_rope_from_factors in gguf_import.h).
 *
 * convert_hf_to_gguf's LlamaModel.generate_extra_tensors (and whet's GGUF
 * writer) store, for each of the head_dim/2 rope frequencies with wavelength
 * wl_i = 2*pi*theta^(2i/d),
 *   1                                 when wl_i < high_wl = old / high_freq_factor,
 *   factor                            when wl_i > low_wl  = old / low_freq_factor,
 *   1 / ((1 - s) / factor + s)        otherwise, s = (old / wl_i - low) / (high - low),
 * where old is original_max_position_embeddings. s equals
 * (1/wl - 1/low_wl) / (1/high_wl - 1/low_wl), so the factors depend only on
 * factor, low_wl and high_wl: those are recovered (factor from the
 * low-frequency tail, low_wl/high_wl from the in-between values, or placed
 * inside their brackets when fewer than two in-between values pin them),
 * turned back into (old, low, high) with round numbers tried first, and a
 * candidate is accepted only if recomputing the factors with the formula
 * above gives the stored floats bit for bit. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "export/gguf_import.h"

/* The factors for `c` exactly as gguf_export.c's llama3_rope_factors computes them. */
static void factors_of(const whet_model_config *c, float *f) {
    const int half = c->head_dim / 2;
    const double old = c->rope_original_max_pos, lo = c->rope_low_freq_factor, hi = c->rope_high_freq_factor;
    const double factor = c->rope_factor, low_wl = old / lo, high_wl = old / hi;
    for (int i = 0; i < half; i++) {
        double freq = 1.0 / pow(c->rope_theta, (double)(2 * i) / c->head_dim), wl = 2 * M_PI / freq;
        if (wl < high_wl) f[i] = 1.0f;
        else if (wl > low_wl) f[i] = (float)factor;
        else {
            double smooth = (old / wl - lo) / (hi - lo);
            f[i] = (float)(1.0 / ((1 - smooth) / factor + smooth));
        }
    }
}

static bool reproduces(const whet_model_config *c, const float *want, float *scratch) {
    factors_of(c, scratch);
    return memcmp(scratch, want, (size_t)(c->head_dim / 2) * sizeof(float)) == 0;
}

static double round_to(double x, double step) { return round(x / step) * step; }

/* Try (old, lo, hi) for low_wl L and high_wl H: old = round(L), lo = old/L,
 * hi = old/H, each also rounded to 4 decimals (config files write 1.0, 4.0). */
static bool try_walls(whet_model_config *c, double L, double H, const float *want, float *scratch) {
    if (!(L > 0) || !(H > 0) || !(H < L)) return false;
    const double old = round(L) >= 1 ? round(L) : 1;
    const double lo_raw = old / L, hi_raw = old / H;
    const double los[2] = {round_to(lo_raw, 1e-4), lo_raw}, his[2] = {round_to(hi_raw, 1e-4), hi_raw};
    c->rope_original_max_pos = (int)old;
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 2; b++) {
            if (!(his[b] > los[a]) || !(los[a] > 0)) continue;
            c->rope_low_freq_factor = los[a];
            c->rope_high_freq_factor = his[b];
            if (reproduces(c, want, scratch)) return true;
        }
    return false;
}

whet_status whet_llama3_rope_from_factors(whet_model_config *c, const float *f, int n, const char *path,
                                          whet_error *err) {
    const int half = c->head_dim / 2;
    if (n != half || half < 1)
        return whet_errorf(err, WHET_ERR_SHAPE, "%s: rope_freqs.weight has %d values, head_dim %d needs %d", path, n,
                           c->head_dim, half);
    for (int i = 0; i < n; i++)
        if (!(f[i] >= 1.0f) || !isfinite(f[i]))
            return whet_errorf(err, WHET_ERR_FORMAT, "%s: rope_freqs.weight[%d] = %g is not a Llama 3 rope factor "
                               "(>= 1)", path, i, (double)f[i]);
    double *wl = malloc((size_t)half * sizeof *wl);
    float *scratch = malloc((size_t)half * sizeof *scratch);
    if (!wl || !scratch) return free(wl), free(scratch), whet_errorf(err, WHET_ERR_NOMEM, "%s: rope_freqs", path);
    for (int i = 0; i < half; i++) wl[i] = 2 * M_PI / (1.0 / pow(c->rope_theta, (double)(2 * i) / c->head_dim));
    /* [0, a): factor 1 (high frequencies); [b, half): the constant low-frequency tail = factor */
    int a = 0, b = half;
    while (a < half && f[a] == 1.0f) a++;
    while (b > a && f[b - 1] == f[half - 1]) b--;
    c->rope_type = WHET_ROPE_LLAMA3;
    c->rope_factor = f[half - 1] > 1.0f ? (double)f[half - 1] : 1.0;
    const double factor = c->rope_factor;
    /* brackets for the walls: high_wl in (wl[a-1], wl[a]], low_wl in [wl[b-1], wl[b]) */
    const double h_lo = a > 0 ? wl[a - 1] : wl[0] / 2, h_hi = a < half ? wl[a] : wl[half - 1] * 2;
    const double l_lo = b > 0 ? wl[b - 1] : wl[0] / 2, l_hi = b < half ? wl[b] : wl[half - 1] * 2;
    bool ok = false;
    if (factor > 1.0 && b - a >= 2) {
        /* s_i = (1/wl_i - x) / (y - x), x = 1/low_wl, y = 1/high_wl: s_i*y + (1 - s_i)*x = 1/wl_i; solve with the end points */
        const int p = a, q = b - 1;
        const double sp = (1.0 / f[p] - 1.0 / factor) / (1.0 - 1.0 / factor);
        const double sq = (1.0 / f[q] - 1.0 / factor) / (1.0 - 1.0 / factor);
        const double det = sp * (1 - sq) - sq * (1 - sp);
        if (det != 0) {
            const double y = (1.0 / wl[p] * (1 - sq) - 1.0 / wl[q] * (1 - sp)) / det;
            const double x = (sp / wl[q] - sq / wl[p]) / det;
            ok = try_walls(c, 1.0 / x, 1.0 / y, f, scratch);
        }
    } else if (factor > 1.0 && b - a == 1) {
        /* one in-between value: put low_wl mid-bracket (an integer, so old = low_wl), solve high_wl */
        const double s = (1.0 / f[a] - 1.0 / factor) / (1.0 - 1.0 / factor);
        const double L = round(sqrt(l_lo * l_hi));
        if (s > 0) ok = try_walls(c, L, 1.0 / (1.0 / L + (1.0 / wl[a] - 1.0 / L) / s), f, scratch);
    } else {
        /* no in-between value (or no scaling at all): any walls inside the brackets */
        ok = try_walls(c, round(sqrt(l_lo * l_hi)), sqrt(h_lo * h_hi), f, scratch);
    }
    free(wl);
    free(scratch);
    if (!ok)
        return whet_errorf(err, WHET_ERR_UNSUPPORTED,
                           "%s: rope_freqs.weight does not match Llama 3.1 rope scaling for any factor / "
                           "low_freq_factor / high_freq_factor / original_max_position_embeddings (whet's GGUF writer "
                           "recomputes the factors from them); convert from the Hugging Face folder instead", path);
    return WHET_OK;
}
