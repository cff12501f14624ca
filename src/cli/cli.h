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

#define AC_VERSION "0.1.0"

int ac_cmd_version(int argc, char **argv);
int ac_cmd_metrics(int argc, char **argv);
int ac_cmd_synth(int argc, char **argv);
int ac_cmd_train(int argc, char **argv);
int ac_cmd_train_teacher(int argc, char **argv);
int ac_cmd_eval(int argc, char **argv);
int ac_cmd_sheet(int argc, char **argv);

#endif
