#!/usr/bin/env bash
# busmon-agent --print-config: the settings in effect, after the defaults,
# the config file, the environment and the flags, as a config file that
# busmon-agent reads back to the same settings (printed again: the same
# text). Keys not changed say "# default"; a password in redis.url is never
# printed; the alert rules and sinks are only counted.
source "$(dirname "$0")/lib.sh"
AGENT="$BM_BUILD/busmon-agent"
unset BUSMON_REDIS_URL BUSMON_HTTP

# the defaults: every key, each marked, read back without a word
"$AGENT" --print-config >"$BM_TMP/defaults.yaml" 2>"$BM_TMP/err"
bm_eq "defaults: exit 0, nothing on stderr" "0 " "$? $(cat "$BM_TMP/err")"
bm_check "defaults: over 100 keys, each with its value" \
    bash -c "[ \$(grep -c '^ \+[a-z_]\+: [^ ].*# default$' '$BM_TMP/defaults.yaml') -gt 100 ]"
bm_check "defaults: streams.batch 1000, marked default" \
    bash -c "sed -n '/^streams:/,/^[a-z]/p' '$BM_TMP/defaults.yaml' | grep -qx '  batch: 1000   # default'"
bm_check "defaults: a prefix ending in ':' is quoted (plain, it would be a mapping)" \
    grep -qx '  handoff_prefix: "busmon:handoff:"   # default' "$BM_TMP/defaults.yaml"
"$AGENT" --config "$BM_TMP/defaults.yaml" --check-config --offline >/dev/null 2>"$BM_TMP/err"
bm_eq "defaults read back: --check-config exit 0, no warning" "0 " "$? $(cat "$BM_TMP/err")"

# a file, the environment, flags and a password in the URL
cat >"$BM_TMP/mine.yaml" <<'YAML'
streams:
  batch: 50
  names: [orders:events, billing]
state:
  key_prefix: "app:state:"
traces:
  retention: 2h
otlp:
  endpoint: "https://ci:t0ken@collector.example:4318"
alerts:
  rules:
    - {name: mine, metric: error_rate, op: ">", threshold: 0.5}
YAML
BUSMON_STREAMS_GROUP=g2 BUSMON_REDIS_URL='redis://ops:s3cret@127.0.0.1:6399/2' \
    "$AGENT" --config "$BM_TMP/mine.yaml" --block-ms 250ms --print-config >"$BM_TMP/mine.out" 2>"$BM_TMP/err"
bm_eq "set: exit 0, nothing on stderr" "0 " "$? $(cat "$BM_TMP/err")"
# in_section SECTION LINE: LINE is in SECTION of the output
in_section() { sed -n "/^$1:/,/^[a-z]/p" "$BM_TMP/mine.out" | grep -qxF -- "$2"; }
bm_check "the file's batch, not marked default" in_section streams '  batch: 50'
bm_check "the file's streams" in_section streams '  names: "orders:events,billing"'
bm_check "the file's prefix, quoted (it ends in ':')" in_section state '  key_prefix: "app:state:"'
bm_check "the environment's group" in_section streams '  group: g2'
bm_check "the flag's block_ms" in_section streams '  block_ms: 250ms'
bm_check "the file's retention" in_section traces '  retention: 2h'
bm_check "the URL without its password, said" \
    grep -qx '  url: redis://127.0.0.1:6399/2   # its password left out: give it with redis.password_file' "$BM_TMP/mine.out"
bm_eq "the password is nowhere" 0 "$(grep -c s3cret "$BM_TMP/mine.out")"
bm_check "the OTLP endpoint without its user:password@, said" \
    in_section otlp '  endpoint: https://collector.example:4318   # its user:password@ left out'
bm_eq "that password is nowhere either" 0 "$(grep -c t0ken "$BM_TMP/mine.out")"
bm_check "the rules are counted" grep -q '^# alerts: 10 rule(s) and 0 sink(s)' "$BM_TMP/mine.out"

# read back: the same settings (the URL line aside: its password is gone)
"$AGENT" --config "$BM_TMP/mine.out" --print-config >"$BM_TMP/again.out" 2>"$BM_TMP/err"
bm_eq "read back: exit 0, nothing on stderr" "0 " "$? $(cat "$BM_TMP/err")"
bm_eq "read back and printed again: the same, but for the rules (not written) and the URL's note" "" \
    "$(diff <(grep -v '^  url: \|^  endpoint: \|^# alerts: ' "$BM_TMP/mine.out") <(grep -v '^  url: \|^  endpoint: \|^# alerts: ' "$BM_TMP/again.out"))"

# deploy/busmon.yaml, every key of it: the same round trip
"$AGENT" --config "$BM_SRC/deploy/busmon.yaml" --print-config >"$BM_TMP/deploy.out"
"$AGENT" --config "$BM_TMP/deploy.out" --print-config >"$BM_TMP/deploy2.out"
bm_eq "deploy/busmon.yaml printed, read back, printed: the same" "" \
    "$(diff <(grep -v '^# alerts: ' "$BM_TMP/deploy.out") <(grep -v '^# alerts: ' "$BM_TMP/deploy2.out"))"
bm_check "--help names it" bash -c "'$AGENT' --help | grep -q -- '--print-config'"
bm_finish
