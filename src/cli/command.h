/* command.h: one `whet <command>`. Each src/cli/cmd_<name>.c defines
 *   const whet_command whet_cmd_<name> = {"name", "one-line summary", run};
 * and the build registers it (CMakeLists.txt generates the table). A command
 * prints its own --help and returns a process exit code (0 ok, 1 error, 2 usage). */
#ifndef WHET_CLI_COMMAND_H
#define WHET_CLI_COMMAND_H

typedef struct {
    const char *name;      /* as typed: "chat", "export" (underscores in file names become dashes) */
    const char *summary;
    int (*run)(int argc, char **argv);  /* argv[0] is the command name */
} whet_command;

/* Shared helpers for commands. */
/* Print "whet <cmd>: error: <msg>" to stderr and return 1. */
int whet_cli_fail(const char *cmd, const char *msg);
/* True when argv holds -h or --help. */
int whet_cli_wants_help(int argc, char **argv);
#endif
