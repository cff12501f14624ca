// args.h: table-driven option parsing shared by every subcommand. Options are `--name VALUE`
// or `--name=VALUE` (and an optional one-letter `-x VALUE`); values are range-checked; any
// problem prints one line `allclear <cmd>: ...` and yields exit status 2.
#ifndef AC_CLI_ARGS_H
#define AC_CLI_ARGS_H

#include <stdbool.h>

typedef enum ac_opt_kind {
    AC_OPT_FLAG,     // bool, no value
    AC_OPT_INT,      // int, within [min, max]
    AC_OPT_DOUBLE,   // double, within [min, max]
    AC_OPT_STRING,   // const char *
    AC_OPT_LIST,     // every following word up to the next option: ac_str_list
} ac_opt_kind;

typedef struct ac_str_list {
    char **items;
    int count;
} ac_str_list;

typedef struct ac_opt {
    const char *name;     // long name without dashes
    char short_name;      // 0 when none
    ac_opt_kind kind;
    void *dest;
    const char *metavar;  // e.g. "N", "PATH"
    const char *help;
    double min, max;      // for numbers (min == max == 0: no check)
} ac_opt;

typedef struct ac_cmd_spec {
    const char *name;      // "restore"
    const char *usage;     // "-m MODEL [-o OUTDIR] INPUT..."
    const char *summary;   // one paragraph
    const ac_opt *opts;
    int n_opts;
    int min_positional, max_positional;  // max -1: unlimited
} ac_cmd_spec;

// Parses argv (argv[0] is the command name). Returns 0 when parsing succeeded, 2 on a usage
// error (message printed), and -1 when --help was printed (the command should exit 0).
// Positional arguments are returned in *pos (pointing into argv; free the array).
int ac_parse_args(const ac_cmd_spec *spec, int argc, char **argv, ac_str_list *pos);
void ac_print_help(const ac_cmd_spec *spec);
void ac_str_list_free(ac_str_list *l);

// One-line error on stderr: "allclear: <message>".
void ac_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
