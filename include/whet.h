/* whet.h: the public umbrella header: version and the layer headers a program
 * embedding whet would include. */
#ifndef WHET_H
#define WHET_H
#define WHET_VERSION "0.1.0"
#include "core/status.h"
#endif
