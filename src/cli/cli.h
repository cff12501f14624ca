// cli.h: the subcommand table entry and the commands' entry points. Each command lives in
// its own file (cmd_<name>.c), receives argv starting at its own name, and returns the exit
// status (0 ok, 1 failure while working, 2 bad usage or input).
#ifndef AC_CLI_H
#define AC_CLI_H

typedef struct ac_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
} ac_command;

#include "allclear.h"

#define AC_VERSION AC_LIB_VERSION

int ac_cmd_version(int argc, char **argv);
int ac_cmd_metrics(int argc, char **argv);
int ac_cmd_synth(int argc, char **argv);
int ac_cmd_train(int argc, char **argv);
int ac_cmd_train_teacher(int argc, char **argv);
int ac_cmd_eval(int argc, char **argv);
int ac_cmd_sheet(int argc, char **argv);
int ac_cmd_restore(int argc, char **argv);
int ac_cmd_convert(int argc, char **argv);
int ac_cmd_info(int argc, char **argv);

// Shared by convert and info (cmd_convert.c).
#include <stdbool.h>
#include <stddef.h>
#include "io/tensor_map.h"
void ac_cli_format_count(size_t v, char *buf, size_t size);  // 28712861 -> "28,712,861"
bool ac_cli_looks_like_net(const ac_tensor_map *m);          // has the network's tensors

// The last component of a path (after its last '/'), within p (outputs.c).
const char *ac_cli_base_name(const char *p);

// Output places (outputs.c), checked before any work: 0, or 2 after printing one line
// '<cmd>: PATH: why' when the file (its folder must exist) or the folder (made if missing)
// cannot be written.
int ac_cli_check_out_file(const char *cmd, const char *path);
int ac_cli_check_out_dir(const char *cmd, const char *dir);
// The outermost missing folder of `dir` (new string; NULL when `dir` exists): what
// ac_mkdir_p(dir) will make. ac_cli_remove_made removes those folders again, innermost first
// and only while empty, and frees `top`.
char *ac_cli_missing_top(const char *dir);
void ac_cli_remove_made(const char *dir, char *top);

#endif
