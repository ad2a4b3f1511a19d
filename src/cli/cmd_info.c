/* cmd_info.c: `whet info`: version, build options and what this machine offers. */
#include <stdio.h>
#include "cli/command.h"
#include "core/threadpool.h"
#include "ops/quant_dot.h"
#include "whet.h"

static int run_info(int argc, char **argv) {
    if (whet_cli_wants_help(argc, argv)) {
        printf("usage: whet info\n  Print the version, build options and the threads whet will use.\n");
        return 0;
    }
    printf("whet %s\n", WHET_VERSION);
#ifdef WHET_HAVE_CUDA
    printf("cuda toolkit: found at build time; this version has no CUDA kernels yet, every command runs on the cpu\n");
#else
    printf("cuda toolkit: not found at build time; every command runs on the cpu\n");
#endif
    printf("cpu threads: %d (set WHET_NUM_THREADS to change)\n", whet_default_threads());
    printf("cpu kernels: %s (quantized and f16/bf16 dot products; WHET_CPU_ISA=scalar forces the portable ones)\n",
           whet_isa_name(whet_cpu_isa()));
    return 0;
}

const whet_command whet_cmd_info = {"info", "print version, build options and threads", run_info};
