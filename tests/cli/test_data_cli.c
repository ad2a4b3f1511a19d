/* test_data_cli.c: `whet data` through the binary. preview of the identity
 * fixture with the default template on stories260K marks the prompt span
 * (masked) and the response span (trained) at the template's boundary
 * ("Assistant:" ends the prompt, the answer and EOS are trained) and prints
 * the length statistics; convert JSON -> JSONL -> JSON keeps every record;
 * a typo in a key or subcommand is refused with a message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/strbuf.h"
#include "cli_run.h"
#include "test.h"

#define PREVIEW WHET_BINARY " data preview --model_name_or_path " WHET_SOURCE_DIR "/models/stories260K-hf" \
    " --dataset identity --dataset_dir " WHET_FIXTURES "/data/lf --template default --cutoff_len 128" \
    " --stage sft --finetuning_type lora --output_dir /tmp/unused --num_examples 1"

int main(void) {
    setenv("WHET_CACHE_DIR", "none", 1);
    whet_strbuf out;
    whet_sb_init(&out);
    CHECK_EQ_INT(cli_run(PREVIEW " 2>/dev/null", &out), 0);
    const char *s = out.data ? out.data : "";
    CHECK_MSG(strstr(s, "[P:") && strstr(s, "Human: hi") && strstr(s, "Assistant:][R:Hello!"),
              "prompt/response spans not where the default template puts them:\n%s", s);
    CHECK_MSG(strstr(s, "examples,") && strstr(s, "cutoff_len 128"), "no statistics:\n%s", s);

    char dir[] = "/tmp/whet_test_data_XXXXXX", cmd[1200];
    CHECK(mkdtemp(dir) != NULL);
    whet_sb_clear(&out);
    snprintf(cmd, sizeof cmd, WHET_BINARY " data convert " WHET_FIXTURES "/data/lf/identity.json %s/id.jsonl", dir);
    CHECK_EQ_INT(cli_run(cmd, &out), 0);
    char first[200];
    snprintf(first, sizeof first, "%s", out.data ? out.data : "");
    whet_sb_clear(&out);
    snprintf(cmd, sizeof cmd, WHET_BINARY " data convert %s/id.jsonl %s/back.json", dir, dir);
    CHECK_EQ_INT(cli_run(cmd, &out), 0);
    size_t n1 = 0, n2 = 0;
    CHECK(sscanf(first, "wrote %zu", &n1) == 1 && out.data && sscanf(out.data, "wrote %zu", &n2) == 1);
    CHECK_MSG(n1 > 10 && n1 == n2, "records %zu then %zu", n1, n2);

    whet_sb_clear(&out);
    CHECK(cli_run(PREVIEW " --datset x 2>&1", &out) != 0);
    CHECK_MSG(out.data && strstr(out.data, "did you mean 'dataset'"), "got %s", out.data ? out.data : "");
    whet_sb_clear(&out);
    CHECK(cli_run(WHET_BINARY " data previw 2>&1", &out) != 0);
    CHECK_MSG(out.data && strstr(out.data, "unknown subcommand"), "got %s", out.data ? out.data : "");
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    whet_sb_free(&out);
    return TEST_SUMMARY();
}
