/* loss_plot.c: training_loss.png with cairo (see loss_plot.h). */
#include "train/loss_plot.h"

#include <cairo.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* LeakSanitizer hook (used only in -fsanitize builds): fontconfig, which cairo's text uses, keeps its
 * parsed configuration until exit by design; that is not a whet leak. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:libfontconfig.so\n"; }

enum { W = 640, H = 480, ML = 70, MR = 20, MT = 40, MB = 50 };

/* LLaMA-Factory's smooth(): EMA with a weight that grows with the length. */
static void smooth(const double *y, double *out, int n) {
    if (n == 0) return;
    const double weight = 1.8 * (1.0 / (1.0 + exp(-0.05 * n)) - 0.5);
    double last = y[0];
    for (int i = 0; i < n; i++) {
        last = last * weight + (1.0 - weight) * y[i];
        out[i] = last;
    }
}

static void polyline(cairo_t *cr, const double *x, const double *y, int n, double x0, double x1, double y0,
                     double y1) {
    for (int i = 0; i < n; i++) {
        const double px = ML + (x[i] - x0) / (x1 - x0) * (W - ML - MR);
        const double py = H - MB - (y[i] - y0) / (y1 - y0) * (H - MT - MB);
        if (i == 0) cairo_move_to(cr, px, py);
        else cairo_line_to(cr, px, py);
    }
    cairo_stroke(cr);
}

static void axes(cairo_t *cr, double x0, double x1, double y0, double y1) {
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_set_line_width(cr, 1);
    cairo_rectangle(cr, ML, MT, W - ML - MR, H - MT - MB);
    cairo_stroke(cr);
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, 11);
    char buf[32];
    for (int k = 0; k <= 5; k++) {
        const double fx = k / 5.0, px = ML + fx * (W - ML - MR), py = H - MB - fx * (H - MT - MB);
        snprintf(buf, sizeof buf, "%.0f", x0 + fx * (x1 - x0));
        cairo_move_to(cr, px - 8, H - MB + 16);
        cairo_show_text(cr, buf);
        snprintf(buf, sizeof buf, "%.3g", y0 + fx * (y1 - y0));
        cairo_move_to(cr, 8, py + 4);
        cairo_show_text(cr, buf);
    }
    cairo_set_font_size(cr, 13);
    cairo_move_to(cr, W / 2 - 20, H - 12);
    cairo_show_text(cr, "step");
    cairo_move_to(cr, W / 2 - 90, 24);
    cairo_show_text(cr, "training loss");
}

static whet_status draw(const double *x, const double *y, const double *ys, int n, const char *path,
                        whet_error *err) {
    double x0 = x[0], x1 = x[n - 1], y0 = y[0], y1 = y[0];
    for (int i = 0; i < n; i++) {
        y0 = fmin(y0, y[i]);
        y1 = fmax(y1, y[i]);
    }
    if (x1 <= x0) x1 = x0 + 1;
    if (y1 <= y0) y1 = y0 + 1e-3;
    const double pad = 0.05 * (y1 - y0);
    y0 -= pad;
    y1 += pad;
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, W, H);
    cairo_t *cr = cairo_create(s);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    axes(cr, x0, x1, y0, y1);
    cairo_set_line_width(cr, 1.5);
    cairo_set_source_rgba(cr, 0.12, 0.47, 0.71, 0.4);  /* original */
    polyline(cr, x, y, n, x0, x1, y0, y1);
    cairo_set_source_rgb(cr, 0.12, 0.47, 0.71);        /* smoothed */
    polyline(cr, x, ys, n, x0, x1, y0, y1);
    cairo_destroy(cr);
    const cairo_status_t st = cairo_surface_write_to_png(s, path);
    cairo_surface_destroy(s);
    /* drop cairo's font caches (fontconfig state otherwise outlives the run as a leak report); only this
     * file uses cairo */
    cairo_debug_reset_static_data();
    if (st != CAIRO_STATUS_SUCCESS)
        return whet_errorf(err, WHET_ERR_IO, "%s: cannot write the loss plot (%s)", path, cairo_status_to_string(st));
    return WHET_OK;
}

whet_status whet_plot_loss(const cJSON *log_history, const char *png_path, whet_error *err) {
    const int cap = cJSON_GetArraySize(log_history);
    double *x = malloc(sizeof(double) * (size_t)(cap + 1)), *y = malloc(sizeof(double) * (size_t)(cap + 1));
    double *ys = malloc(sizeof(double) * (size_t)(cap + 1));
    int n = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, log_history) {
        const cJSON *loss = cJSON_GetObjectItemCaseSensitive(e, "loss");
        const cJSON *step = cJSON_GetObjectItemCaseSensitive(e, "step");
        if (x && y && cJSON_IsNumber(loss) && cJSON_IsNumber(step)) {
            x[n] = step->valuedouble;
            y[n++] = loss->valuedouble;
        }
    }
    whet_status s = WHET_OK;
    if (!x || !y || !ys) s = whet_errorf(err, WHET_ERR_NOMEM, "loss plot: out of memory");
    else if (n == 0) fprintf(stderr, "plot_loss: no logged loss to plot (logging_steps larger than the run?)\n");
    else {
        smooth(y, ys, n);
        s = draw(x, y, ys, n, png_path, err);
    }
    free(x);
    free(y);
    free(ys);
    return s;
}
