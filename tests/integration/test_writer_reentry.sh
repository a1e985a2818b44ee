#!/usr/bin/env bash
# The writer pushed from inside one of its connection's own reply callbacks
# while the socket can no longer be written (bm-writer-reentry,
# tests/integration/writer_reentry.c): hiredis 0.14 frees a connection whose
# write fails at once, so a write from inside a callback would return into a
# freed context (10e8230, caught once by ASan as an agent stopped with much
# queued while Redis was killed). Both forms, bm_writer_push and the long-run
# bm_writer_push_some, under valgrind's memcheck against a real Redis: no
# invalid read or write, the queued command lost once and counted, the
# connection ended cleanly. A harness built with ASan (build-asan/) runs
# without valgrind: ASan reports the same use after free. Exit 77 (skipped,
# said why) when neither is there.
source "$(dirname "$0")/lib.sh"
HARNESS="$BM_BUILD/bm-writer-reentry"
[ -x "$HARNESS" ] || { echo "missing $HARNESS"; exit 1; }
if grep -q __asan_init "$HARNESS"; then
    VG=(env ASAN_OPTIONS=abort_on_error=0:exitcode=99)
elif command -v valgrind >/dev/null 2>&1; then
    VG=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
        --show-leak-kinds=definite)
else
    echo "SKIP: valgrind is not installed (./deploy/install-deps.sh installs it)"
    exit 77
fi
bm_start_redis

for mode in push push_some; do
    : >"$BM_TMP/vg-$mode.log"
    if [ "${VG[0]}" = valgrind ]; then
        timeout 60 "${VG[@]}" --log-file="$BM_TMP/vg-$mode.log" "$HARNESS" 127.0.0.1 "$BM_PORT" \
            "$mode" >"$BM_TMP/$mode.out" 2>&1
    else # ASan's report goes to stderr: the same log
        timeout 60 "${VG[@]}" "$HARNESS" 127.0.0.1 "$BM_PORT" "$mode" >"$BM_TMP/$mode.out" \
            2>"$BM_TMP/vg-$mode.log"
    fi
    rc=$?
    sed "s/^/    $mode: /" "$BM_TMP/$mode.out"
    bm_check "$mode inside a reply callback, the socket shut: exit $rc (0)" [ "$rc" -eq 0 ]
    bm_check "$mode: memcheck's (or ASan's) log is empty" [ ! -s "$BM_TMP/vg-$mode.log" ]
    [ -s "$BM_TMP/vg-$mode.log" ] && head -30 "$BM_TMP/vg-$mode.log"
    bm_eq "$mode: every check of the harness held" 0 "$(grep -c '^FAIL' "$BM_TMP/$mode.out")"
    bm_eq "$mode: the harness ran its seven checks" 7 "$(grep -c '^ok' "$BM_TMP/$mode.out")"
done
bm_check "Redis is still up" [ "$(bm_cli PING)" = PONG ]
bm_finish
