/*
 * pubsub.c - an event received on a Redis pub/sub channel: the channel
 * naming scheme, and the decoder that lets the channel name stand in for
 * what the message body leaves out.
 *
 * The MultiAgents Framework publishes each event as JSON on a channel that
 * already says what it is (its RedisEventBus: channel = prefix + event type):
 *
 *   multiagent:command.<worker_type>     CommandEvent, for that worker
 *   multiagent:result.<worker_type>      ResultEvent, from that worker
 *   multiagent:status.workflow           StatusEvent
 *   multiagent:compensation.<name>       CompensationEvent; <name> is the
 *                                        step's compensation (the action or
 *                                        worker that undoes it)
 *
 *   "multiagent:" "result" "." "research"
 *    `- prefix -' `-word-' sep `- name -'
 *
 * Its bodies carry a `type` and a result carries `metadata.source`, so the
 * channel is a fallback here; producers that leave those out (the channel
 * is enough for their own subscribers) still decode. The channel never
 * overrides the body: it is offered to the event builder at a rank below
 * every key (BM_RANK_HINT, event_internal.h).
 *
 * A channel is an identity (text.c): one holding a NUL, a control character
 * or invalid UTF-8, or longer than max_id_bytes, refuses the message
 * (bad_id), whether it matches the scheme or not.
 *
 * Not here: subscribing (agent/), JSON syntax (decode_json.c).
 */
#include "proto/event_internal.h"

#include <string.h>

void bm_channel_scheme_default(bm_channel_scheme *s)
{
    s->prefix = "multiagent:";
    s->separator = ".";
    s->command = "command";
    s->result = "result";
    s->error = "error";
    s->status = "status";
    s->compensation = "compensation";
}

/* `word` at `p` (of `n` bytes), followed by the end or by `sep`?
 * @return the bytes consumed (word + separator), or 0 when it does not match. */
static size_t match_word(const char *p, size_t n, const char *word, const char *sep, size_t sep_len)
{
    if (!word || !*word) return 0;
    size_t wl = strlen(word);
    if (n < wl || memcmp(p, word, wl) != 0) return 0;
    if (n == wl) return wl;
    if (n - wl >= sep_len && memcmp(p + wl, sep, sep_len) == 0) return wl + sep_len;
    return 0; /* "commands.x" is not "command" */
}

int bm_channel_match(const bm_channel_scheme *scheme, const char *channel, size_t channel_len,
                     bm_event_type *type, const char **name, size_t *name_len)
{
    bm_channel_scheme dflt;
    if (!scheme) {
        bm_channel_scheme_default(&dflt);
        scheme = &dflt;
    }
    if (!channel) return 0;
    const char *prefix = scheme->prefix ? scheme->prefix : "";
    const char *sep = scheme->separator && *scheme->separator ? scheme->separator : ".";
    size_t prefix_len = strlen(prefix), sep_len = strlen(sep);
    if (channel_len < prefix_len || memcmp(channel, prefix, prefix_len) != 0) return 0;

    const char *rest = channel + prefix_len;
    size_t rest_len = channel_len - prefix_len;
    const struct {
        const char *word;
        bm_event_type type;
    } words[] = {
        {scheme->command, BM_EV_COMMAND},
        {scheme->result, BM_EV_RESULT},
        {scheme->error, BM_EV_ERROR},
        {scheme->status, BM_EV_STATUS},
        {scheme->compensation, BM_EV_COMPENSATION},
    };
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        size_t used = match_word(rest, rest_len, words[i].word, sep, sep_len);
        if (used == 0) continue;
        *type = words[i].type;
        if (words[i].type == BM_EV_STATUS) {
            *name = rest + rest_len;
            *name_len = 0;
        } else {
            *name = rest + used;
            *name_len = rest_len - used;
        }
        return 1;
    }
    return 0;
}

bm_decode_status bm_decode_pubsub(bm_decoder *d, const bm_channel_scheme *scheme,
                                  const char *channel, size_t channel_len, const char *body,
                                  size_t body_len, bm_event *ev)
{
    bm_evb_hints hints;
    memset(&hints, 0, sizeof(hints));
    /* the channel is an identity too: refused whole (its name would be a worker) */
    d->detail[0] = '\0';
    if (channel && bm_identity_check("channel", channel, channel_len, d->limits.max_id_bytes,
                                     d->detail, sizeof d->detail)) {
        bm_event_reset(ev);
        return BM_DECODE_BAD_ID;
    }
    bm_event_type type;
    const char *name;
    size_t name_len;
    if (bm_channel_match(scheme, channel, channel_len, &type, &name, &name_len)) {
        hints.type = bm_event_type_name(type);
        hints.type_len = strlen(hints.type);
        hints.worker = name;
        hints.worker_len = name_len;
    }
    return bm_decode_json_hinted(d, body, body_len, &hints, ev);
}
