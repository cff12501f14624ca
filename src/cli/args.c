// args.c: option parsing and help text for the subcommands (see args.h).
#include "cli/args.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ac_cli_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("allclear: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void ac_str_list_free(ac_str_list *l) {
    free(l->items);
    l->items = NULL;
    l->count = 0;
}

static void list_push(ac_str_list *l, char *s) {
    char **items = realloc(l->items, (size_t)(l->count + 1) * sizeof *items);
    if (!items) {
        ac_cli_error("out of memory");
        exit(1);
    }
    l->items = items;
    l->items[l->count++] = s;
}

void ac_print_help(const ac_cmd_spec *spec) {
    printf("usage: allclear %s %s\n\n%s\n", spec->name, spec->usage, spec->summary);
    if (spec->n_opts) printf("\noptions:\n");
    for (int i = 0; i < spec->n_opts; i++) {
        const ac_opt *o = &spec->opts[i];
        char left[64];
        if (o->short_name)
            snprintf(left, sizeof left, "-%c, --%s%s%s", o->short_name, o->name,
                     o->metavar ? " " : "", o->metavar ? o->metavar : "");
        else
            snprintf(left, sizeof left, "    --%s%s%s", o->name, o->metavar ? " " : "",
                     o->metavar ? o->metavar : "");
        printf("  %-28s %s\n", left, o->help);
    }
}

static const ac_opt *find_opt(const ac_cmd_spec *spec, const char *arg, const char **value) {
    *value = NULL;
    if (arg[1] != '-') {  // -x
        if (arg[2] != 0) return NULL;
        for (int i = 0; i < spec->n_opts; i++)
            if (spec->opts[i].short_name == arg[1]) return &spec->opts[i];
        return NULL;
    }
    const char *name = arg + 2;
    const char *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    for (int i = 0; i < spec->n_opts; i++) {
        if (strlen(spec->opts[i].name) == len && !strncmp(spec->opts[i].name, name, len)) {
            if (eq) *value = eq + 1;
            return &spec->opts[i];
        }
    }
    return NULL;
}

static int set_number(const ac_cmd_spec *spec, const ac_opt *o, const char *v) {
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end || !isfinite(d)) {
        ac_cli_error("%s: --%s expects a number, got '%s'", spec->name, o->name, v);
        return 2;
    }
    if (o->kind == AC_OPT_INT && d != floor(d)) {
        ac_cli_error("%s: --%s expects a whole number, got '%s'", spec->name, o->name, v);
        return 2;
    }
    if ((o->min != 0 || o->max != 0) && (d < o->min || d > o->max)) {
        ac_cli_error("%s: --%s must be between %.15g and %.15g, got %s", spec->name, o->name, o->min,
                     o->max, v);
        return 2;
    }
    if (o->kind == AC_OPT_INT) *(int *)o->dest = (int)d;
    else *(double *)o->dest = d;
    return 0;
}

int ac_parse_args(const ac_cmd_spec *spec, int argc, char **argv, ac_str_list *pos) {
    pos->items = NULL;
    pos->count = 0;
    bool only_positional = false;
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (only_positional || a[0] != '-' || a[1] == 0) {
            list_push(pos, a);
            continue;
        }
        if (!strcmp(a, "--")) {
            only_positional = true;
            continue;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            ac_print_help(spec);
            ac_str_list_free(pos);
            return -1;
        }
        const char *value;
        const ac_opt *o = find_opt(spec, a, &value);
        if (!o) {
            ac_cli_error("%s: unknown option '%s' (see 'allclear %s --help')", spec->name, a,
                         spec->name);
            ac_str_list_free(pos);
            return 2;
        }
        if (o->kind == AC_OPT_FLAG) {
            if (value) {
                ac_cli_error("%s: --%s takes no value", spec->name, o->name);
                ac_str_list_free(pos);
                return 2;
            }
            *(bool *)o->dest = true;
            continue;
        }
        if (o->kind == AC_OPT_LIST) {
            ac_str_list *l = o->dest;
            if (value) list_push(l, (char *)value);
            while (i + 1 < argc && argv[i + 1][0] != '-') list_push(l, argv[++i]);
            if (l->count == 0) {
                ac_cli_error("%s: --%s needs at least one value", spec->name, o->name);
                ac_str_list_free(pos);
                return 2;
            }
            continue;
        }
        if (!value) {
            if (i + 1 >= argc) {
                ac_cli_error("%s: --%s needs a value", spec->name, o->name);
                ac_str_list_free(pos);
                return 2;
            }
            value = argv[++i];
        }
        if (o->kind == AC_OPT_STRING) {
            *(const char **)o->dest = value;
        } else if (set_number(spec, o, value) != 0) {
            ac_str_list_free(pos);
            return 2;
        }
    }
    if (spec->max_positional == 0 && pos->count > 0) {
        ac_cli_error("%s: unexpected argument '%s' (see 'allclear %s --help')", spec->name, pos->items[0],
                     spec->name);
        ac_str_list_free(pos);
        return 2;
    }
    if (pos->count < spec->min_positional ||
        (spec->max_positional >= 0 && pos->count > spec->max_positional)) {
        ac_cli_error("%s: expected %s (see 'allclear %s --help')", spec->name, spec->usage,
                     spec->name);
        ac_str_list_free(pos);
        return 2;
    }
    return 0;
}
