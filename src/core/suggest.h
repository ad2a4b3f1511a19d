/* suggest.h: "did you mean ...?" for unknown keys, names and commands. */
#ifndef WHET_CORE_SUGGEST_H
#define WHET_CORE_SUGGEST_H
#include <stddef.h>

/* Edit distance (Levenshtein) between two ASCII strings. */
size_t whet_edit_distance(const char *a, const char *b);
/* Closest candidate within a distance of max(2, len/3), or NULL. */
const char *whet_suggest(const char *word, const char *const *candidates, size_t n);
#endif
