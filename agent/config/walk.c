/*
 * walk.c - the YAML walker (walk.h). A mapping is read in two steps: its
 * pairs are collected (rows looked up, duplicates and, in a strict walk,
 * unknown keys refused), then applied by phase. Sections are walked as
 * they come; a section alias (metrics: for metrics_collection:) is walked
 * with its keys looked up under the other name and shown as written.
 *
 * The table is the walk's (w->keys): the walker never asks for the agent's,
 * whose rows name readers that call back into it.
 */
#include "agent/config/walk.h"
#include "agent/core/parse.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PATH_MAX_LEN 256

/* ---- YAML helpers ------------------------------------------------------- */

const char *bm_yaml_scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

int bm_yaml_is_null(const yaml_node_t *n)
{
    const char *s = bm_yaml_scalar(n);
    if (!n) return 1;
    return s && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
           (!*s || !strcmp(s, "~") || !strcasecmp(s, "null"));
}

const char *bm_yaml_kind(const yaml_node_t *n)
{
    return !n                              ? "nothing"
           : n->type == YAML_MAPPING_NODE  ? "a mapping"
           : n->type == YAML_SEQUENCE_NODE ? "a list"
                                           : "a value";
}

size_t bm_yaml_line(const yaml_node_t *n)
{
    return n ? n->start_mark.line + 1 : 0;
}

yaml_node_t *bm_yaml_get(yaml_document_t *doc, const yaml_node_t *map, const char *key,
                         yaml_node_t **key_node)
{
    if (!map || map->type != YAML_MAPPING_NODE) return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *kn = yaml_document_get_node(doc, p->key);
        const char *k = bm_yaml_scalar(kn);
        if (k && !strcmp(k, key)) {
            if (key_node) *key_node = kn;
            return yaml_document_get_node(doc, p->value);
        }
    }
    return NULL;
}

/* Node `id`, reached once more from `at` (its key, or its list). @return 0, or -1 with
 * err set when it is a mapping or list reached before. */
static int reach(yaml_document_t *doc, unsigned char *seen, const yaml_node_t *at, int id,
                 const char *file, char *err, size_t errlen)
{
    yaml_node_t *child = yaml_document_get_node(doc, id);
    if (!child || child->type == YAML_SCALAR_NODE || !seen[id - 1]++) return 0;
    snprintf(err, errlen,
             "%s:%zu: YAML aliases of mappings and lists are not supported (the one anchored on "
             "line %zu is used again)",
             file, bm_yaml_line(at), bm_yaml_line(child));
    return -1;
}

/* A mapping or list reached twice (an alias: libyaml shares the node) would be
 * walked at every reference, exponentially in the nesting: refused here, once
 * for every reader. Scalars may be aliased. @return 0, or -1 with err set. */
static int check_no_shared_collections(yaml_document_t *doc, const char *file, char *err,
                                       size_t errlen)
{
    size_t n = (size_t)(doc->nodes.top - doc->nodes.start);
    unsigned char *seen = calloc(n ? n : 1, 1);
    if (!seen) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = 0;
    if (n) seen[0] = 1; /* the root, reached by the document */
    for (size_t i = 0; i < n && !rc; i++) {
        yaml_node_t *node = &doc->nodes.start[i];
        if (node->type == YAML_MAPPING_NODE)
            for (yaml_node_pair_t *p = node->data.mapping.pairs.start;
                 p < node->data.mapping.pairs.top && !rc; p++)
                rc = reach(doc, seen, node, p->key, file, err, errlen) ||
                     reach(doc, seen, yaml_document_get_node(doc, p->key), p->value, file, err,
                           errlen);
        else if (node->type == YAML_SEQUENCE_NODE)
            for (yaml_node_item_t *it = node->data.sequence.items.start;
                 it < node->data.sequence.items.top && !rc; it++)
                rc = reach(doc, seen, node, *it, file, err, errlen);
    }
    free(seen);
    return rc ? -1 : 0;
}

/* A scalar holding a NUL ("\0" is a YAML escape) would be read as C text, cut short
 * there ("a\0b" as "a"): no key or value takes one. @return 0, or -1 with err set. */
static int check_no_nul(yaml_document_t *doc, const char *file, char *err, size_t errlen)
{
    for (yaml_node_t *n = doc->nodes.start; n < doc->nodes.top; n++)
        if (n->type == YAML_SCALAR_NODE &&
            strlen((const char *)n->data.scalar.value) != n->data.scalar.length) {
            snprintf(err, errlen,
                     "%s:%zu: a NUL character (\\0) in a key or value: none may hold one", file,
                     bm_yaml_line(n));
            return -1;
        }
    return 0;
}

/* After the first document: a second one (after '---') that holds anything is refused,
 * as is one that is not valid YAML; its settings would be dropped without a word. An
 * empty one (a trailing '---') is the end. @return 0, or -1 with err set. */
static int another_document(yaml_parser_t *parser, const char *file, char *err, size_t errlen)
{
    yaml_document_t next;
    if (!yaml_parser_load(parser, &next)) {
        snprintf(err, errlen, "%s:%zu: invalid YAML: %s", file, parser->problem_mark.line + 1,
                 parser->problem ? parser->problem : "parse error");
        return -1;
    }
    yaml_node_t *root = yaml_document_get_root_node(&next);
    int more = root && !bm_yaml_is_null(root);
    if (more)
        snprintf(err, errlen,
                 "%s:%zu: a second YAML document (after '---'): the configuration is one "
                 "document; put every section in it",
                 file, next.start_mark.line + 1);
    yaml_document_delete(&next);
    return more ? -1 : 0;
}

int bm_yaml_load(yaml_document_t *doc, const char *file, const char *text, size_t len, char *err,
                 size_t errlen)
{
    FILE *f = NULL;
    if (!text && !(f = fopen(file, "rb"))) {
        snprintf(err, errlen, "cannot read config %s: %s", file, strerror(errno));
        return -1;
    }
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        if (f) fclose(f);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (f)
        yaml_parser_set_input_file(&parser, f);
    else
        yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    int rc = 0;
    if (!yaml_parser_load(&parser, doc)) {
        snprintf(err, errlen, "%s:%zu: invalid YAML: %s", file, parser.problem_mark.line + 1,
                 parser.problem ? parser.problem : "parse error");
        rc = -1;
    } else if (another_document(&parser, file, err, errlen)) {
        yaml_document_delete(doc);
        rc = -1;
    }
    yaml_parser_delete(&parser);
    if (f) fclose(f);
    if (rc == 0 && (check_no_nul(doc, file, err, errlen) ||
                    check_no_shared_collections(doc, file, err, errlen))) {
        yaml_document_delete(doc);
        rc = -1;
    }
    return rc;
}

int bm_yaml_load_section(yaml_document_t *doc, const char *file, const char *text, size_t len,
                         const char *key, yaml_node_t **section, char *err, size_t errlen)
{
    *section = NULL;
    if (bm_yaml_load(doc, file, text, len, err, errlen)) return -1;
    yaml_node_t *root = yaml_document_get_root_node(doc);
    if (root && root->type == YAML_MAPPING_NODE) {
        *section = bm_yaml_get(doc, root, key, NULL);
    } else if (!bm_yaml_is_null(root)) {
        snprintf(err, errlen, "%s:%zu: the top level must be a mapping of sections", file,
                 bm_yaml_line(root));
        yaml_document_delete(doc);
        return -1;
    }
    return 0;
}

/* ---- messages ----------------------------------------------------------- */

yaml_node_t *bm_walk_node(const bm_walk *w, int id)
{
    return yaml_document_get_node(w->doc, id);
}

int bm_walk_fail(bm_walk *w, const yaml_node_t *at, const char *fmt, ...)
{
    char what[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(w->err, w->errlen, "%s:%zu: %s%s", w->file, bm_yaml_line(at),
             w->context ? w->context : "", what);
    return -1;
}

void bm_walk_warn(bm_walk *w, const yaml_node_t *at, const char *fmt, ...)
{
    if (!w->warn) return;
    char what[768], line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(line, sizeof line, "%s:%zu: %s", w->file, bm_yaml_line(at), what);
    w->warn(line, w->warn_arg);
}

bm_walk bm_walk_of_doc(yaml_document_t *doc, const char *file, bm_config_warn_cb warn,
                       void *warn_arg, char *err, size_t errlen)
{
    bm_walk w = {.doc = doc,
                 .file = file ? file : "config",
                 .context = "",
                 .warn = warn,
                 .warn_arg = warn_arg,
                 .err = err,
                 .errlen = errlen};
    return w;
}

int bm_walk_list(bm_walk *w, const bm_walk_pair *p, const char *of_what)
{
    if (bm_yaml_is_null(p->value)) return 0;
    if (p->value->type == YAML_SEQUENCE_NODE) return 1;
    return bm_walk_fail(w, p->value, "'%s' must be a list of %s, not %s", p->path, of_what,
                        bm_yaml_kind(p->value));
}

/* ---- one value ---------------------------------------------------------- */

/* The row k stands for: itself, or the key it is another name of. */
static const bm_config_key *canonical(const bm_walk *w, const bm_config_key *k)
{
    const bm_config_key *c = k->alias_of ? bm_keys_find(w->keys, w->n_keys, k->alias_of) : NULL;
    return c ? c : k;
}

static int is_list(const bm_config_key *k)
{
    return k->type == BM_KEY_STREAMS || k->type == BM_KEY_PATTERNS || k->type == BM_KEY_DURATIONS;
}

int bm_walk_set(bm_walk *w, const bm_config_key *k, const char *path, yaml_node_t *vn)
{
    const bm_config_key *t = canonical(w, k);
    char subject[PATH_MAX_LEN + 2], why[768];
    snprintf(subject, sizeof subject, "'%s'", path);
    if (is_list(t) && vn->type == YAML_SEQUENCE_NODE) {
        if (bm_keys_set(w->keys, w->n_keys, k, w->base, "", subject, BM_SET_FROM_FILE, why,
                        sizeof why))
            return bm_walk_fail(w, vn, "%s", why);
        for (yaml_node_item_t *it = vn->data.sequence.items.start; it < vn->data.sequence.items.top;
             it++) {
            yaml_node_t *item = bm_walk_node(w, *it);
            const char *s = bm_yaml_scalar(item);
            if (!s) {
                bm_keys_refuse(w->keys, w->n_keys, t, subject, bm_yaml_kind(item), why, sizeof why);
                return bm_walk_fail(w, item ? item : vn, "%s", why);
            }
            if (bm_keys_set(w->keys, w->n_keys, k, w->base, s, subject,
                            BM_SET_APPEND | BM_SET_FROM_FILE, why, sizeof why))
                return bm_walk_fail(w, item, "%s", why);
        }
        return 0;
    }
    const char *s = bm_yaml_scalar(vn);
    if (!s) {
        bm_keys_refuse(w->keys, w->n_keys, t, subject, bm_yaml_kind(vn), why, sizeof why);
        return bm_walk_fail(w, vn, "%s", why);
    }
    if (bm_keys_set(w->keys, w->n_keys, k, w->base, s, subject, BM_SET_FROM_FILE, why, sizeof why))
        return bm_walk_fail(w, vn, "%s", why);
    return 0;
}

/* ---- a mapping ---------------------------------------------------------- */

typedef enum { ITEM_ROW, ITEM_SECTION, ITEM_UNKNOWN } item_kind;

typedef struct {
    item_kind kind;
    const bm_config_key *k; /* ITEM_ROW */
    yaml_node_t *kn, *vn;
    char path[PATH_MAX_LEN];
    char canon[PATH_MAX_LEN]; /* ITEM_SECTION: the prefix its keys are looked up under */
    int phase;
    size_t order; /* file order, or the row's index in the table */
} item;

/* "known: a, b, c" of a strict walk. */
static void known_list(const bm_walk *w, char *buf, size_t len)
{
    size_t at = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < w->n_keys && at < len; i++) {
        if (w->keys[i].flags & (BM_KEY_F_UNLISTED | BM_KEY_F_NO_YAML | BM_KEY_F_INTERNAL)) continue;
        int n = snprintf(buf + at, len - at, "%s%s", at ? ", " : "", w->keys[i].path);
        if (n < 0) break;
        at += (size_t)n;
    }
}

static int join(char *out, const char *prefix, const char *key)
{
    int n = snprintf(out, PATH_MAX_LEN, "%s%s%s", prefix, *prefix ? "." : "", key);
    return n < 0 || n >= PATH_MAX_LEN ? -1 : 0;
}

/* One pair into *it. @return 0, or -1 (refused: err set). */
static int collect(bm_walk *w, yaml_node_pair_t *p, const char *path, const char *canon, item *it)
{
    memset(it, 0, sizeof *it);
    it->kn = bm_walk_node(w, p->key);
    it->vn = bm_walk_node(w, p->value);
    const char *key = bm_yaml_scalar(it->kn);
    if (!key || !it->vn) return bm_walk_fail(w, it->kn, "keys must be plain names");
    if (join(it->path, path, key) || join(it->canon, canon, key))
        return bm_walk_fail(w, it->kn, "key '%.60s...' is too long", key);
    const bm_config_key *k = bm_keys_find(w->keys, w->n_keys, it->canon);
    const bm_config_key *t = k ? canonical(w, k) : NULL;
    if (t && t->type == BM_KEY_SECTION) {
        it->kind = ITEM_SECTION;
        snprintf(it->canon, sizeof it->canon, "%s", t->alias_of);
    } else if (t && !(it->vn->type == YAML_MAPPING_NODE && t->type != BM_KEY_YAML &&
                      bm_keys_is_section(w->keys, w->n_keys, it->canon))) {
        it->kind = ITEM_ROW;
        it->k = k;
        it->phase = t->phase;
        it->order = (size_t)(k - w->keys);
    } else if (bm_keys_is_section(w->keys, w->n_keys, it->canon)) {
        it->kind = ITEM_SECTION;
    } else if (w->strict) {
        char known[512];
        known_list(w, known, sizeof known);
        const bm_config_key *near = bm_keys_suggest(w->keys, w->n_keys, it->canon);
        return bm_walk_fail(w, it->kn, "unknown key '%s' (known: %s)%s%s%s", it->path, known,
                            near ? "; did you mean '" : "", near ? near->path : "",
                            near ? "'?" : "");
    } else {
        it->kind = ITEM_UNKNOWN;
    }
    return 0;
}

/* Record that `it` set row t (w->settings), or refuse it when another name of t was set
 * to another value before. @return 0, or -1 with err set. */
static int note_setting(bm_walk *w, const bm_config_key *t, const item *it)
{
    if (!w->settings) return 0;
    char value[sizeof w->settings->value];
    if (bm_keys_format(w->keys, w->n_keys, t, w->base, value, sizeof value)) return 0;
    for (size_t i = 0; i < w->n_settings; i++) {
        const bm_walk_setting *s = &w->settings[i];
        if (s->row != t) continue;
        if (!strcmp(s->value, value)) return 0;
        return bm_walk_fail(w, it->kn,
                            "'%s' and '%s' (line %zu) are one setting, given two values (%s "
                            "there, %s here): give one of them",
                            it->path, s->path, s->line, s->value, value);
    }
    if (w->n_settings == w->max_settings) return 0;
    bm_walk_setting *s = &w->settings[w->n_settings++];
    s->row = t;
    s->line = bm_yaml_line(it->kn);
    snprintf(s->path, sizeof s->path, "%s", it->path);
    snprintf(s->value, sizeof s->value, "%s", value);
    return 0;
}

static int apply(bm_walk *w, item *it)
{
    yaml_node_t *vn = it->vn;
    switch (it->kind) {
    case ITEM_SECTION:
        if (vn->type == YAML_MAPPING_NODE) return bm_walk_mapping(w, vn, it->path, it->canon);
        if (bm_yaml_is_null(vn)) return 0; /* "worker_monitoring:" with nothing under it */
        return bm_walk_fail(w, vn, "'%s' is a section (%s.KEY: value), not %s", it->path, it->path,
                            bm_yaml_kind(vn));
    case ITEM_UNKNOWN: {
        if (vn->type == YAML_MAPPING_NODE) return bm_walk_mapping(w, vn, it->path, it->canon);
        const bm_config_key *near = bm_keys_suggest(w->keys, w->n_keys, it->canon);
        if (near)
            bm_walk_warn(w, it->kn, "unknown key '%s' (ignored); did you mean '%s'?", it->path,
                         near->path);
        else
            bm_walk_warn(w, it->kn, "unknown key '%s' (ignored)", it->path);
        return 0;
    }
    case ITEM_ROW:
    default: {
        const bm_config_key *t = canonical(w, it->k);
        if (t->type == BM_KEY_GUIDE) {
            /* said once, with the reason, unless the value is what busmon does anyway */
            const char *v = bm_yaml_scalar(vn);
            int b, q;
            if (t->quiet_if && v &&
                (!strcmp(v, t->quiet_if) ||
                 (!bm_parse_bool(v, &b) && !bm_parse_bool(t->quiet_if, &q) && b == q)))
                return 0;
            const char *why = strstr(t->help, ": ");
            bm_walk_warn(w, it->kn, "'%s: %s' is not used (ignored): %s", it->path,
                         v ? v : bm_yaml_kind(vn), why ? why + 2 : t->help);
            return 0;
        }
        if (!w->base[t->base]) return 0; /* read elsewhere */
        if (t->yaml) return t->yaml(w, &(bm_walk_pair){t, it->path, it->kn, vn});
        if (t->type == BM_KEY_YAML) return 0; /* read by the walk's caller */
        if (bm_walk_set(w, it->k, it->path, vn)) return -1;
        return note_setting(w, t, it);
    }
    }
}

/* Collect every pair of map into a new array. @return it (caller frees), or NULL with err set. */
static item *collect_all(bm_walk *w, yaml_node_t *map, const char *path, const char *canon,
                         size_t *n)
{
    size_t count = (size_t)(map->data.mapping.pairs.top - map->data.mapping.pairs.start);
    item *items = calloc(count ? count : 1, sizeof *items);
    if (!items) {
        snprintf(w->err, w->errlen, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < count; i++) {
        if (collect(w, &map->data.mapping.pairs.start[i], path, canon, &items[i])) goto fail;
        if (!w->by_table || items[i].kind != ITEM_ROW) items[i].order = i;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(items[j].path, items[i].path)) continue;
            bm_walk_fail(w, items[i].kn, "'%s' is given twice", items[i].path);
            goto fail;
        }
    }
    *n = count;
    return items;
fail:
    free(items);
    return NULL;
}

int bm_walk_check_keys(bm_walk *w, yaml_node_t *map)
{
    size_t n;
    item *items = collect_all(w, map, "", "", &n);
    free(items);
    return items ? 0 : -1;
}

int bm_walk_mapping(bm_walk *w, yaml_node_t *map, const char *path, const char *canon)
{
    size_t n;
    item *items = collect_all(w, map, path, canon, &n);
    if (!items) return -1;
    /* by phase, then by order: a stable insertion sort (a mapping is short) */
    for (size_t i = 1; i < n; i++) {
        item cur = items[i];
        size_t j = i;
        while (j > 0 && (items[j - 1].phase > cur.phase ||
                         (items[j - 1].phase == cur.phase && items[j - 1].order > cur.order))) {
            items[j] = items[j - 1];
            j--;
        }
        items[j] = cur;
    }
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++)
        rc = apply(w, &items[i]);
    free(items);
    return rc;
}
