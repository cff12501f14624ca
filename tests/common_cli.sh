# common_cli.sh: sourced by the tests/cli_*.sh scripts (not a test itself): pass/fail
# counters, a temporary folder $T removed at exit, and `expect STATUS CMD...`, which runs a
# command, checks its exit status and, for errors, that stderr is one 'allclear: ...' line.
fails=0 passes=0
ok() { passes=$((passes + 1)); }
bad() { fails=$((fails + 1)); echo "FAIL: $*" >&2; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

expect() {
    local want=$1; shift
    "$@" >"$T/out" 2>"$T/err"
    local rc=$?
    if [ "$rc" != "$want" ]; then bad "exit $rc (want $want): $*: $(cat "$T/err")"; return 1; fi
    if [ "$want" != 0 ] && { [ "$(wc -l <"$T/err")" != 1 ] || ! grep -q '^allclear: ' "$T/err"; }; then
        bad "error is not one 'allclear: ...' line: $*: $(cat "$T/err")"; return 1
    fi
    ok
}
