/* main.c: the `whet` binary: dispatch argv[1] to a registered command. */
#include <stdio.h>
#include <string.h>
#include "cli/command.h"
#include "core/suggest.h"
#include "whet.h"

#define WHET_COMMAND(n) extern const whet_command whet_cmd_##n;
#include "whet_commands.inc"
#undef WHET_COMMAND

static const whet_command *const commands[] = {
#define WHET_COMMAND(n) &whet_cmd_##n,
#include "whet_commands.inc"
#undef WHET_COMMAND
};
static const size_t n_commands = sizeof commands / sizeof *commands;

int whet_cli_fail(const char *cmd, const char *msg) {
    fprintf(stderr, "whet %s: error: %s\n", cmd, msg);
    return 1;
}

int whet_cli_wants_help(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) return 1;
    return 0;
}

static void usage(FILE *f) {
    fprintf(f, "whet %s: fine-tune, export and serve Llama-family chat models\n\n"
               "usage: whet <command> [options]   (whet <command> --help for its options)\n\ncommands:\n",
            WHET_VERSION);
    for (size_t i = 0; i < n_commands; i++) fprintf(f, "  %-12s %s\n", commands[i]->name, commands[i]->summary);
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("whet %s\n", WHET_VERSION);
        return 0;
    }
    for (size_t i = 0; i < n_commands; i++)
        if (!strcmp(argv[1], commands[i]->name)) return commands[i]->run(argc - 1, argv + 1);
    const char *names[64];
    for (size_t i = 0; i < n_commands && i < 64; i++) names[i] = commands[i]->name;
    const char *near = whet_suggest(argv[1], names, n_commands < 64 ? n_commands : 64);
    fprintf(stderr, "whet: unknown command '%s'%s%s%s; run 'whet --help' for the list\n", argv[1],
            near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
    return 2;
}
