/* test_llamacpp_gguf.c: whet's GGUF files in real llama.cpp. Writes the
 * GGUF LoRA adapters of the three tiny models' PEFT reference adapters
 * (tests/fixtures/export/<m>/adapter) with `whet convert --lora_only` (f32,
 * f16, q8_0), then runs llamacpp_check.mjs, which exports each model (the three
 * tiny ones and stories260K-hf) with `whet convert` as f32, f16, q8_0 and
 * q4_k_m and, in llama.cpp (node-llama-cpp's prebuilt libllama from the root
 * package.json), loads every file, compares its tokenization with
 * `whet tokenize` (on the .gguf and on the HF folder) and its greedy decoding
 * with `whet generate` (identical for f32/f16, a measured common prefix for
 * the quantized types, tests/tolerances.h), and decodes base + LoRA adapter
 * against `whet generate --adapter_name_or_path`. Skips (77) only when node
 * or node-llama-cpp is not installed (`npm ci` at the repo root). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli/cli_run.h"
#include "test.h"
#include "tolerances.h"

static const char *const TINY[] = {"llama-tiny", "llama3-tiny", "qwen2-tiny"};

int main(void) {
    if (system("node --version >/dev/null 2>&1") != 0) TEST_SKIP("node is not installed");
    if (system("test -f " WHET_SOURCE_DIR "/node_modules/node-llama-cpp/package.json") != 0)
        TEST_SKIP("node-llama-cpp is not installed (run npm ci in the repo root)");
    char dir[] = "/tmp/whet_llamacpp_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    static const char *const LT[] = {"f32", "f16", "q8_0"};
    whet_strbuf cmd, log;
    whet_sb_init(&cmd);
    whet_sb_init(&log);
    for (size_t m = 0; m < sizeof TINY / sizeof TINY[0]; m++)
        for (size_t t = 0; t < sizeof LT / sizeof LT[0]; t++) {
            whet_sb_clear(&cmd);
            whet_sb_printf(&cmd, "%s convert --model_name_or_path %s/models/%s --adapter_name_or_path %s/export/%s/adapter "
                                 "--lora_only --outtype %s --outfile %s/%s-lora-%s.gguf 2>&1",
                           WHET_BINARY, WHET_FIXTURES, TINY[m], WHET_FIXTURES, TINY[m], LT[t], dir, TINY[m], LT[t]);
            int rc = cli_run(cmd.data, &log);
            CHECK_MSG(rc == 0, "%s -> %d: %s", cmd.data, rc, log.data ? log.data : "");
            whet_sb_clear(&log);
        }
    whet_sb_clear(&cmd);
    whet_sb_printf(&cmd, "node %s/tests/export/llamacpp_check.mjs %s %s %d %d", WHET_SOURCE_DIR, WHET_BINARY, dir,
                   LLAMACPP_Q8_0_MIN_PREFIX, LLAMACPP_Q4_K_M_MIN_PREFIX);
    for (size_t m = 0; m < sizeof TINY / sizeof TINY[0]; m++)
        whet_sb_printf(&cmd, " %s=%s/models/%s", TINY[m], WHET_FIXTURES, TINY[m]);
    whet_sb_printf(&cmd, " stories260K=%s/models/stories260K-hf 2>&1", WHET_SOURCE_DIR);
    int rc = cli_run(cmd.data, &log);
    fputs(log.data ? log.data : "", stdout);
    if (rc == 77) {
        char rm[1100];
        snprintf(rm, sizeof rm, "rm -rf '%s'", dir);
        if (system(rm) != 0) fprintf(stderr, "could not remove %s\n", dir);
        whet_sb_free(&cmd), whet_sb_free(&log);
        TEST_SKIP("node-llama-cpp cannot be loaded");
    }
    CHECK_MSG(rc == 0, "llamacpp_check.mjs failed (exit %d)", rc);
    /* Every check prints one "ok" line: 16 x 2 loads, 8 x 8 tokenizations, 16 greedy runs, 3 x 3 x 2 LoRA. */
    int oks = 0;
    for (const char *p = log.data; p && (p = strstr(p, "ok ")); p += 3) oks += p == log.data || p[-1] == '\n';
    CHECK_MSG(oks == 32 + 8 * 8 + 16 + 3 * 3 * 2, "%d llama.cpp checks passed, expected %d", oks, 32 + 64 + 16 + 18);
    char rm[1100];
    snprintf(rm, sizeof rm, "rm -rf '%s'", dir);
    CHECK(system(rm) == 0);
    whet_sb_free(&cmd), whet_sb_free(&log);
    return TEST_SUMMARY();
}
