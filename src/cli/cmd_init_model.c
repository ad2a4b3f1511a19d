/* cmd_init_model.c: `whet init-model`: a random-weight Hugging Face folder
 * of the shape a config.json describes (benchmarks of 0.5B-14B shapes
 * without downloading weights). */
#include <stdio.h>
#include <string.h>
#include "cli/cli_flags.h"
#include "cli/command.h"
#include "model/init_random.h"

static void usage(void) {
    printf("usage: whet init-model --config config.json --out DIR [--seed N] [--dtype bfloat16|float32|float16]\n"
           "       [--init_std S] [--max_shard_size_mb M]\n"
           "  Write a Hugging Face model folder with random weights: config.json (torch_dtype set to --dtype)\n"
           "  and model.safetensors, or shards of at most M MiB (default 2048) with model.safetensors.index.json.\n"
           "  Weights ~ N(0, init_std) (default: the config's initializer_range or 0.02), biases 0, norms 1.\n"
           "  DIR must not exist yet; it appears only when complete.\n");
}

static int run_init_model(int argc, char **argv) {
    if (whet_cli_wants_help(argc, argv)) return usage(), 0;
    const char *config = NULL, *out = NULL, *dtype = "bfloat16";
    long long seed = 0, shard_mb = 2048;
    double init_std = 0;
    const whet_flag flags[] = {
        {"config", WHET_FLAG_STR, &config, NULL},     {"out", WHET_FLAG_STR, &out, NULL},
        {"seed", WHET_FLAG_INT, &seed, NULL},         {"dtype", WHET_FLAG_STR, &dtype, NULL},
        {"init_std", WHET_FLAG_FLOAT, &init_std, NULL}, {"max_shard_size_mb", WHET_FLAG_INT, &shard_mb, NULL},
    };
    if (whet_cli_parse_flags("init-model", argc, argv, flags, sizeof flags / sizeof flags[0])) return 2;
    if (!config || !out) return whet_cli_fail("init-model", "--config config.json and --out DIR are both required");
    whet_init_random_opts o = {.seed = (uint64_t)seed, .init_std = init_std, .max_shard_bytes = shard_mb << 20};
    if (!strcmp(dtype, "bfloat16") || !strcmp(dtype, "bf16")) o.dtype = WHET_DT_BF16;
    else if (!strcmp(dtype, "float32") || !strcmp(dtype, "fp32")) o.dtype = WHET_DT_F32;
    else if (!strcmp(dtype, "float16") || !strcmp(dtype, "fp16")) o.dtype = WHET_DT_F16;
    else return whet_cli_fail("init-model", "--dtype must be bfloat16, float32 or float16");
    if (shard_mb < 1) return whet_cli_fail("init-model", "--max_shard_size_mb must be >= 1");
    whet_error err = {0};
    if (whet_model_init_random(config, out, &o, &err) != WHET_OK) return whet_cli_fail("init-model", err.msg);
    printf("wrote %s\n", out);
    return 0;
}

const whet_command whet_cmd_init_model = {"init-model", "write a random-weight model folder from a config.json",
                                          run_init_model};
