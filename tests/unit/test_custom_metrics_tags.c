/*
 * test_custom_metrics_tags.c - lib/custom_metrics: what happens to a
 * metric event's tags. tags_dropped counts the tags dropped from events the
 * table keeps (by the lists, past the bound, or by the decoder past an
 * event's 16), never those of an event it refuses (table full, or a kind
 * that is not its series').
 */
#include "lib/custom_metrics.h"
#include "tests/bench/counter_event.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#define S_US 1000000LL
#define T0   (1700000000LL * S_US)

TestSuite(custom_metrics_tags);

/* A histogram value of name with the tags "k", "v", ... NULL, and
 * `decoder_dropped` tags the decoder left out. */
static bm_event tagged(const char *name, bm_metric_kind kind, unsigned decoder_dropped,
                       const char *const *kv)
{
    bm_event ev = fixture_metric(name, 1, kind, T0);
    for (; kv && kv[0]; kv += 2)
        ev.tags[ev.n_tags++] = (bm_attr){kv[0], kv[1]};
    ev.tags_dropped = decoder_dropped;
    return ev;
}

#define TAGS(...) ((const char *const[]){__VA_ARGS__, NULL})

static uint64_t tags_dropped(const custom_metrics *cm)
{
    custom_metrics_stats st;
    custom_metrics_get_stats(cm, &st);
    return st.tags_dropped;
}

Test(custom_metrics_tags, a_refused_event_drops_no_tags)
{
    custom_metrics_config c;
    custom_metrics_config_defaults(&c);
    char err[100];
    cr_assert_eq(custom_metrics_config_list(&c, 1, "user_id", err, sizeof err), 0);
    c.max_series = 1;
    c.max_tags_per_series = 1;
    custom_metrics *cm = custom_metrics_new(&c);
    /* kept: user_id denied, b past the bound, 2 the decoder left out */
    bm_event kept =
        tagged("orders", BM_METRIC_HISTOGRAM, 2, TAGS("user_id", "7", "a", "1", "b", "2"));
    cr_assert_eq(custom_metrics_add(cm, &kept, T0), CUSTOM_METRICS_ADDED);
    cr_assert_eq(tags_dropped(cm), 4);

    /* the table is full and nothing in it is idle: refused, nothing dropped */
    bm_event full =
        tagged("refunds", BM_METRIC_HISTOGRAM, 2, TAGS("user_id", "7", "a", "1", "b", "2"));
    cr_assert_eq(custom_metrics_add(cm, &full, T0), CUSTOM_METRICS_REFUSED);
    cr_assert_eq(tags_dropped(cm), 4, "a refused event's tags counted: %llu",
                 (unsigned long long)tags_dropped(cm));

    /* its series is a histogram: refused, nothing dropped */
    bm_event other = tagged("orders", BM_METRIC_GAUGE, 2, TAGS("user_id", "7", "a", "1", "b", "2"));
    cr_assert_eq(custom_metrics_add(cm, &other, T0), CUSTOM_METRICS_KIND_CONFLICT);
    cr_assert_eq(tags_dropped(cm), 4, "a kind conflict's tags counted: %llu",
                 (unsigned long long)tags_dropped(cm));

    cr_assert_eq(custom_metrics_add(cm, &kept, T0), CUSTOM_METRICS_ADDED);
    cr_assert_eq(tags_dropped(cm), 8);
    custom_metrics_free(cm);
}
