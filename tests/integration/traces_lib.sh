# tests/integration/traces_lib.sh - set-up shared by the trace search tests
# (sourced after lib.sh): Redis, then an agent reading busmon:events.
#
#   traces_start_agent ARGS...   Redis and an agent with --block-ms 100 and
#                                ARGS, waited for until its group exists;
#                                sets BUSMON
traces_start_agent() {
    bm_start_redis
    BUSMON="$BM_BUILD/busmon"
    bm_bg "$BM_BUILD/busmon-agent" --block-ms 100 "$@"
    bm_check "the agent reads busmon:events" bm_wait_for 10 \
        '[ "$(bm_cli_raw XINFO GROUPS busmon:events 2>/dev/null | grep -c busmon)" -ge 1 ]'
}
