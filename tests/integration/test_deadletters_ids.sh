#!/usr/bin/env bash
# busmon deadletters replay --id: every id of the list is checked before
# any copy is put back. A typo ('abc', '1-x', a number of 2^64 or more) is a
# usage error (exit 2, saying which id and what one looks like) and nothing
# moves; it was Redis' refusal, exit 3 ("Redis unreachable"), after the
# copies named before it had already been put back and deleted.
source "$(dirname "$0")/lib.sh"
bm_start_redis
BUSMON="$BM_BUILD/busmon"

id=$(bm_cli_raw XADD busmon:deadletter '*' reason not_json stream ev:in id 1-1 f.type command)
for bad in abc 1-x 99999999999999999999-1 1-2-3; do
    "$BUSMON" deadletters replay --id "$id,$bad" >"$BM_TMP/out" 2>"$BM_TMP/err"
    bm_eq "--id '$id,$bad': exit 2" 2 "$?"
    bm_eq "--id '$id,$bad': the id said" \
        "busmon deadletters replay: --id '$bad' is not a stream entry id (as listed: 1796530130884-0)" \
        "$(cat "$BM_TMP/err")"
    bm_eq "--id '$id,$bad': nothing put back, the copy kept" "0 1" \
        "$(bm_cli_raw XLEN ev:in) $(bm_cli_raw XLEN busmon:deadletter)"
done
"$BUSMON" deadletters replay --id "$id,18446744073709551615-0" >/dev/null 2>"$BM_TMP/err"
bm_eq "a valid list with an id that names none: the copy put back, exit 1 (an --id named none)" \
    "1 1 0" "$? $(bm_cli_raw XLEN ev:in) $(bm_cli_raw XLEN busmon:deadletter)"
bm_finish
