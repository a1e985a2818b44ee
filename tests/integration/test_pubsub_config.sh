#!/usr/bin/env bash
# The pub/sub input's channel names (pubsub.prefix, pubsub.separator,
# pubsub.channels.*) can be renamed, never switched off (proto/README.md
# §3.4: every mapping is on, the prefix never empty): an empty value, a YAML
# null and a word meaning "off" are refused at start (exit 2) with the key
# and what it must be, from the file and from the environment alike. They
# were taken as the words themselves: `prefix: null` subscribed to "null*"
# and read nothing, `error: off` mapped channels multiagent:off.<worker>.
source "$(dirname "$0")/lib.sh"
bm_start_redis
AGENT="$BM_BUILD/busmon-agent"
[ -x "$AGENT" ] || { echo "missing $AGENT"; exit 1; }

# check KEY VALUE: --check-config of pubsub.KEY: VALUE (KEY may be channels.WORD);
# its exit code (its output in $BM_TMP/check.out)
check() {
    local key=$1 value=$2
    {
        echo "pubsub:"
        echo "  enabled: true"
        if [ "${key#channels.}" != "$key" ]; then
            echo "  channels:"
            echo "    ${key#channels.}: $value"
        else
            echo "  $key: $value"
        fi
    } >"$BM_TMP/c.yaml"
    "$AGENT" --config "$BM_TMP/c.yaml" --check-config >"$BM_TMP/check.out" 2>&1
    echo "$?"
}

for key in prefix separator channels.command channels.error channels.compensation; do
    for value in '""' '' null '~' off Off false no none; do
        rc=$(check "$key" "$value")
        bm_eq "pubsub.$key: $value is refused (exit 2)" 2 "$rc"
        OUT=$(head -1 "$BM_TMP/check.out" | cut -c1-160)
        bm_check "... naming pubsub.$key and why ($OUT)" \
            grep -Eq "'pubsub\.$key' must (not be empty|be a part of the channel names \(a mapping cannot be turned off)" <<<"$OUT"
    done
done

# another naming scheme is taken, and shown as set
rc=$(check prefix '"acme/bus/"')
bm_eq "pubsub.prefix: acme/bus/ is taken" 0 "$rc"
rc=$(check channels.command cmd)
bm_eq "pubsub.channels.command: cmd is taken" 0 "$rc"
{ echo "pubsub:"; echo "  prefix: \"acme/bus/\""; echo "  separator: \"::\""
  echo "  channels: {command: cmd, result: res}"; } >"$BM_TMP/scheme.yaml"
bm_eq "the scheme is in effect" "acme/bus/ :: cmd res" \
    "$("$AGENT" --config "$BM_TMP/scheme.yaml" --print-config | sed -n '/^pubsub:/,/^[a-z]/p' |
        awk '$1 == "prefix:" || $1 == "separator:" || $1 == "command:" || $1 == "result:" {
            gsub(/"/, "", $2); v[$1] = $2 }
            END { print v["prefix:"], v["separator:"], v["command:"], v["result:"] }')"

# from the environment (an empty variable counts as unset)
BUSMON_PUBSUB_PREFIX=off BUSMON_PSUBSCRIBE='multiagent:*' "$AGENT" --check-config >"$BM_TMP/env.out" 2>&1
bm_eq "BUSMON_PUBSUB_PREFIX=off is refused (exit 2)" 2 "$?"
bm_check "... naming the variable" grep -q "BUSMON_PUBSUB_PREFIX must be a part of the channel names" "$BM_TMP/env.out"
BUSMON_PUBSUB_CHANNELS_RESULT=null BUSMON_PSUBSCRIBE='multiagent:*' "$AGENT" --check-config >"$BM_TMP/env.out" 2>&1
bm_eq "BUSMON_PUBSUB_CHANNELS_RESULT=null is refused (exit 2)" 2 "$?"
bm_finish
