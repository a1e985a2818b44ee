/*
 * test_output_config.c - the outputs' configuration (config/alerting.c,
 * config/config.c):
 *   - a sink's `topics:` is read from a comma list and from a YAML list
 *     alike (flow [a, b] or one "- a" a line); a list item that is not a
 *     name is refused with its line;
 *   - one key, one output (bm_config_finish): two built-in outputs on one
 *     key, or a sink writing a built-in output's key, are refused with both
 *     names; sinks of one's own may share a key of their own; the alerts'
 *     keys count only when alerting is on.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent/config/alerting.h"
#include "agent/config/config.h"

static char path[64];

static void setup(void)
{
    snprintf(path, sizeof path, "/tmp/bm_test_output_config_%d.yaml", (int)getpid());
}

static void teardown(void)
{
    unlink(path);
}

TestSuite(sink_topics_yaml, .init = setup, .fini = teardown);

static int load(bm_config *c, const char *text, char *err, size_t errlen)
{
    cr_assert_eq(bm_config_init(c), 0);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    return bm_config_load_file(c, path, err, errlen);
}

/* The `topics` value of outputs.sinks' only sink, as the sink reads it. */
static const char *topics_of(const bm_config *c)
{
    cr_assert_eq(c->alerting->n_output_sinks, 1);
    const bm_alerting_sink_config *s = &c->alerting->output_sinks[0];
    for (size_t i = 0; i < s->n_kv; i++)
        if (!strcmp(s->kv[i].key, "topics")) return s->kv[i].value;
    return NULL;
}

Test(sink_topics_yaml, a_comma_list_a_flow_list_and_a_block_list_read_alike)
{
    static const char *const forms[] = {
        "outputs:\n  sinks:\n    - url: http://127.0.0.1:9/x\n      topics: rollup, health\n",
        "outputs:\n  sinks:\n    - url: http://127.0.0.1:9/x\n      topics: [rollup, health]\n",
        "outputs:\n  sinks:\n    - url: http://127.0.0.1:9/x\n      topics:\n        - rollup\n"
        "        - health\n",
    };
    for (size_t i = 0; i < sizeof forms / sizeof *forms; i++) {
        bm_config c;
        char err[512] = "";
        cr_expect_eq(load(&c, forms[i], err, sizeof err), 0, "form %zu refused: %s", i, err);
        if (!err[0]) cr_expect_str_eq(topics_of(&c), "rollup, health", "form %zu", i);
        bm_config_deinit(&c);
    }
}

Test(sink_topics_yaml, a_listed_topic_the_type_cannot_carry_is_refused_by_name)
{
    bm_config c;
    char err[512] = "";
    cr_expect_eq(load(&c,
                      "outputs:\n  sinks:\n    - type: redis_hash\n      key: copy:workers\n"
                      "      topics: [workers, alert]\n",
                      err, sizeof err),
                 -1);
    cr_expect(strstr(err, "cannot carry topic 'alert'"), "%s", err);
    bm_config_deinit(&c);
}

Test(sink_topics_yaml, a_list_item_that_is_not_a_name_is_refused_with_its_line)
{
    bm_config c;
    char err[512] = "";
    cr_expect_eq(load(&c,
                      "outputs:\n  sinks:\n    - url: http://127.0.0.1:9/x\n      topics:\n"
                      "        - rollup\n        - {a: b}\n",
                      err, sizeof err),
                 -1);
    cr_expect(strstr(err, "'topics' must list topic names") && strstr(err, "6"), "%s", err);
    bm_config_deinit(&c);
    cr_expect_eq(load(&c, "outputs:\n  sinks:\n    - url: http://127.0.0.1:9/x\n      topics: []\n",
                      err, sizeof err),
                 -1);
    cr_expect(strstr(err, "names no topic"), "%s", err);
    bm_config_deinit(&c);
}

TestSuite(output_keys, .init = setup, .fini = teardown);

/* Load text and finish it. @return bm_config_finish's (or -1 when the file is refused). */
static int finish(const char *text, char *err, size_t errlen)
{
    bm_config c;
    int rc = load(&c, text, err, errlen);
    if (!rc) rc = bm_config_finish(&c, err, errlen);
    bm_config_deinit(&c);
    return rc;
}

Test(output_keys, two_builtin_outputs_on_one_key_are_refused)
{
    char err[512] = "";
    cr_expect_eq(finish("outputs:\n  health: busmon:rollups\n", err, sizeof err), -1);
    cr_expect(strstr(err, "outputs.rollups and outputs.health both write 'busmon:rollups'"), "%s",
              err);
    cr_expect_eq(finish("outputs:\n  workers: busmon:system\n", err, sizeof err), -1);
    cr_expect(strstr(err, "outputs.system and outputs.workers"), "%s", err);
    cr_expect_eq(finish("alerts:\n  firing: busmon:workers\n", err, sizeof err), -1);
    cr_expect(strstr(err, "outputs.workers and alerts.firing"), "%s", err);
}

Test(output_keys, a_sink_on_a_builtin_outputs_key_is_refused)
{
    char err[512] = "";
    cr_expect_eq(finish("outputs:\n  sinks:\n    - {name: copy, type: redis_hash, key: "
                        "busmon:rollups, topics: workers}\n",
                        err, sizeof err),
                 -1);
    cr_expect(strstr(err, "outputs.rollups and the sink 'copy' both write 'busmon:rollups'"), "%s",
              err);
    cr_expect_eq(finish("outputs:\n  sinks:\n    - {name: h, type: redis_stream, stream: "
                        "busmon:health, topics: rollup}\n",
                        err, sizeof err),
                 -1);
    cr_expect(strstr(err, "the sink 'h'"), "%s", err);
}

Test(output_keys, sinks_of_ones_own_may_share_a_key_and_alerts_off_frees_theirs)
{
    char err[512] = "";
    cr_expect_eq(finish("outputs:\n  sinks:\n"
                        "    - {name: a, type: redis_stream, stream: mine, topics: rollup}\n"
                        "    - {name: b, type: redis_stream, stream: mine, topics: health}\n",
                        err, sizeof err),
                 0, "%s", err);
    cr_expect_eq(finish("alerts:\n  enabled: false\noutputs:\n  sinks:\n"
                        "    - {name: c, type: redis_stream, stream: busmon:alerts, topics: "
                        "rollup}\n",
                        err, sizeof err),
                 0, "%s", err);
    cr_expect_eq(finish("", err, sizeof err), 0, "the defaults: %s", err);
}
