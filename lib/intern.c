/*
 * intern.c - names kept once per process (lib/intern.h).
 *
 * An open-addressing table of ids (linear probing, at most half full) over
 * an array of names; the text lives in 64 KiB chunks, never freed, so a
 * name's pointer is stable. All of it is reachable from the statics below.
 */
#include "intern.h"

#include <stdlib.h>
#include <string.h>

#define CHUNK_BYTES           (64u << 10)
#define MALLOC_OVERHEAD_BYTES 16

typedef struct chunk {
    struct chunk *next;
    size_t used;
    char text[];
} chunk;

static const char **names; /* [id], id 1 .. n */
static uint32_t *hashes;   /* [id] */
static uint32_t n, cap;    /* names in use (ids 1..n), slots of names[] */
static uint32_t *slots;    /* ids; 0 = empty */
static uint32_t slot_mask; /* slot count - 1, or 0 before the first */
static chunk *chunks;      /* newest first */
static size_t text_bytes;  /* chunk bytes allocated */
static uint64_t refused;

static uint32_t name_hash(const char *s, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h ? h : 1;
}

/* Room for the names array and the slots, for one more name. @return 0 or -1. */
static int grow(void)
{
    if (n + 1 >= cap) {
        uint32_t ncap = cap ? cap * 2 : 64;
        if (ncap > BM_INTERN_MAX_NAMES + 1) ncap = BM_INTERN_MAX_NAMES + 1;
        const char **nn = realloc(names, ncap * sizeof *nn);
        if (!nn) return -1;
        names = nn;
        uint32_t *nh = realloc(hashes, ncap * sizeof *nh);
        if (!nh) return -1;
        hashes = nh;
        cap = ncap;
    }
    if (slot_mask && (n + 1) * 2 <= slot_mask + 1) return 0;
    uint32_t nslots = slot_mask ? (slot_mask + 1) * 2 : 128;
    uint32_t *ns = calloc(nslots, sizeof *ns);
    if (!ns) return -1;
    for (uint32_t id = 1; id <= n; id++) {
        uint32_t i = hashes[id] & (nslots - 1);
        while (ns[i])
            i = (i + 1) & (nslots - 1);
        ns[i] = id;
    }
    free(slots);
    slots = ns;
    slot_mask = nslots - 1;
    return 0;
}

/* A copy of s[0..len) in the chunks. @return it, or NULL. */
static const char *store_text(const char *s, size_t len)
{
    if (!chunks || chunks->used + len + 1 > CHUNK_BYTES) {
        if (text_bytes + CHUNK_BYTES > BM_INTERN_MAX_BYTES) return NULL;
        chunk *c = malloc(sizeof *c + CHUNK_BYTES);
        if (!c) return NULL;
        c->next = chunks;
        c->used = 0;
        chunks = c;
        text_bytes += CHUNK_BYTES;
    }
    char *p = chunks->text + chunks->used;
    memcpy(p, s, len);
    p[len] = '\0';
    chunks->used += len + 1;
    return p;
}

uint32_t bm_intern(const char *s)
{
    if (!s || !s[0]) return 0;
    size_t len = strlen(s);
    if (len > BM_INTERN_MAX_LEN) {
        refused++;
        return 0;
    }
    uint32_t h = name_hash(s, len);
    if (slot_mask) {
        for (uint32_t i = h & slot_mask; slots[i]; i = (i + 1) & slot_mask) {
            uint32_t id = slots[i];
            if (hashes[id] == h && !strcmp(names[id], s)) return id;
        }
    }
    if (n >= BM_INTERN_MAX_NAMES || grow()) {
        refused++;
        return 0;
    }
    const char *copy = store_text(s, len);
    if (!copy) {
        refused++;
        return 0;
    }
    uint32_t id = ++n;
    names[id] = copy;
    hashes[id] = h;
    uint32_t i = h & slot_mask;
    while (slots[i])
        i = (i + 1) & slot_mask;
    slots[i] = id;
    return id;
}

const char *bm_intern_name(uint32_t id)
{
    return id && id <= n ? names[id] : "";
}

void bm_intern_get_stats(bm_intern_stats *out)
{
    out->names = n;
    out->heap_bytes = text_bytes + (size_t)cap * (sizeof *names + sizeof *hashes) +
                      (slot_mask ? ((size_t)slot_mask + 1) * sizeof *slots : 0) +
                      (chunks ? (text_bytes / CHUNK_BYTES) * MALLOC_OVERHEAD_BYTES : 0);
    out->refused = refused;
}
