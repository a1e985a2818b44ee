/*
 * otlp_headers.c - the `otlp.headers` and `otlp.header_files` mappings
 * (NAME: VALUE, NAME: FILE) into the configuration. The names and values
 * are checked by the otlp sink when it is made (outputs/http_post.c), the
 * files read there (outputs/sink.c), so a bad one is refused at start and
 * by --check-config, and a value never reaches a log line.
 */
#include <stdlib.h>
#include <string.h>

#include "agent/config/config.h"
#include "agent/config/keys.h"
#include "agent/config/walk.h"

int bm_otlp_yaml_headers(bm_walk *w, const bm_walk_pair *p)
{
    bm_config *c = w->base[BM_BASE_CONFIG];
    int is_file = strstr(p->path, "header_files") != NULL;
    if (bm_yaml_is_null(p->value)) return 0;
    if (p->value->type != YAML_MAPPING_NODE)
        return bm_walk_fail(w, p->value, "'%s' must be a mapping of NAME: %s, not %s", p->path,
                            is_file ? "FILE" : "VALUE", bm_yaml_kind(p->value));
    if (!c) return 0;
    for (yaml_node_pair_t *it = p->value->data.mapping.pairs.start;
         it < p->value->data.mapping.pairs.top; it++) {
        yaml_node_t *k = bm_walk_node(w, it->key), *v = bm_walk_node(w, it->value);
        const char *name = bm_yaml_scalar(k), *value = bm_yaml_scalar(v);
        if (!name || !*name || !value)
            return bm_walk_fail(w, v ? v : p->value, "'%s': each header is NAME: %s", p->path,
                                is_file ? "FILE" : "VALUE");
        if (c->n_otlp_headers == sizeof c->otlp_headers / sizeof c->otlp_headers[0])
            return bm_walk_fail(w, k, "'%s': at most 16 headers", p->path);
        char *n = strdup(name), *val = strdup(value);
        if (!n || !val) {
            free(n);
            free(val);
            return bm_walk_fail(w, k, "out of memory");
        }
        c->otlp_headers[c->n_otlp_headers].name = n;
        c->otlp_headers[c->n_otlp_headers].value = val;
        c->otlp_headers[c->n_otlp_headers].is_file = is_file;
        c->n_otlp_headers++;
    }
    return 0;
}
