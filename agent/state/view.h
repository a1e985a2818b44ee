/*
 * view.h - what readers of the monitoring state look at. With one agent it
 * is the agent's own monitor; with several (jobs/cluster.h) it is the merge
 * of every agent's partial, with the health judged by the one agent that
 * judges. Readers (the publisher, alerting, the HTTP API) take a view, read
 * it within one callback, and give it back: they never keep it.
 */
#ifndef BM_STATE_VIEW_H
#define BM_STATE_VIEW_H

#include "lib/monitor.h"

typedef struct {
    /* The monitor to read now; NULL when none can be made (out of memory). */
    bm_monitor *(*acquire)(void *arg);
    /* Give back what acquire returned. */
    void (*release)(void *arg, bm_monitor *m);
    /* This agent judges health and alerts and publishes rollups (the leader,
     * or the only agent). */
    int (*judge)(void *arg);
    /* The judge judged: its verdicts (in m, an acquired view) are to be kept. */
    void (*judged)(void *arg, bm_monitor *m);
    void *arg;
} bm_view;

#endif
