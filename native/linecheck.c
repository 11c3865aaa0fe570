/*
 * linecheck: certify manifest lines that the reference check (lambdas/labelsync/domain/checker.py)
 * would accept unchanged and without a warning, at the speed of C.
 *
 * This is an accelerator, not a second rulebook. A line is CLEAN only when every rule is
 * clearly met; any doubt (a duplicate key, NaN, deep nesting, a class id that is not a
 * small integer, a rule broken, ...) makes it UNSURE, and the Python reference check
 * decides it. Plans are therefore the same with or without this library (tested by
 * hypothesis and by benchmarks/fuzz_plan.py); only speed differs.
 *
 * JSON is read by yyjson: strict RFC 8259 (Python's json.loads minus NaN/Infinity) and
 * strict UTF-8 (no overlongs, no encoded surrogates, at most U+10FFFF: Python's decoder).
 * This file adds Python's nesting limit and the rules of labelsync.domain.validation and
 * .label_rules, on the parsed values.
 *
 * Loaded with ctypes (lambdas/labelsync/domain/nativecheck.py): no Python ABI, so one build
 * per CPU serves the tests' interpreter and the Lambda runtime's (native/build.py).
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "yyjson.h"

#define LC_VERSION 3

/* Options (bits). */
#define OPT_LABEL_RULES 1 /* check the label rules and the bucket, not only what the service drops */

/* Line status. */
#define CLEAN 0
#define UNSURE 1

/* Limits of what is certified (beyond them: UNSURE, never a different verdict). */
#define MAX_DEPTH 200 /* Python's json.loads fails near the interpreter's recursion limit (1000) */
#define MAX_TOP_KEYS 128
#define MAX_CLASSES 512
#define MAX_EXACT_INTEGER 999999999999999LL /* 15 digits: exact as a double, class-map keys by their digits */

/* The service's rules (labelsync.domain.label_rules). */
#define MAX_BOXES 50
#define MAX_LABELS 50
#define MAX_NAME_CHARS 256
#define MIN_SIDE 64.0
#define MAX_SIDE 4096.0
#define BOX_CHECK_MAX_SIDE 1280.0
#define EDGE_SLACK 1e-6

static const char MULTILABEL[] = "groundtruth/image-classification-multilabel";
static const char DETECTION[] = "groundtruth/object-detection";
static const char CLASSIFICATION[] = "groundtruth/image-classification";
static const char SUFFIX[] = "-metadata";

int32_t lc_version(void) { return LC_VERSION; }

/* ---- what Python refuses and yyjson may not ---- */

/* Brackets ('[' or '{') in the line, strings included: an upper bound on its nesting. */
static size_t brackets(const uint8_t *s, size_t n) {
    const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
    size_t count = 0, i = 0;
    for (; i + 8 <= n; i += 8) { /* eight bytes a step: '[' | 0x20 == '{' */
        uint64_t w;
        memcpy(&w, s + i, 8);
        uint64_t x = (w | (0x20 * ones)) ^ (0x7B * ones); /* zero bytes: brackets */
        uint64_t t = ((x & ~high) + ~high) | x;            /* high bit set: not a bracket */
        count += (size_t)__builtin_popcountll(~t & high);
    }
    for (; i < n; i++) count += (s[i] | 0x20) == 0x7B;
    return count;
}

static int depth_within(yyjson_val *v, int depth) {
    if (depth > MAX_DEPTH) return 0;
    size_t idx, max;
    yyjson_val *key, *item;
    if (yyjson_is_obj(v)) {
        yyjson_obj_foreach(v, idx, max, key, item) if (!depth_within(item, depth + 1)) return 0;
    } else if (yyjson_is_arr(v)) {
        yyjson_arr_foreach(v, idx, max, item) if (!depth_within(item, depth + 1)) return 0;
    }
    return 1;
}

/* ---- the rules, on parsed values ---- */

/* Keys are short: eight bytes a step, inline, beats a call to memcmp. */
static inline __attribute__((always_inline)) int same_bytes(const char *a, const char *b, size_t n) {
    uint64_t x, y;
    for (; n >= 8; a += 8, b += 8, n -= 8) {
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        if (x != y) return 0;
    }
    if (n >= 4) { /* two overlapping 4-byte words cover 4..7 bytes */
        uint32_t p, q, r, t;
        memcpy(&p, a, 4);
        memcpy(&q, b, 4);
        memcpy(&r, a + n - 4, 4);
        memcpy(&t, b + n - 4, 4);
        return p == q && r == t;
    }
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i]) return 0;
    return 1;
}

static inline int str_eq(yyjson_val *v, const char *text, size_t len) {
    return yyjson_is_str(v) && yyjson_get_len(v) == len && same_bytes(yyjson_get_str(v), text, len);
}

static inline int same_str(yyjson_val *a, yyjson_val *b) {
    return yyjson_get_len(a) == yyjson_get_len(b) && same_bytes(yyjson_get_str(a), yyjson_get_str(b), yyjson_get_len(a));
}

/* A class-map key that is an integer's canonical digits (what Python's str(int) writes: no '+', no
   leading zero, no "-0"), at most 15 of them; its value in *id. */
static int integer_key(yyjson_val *key, int64_t *id) {
    const char *s = yyjson_get_str(key);
    size_t n = yyjson_get_len(key), i = 0;
    int negative = n > 0 && s[0] == '-';
    i += (size_t)negative;
    if (n - i < 1 || n - i > 15 || (s[i] == '0' && (n - i > 1 || negative))) return 0;
    int64_t value = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        value = value * 10 + (s[i] - '0');
    }
    *id = negative ? -value : value;
    return 1;
}

/* A label name: a string of 1 to 256 characters (code points, as Python's len counts them). */
static int is_name(yyjson_val *v) {
    if (!yyjson_is_str(v)) return 0;
    const uint8_t *s = (const uint8_t *)yyjson_get_str(v);
    size_t n = yyjson_get_len(v), count = 0;
    if (n <= MAX_NAME_CHARS) return n >= 1; /* bytes >= characters */
    for (size_t i = 0; i < n; i++) count += (s[i] & 0xC0) != 0x80;
    return count <= MAX_NAME_CHARS;
}

/* A number as labelsync's `number()` reads it: int or float, not bool, finite. */
static inline __attribute__((always_inline)) int number(yyjson_val *v, double *out) {
    if (!yyjson_is_num(v)) return 0;
    double d = yyjson_get_num(v); /* uint and sint convert with one rounding, as Python's float(int) */
    if (!isfinite(d)) return 0;
    *out = d;
    return 1;
}

typedef struct {
    const char *text;
    size_t len;
} key_name;

#define KEY(text) {text, sizeof(text) - 1}

/* The members of interest of an object, in one pass: NULL when absent; -1 when one repeats. */
static inline __attribute__((always_inline)) int members(yyjson_val *obj, const key_name *keys, int nkeys,
                                                         yyjson_val **found) {
    for (int j = 0; j < nkeys; j++) found[j] = NULL;
    size_t idx, max;
    yyjson_val *key, *val;
    yyjson_obj_foreach(obj, idx, max, key, val) {
        size_t len = yyjson_get_len(key);
        for (int j = 0; j < nkeys; j++) {
            if (len == keys[j].len && same_bytes(yyjson_get_str(key), keys[j].text, len)) {
                if (found[j]) return -1;
                found[j] = val;
                break;
            }
        }
    }
    return 0;
}

static const key_name META_KEYS[] = {KEY("type"), KEY("class-name"), KEY("class-map"), KEY("objects")};
static const key_name VALUE_KEYS[] = {KEY("image_size"), KEY("annotations")};
static const key_name SIZE_KEYS[] = {KEY("width"), KEY("height")};
static const key_name BOX_KEYS[] = {KEY("class_id"), KEY("top"), KEY("left"), KEY("width"), KEY("height")};
static const key_name CONFIDENCE_KEY[] = {KEY("confidence")};
static const key_name NOT_ATTRIBUTES[] = {KEY("source-ref"), KEY("cl-metadata"), KEY("errors"), KEY("cl-errors"),
                                          KEY("warnings")};

/* One object-detection attribute; returns its boxes (an upper bound on its labels) or -1. */
static int detection(yyjson_val *value, yyjson_val *class_map, yyjson_val *objects) {
    size_t idx, max;
    yyjson_val *key, *val;
    /* class-map: an object of unique keys, each naming a label of 1 to 256 characters; the keys
       that are integers as Python's str(int) writes them are kept as numbers for the lookup */
    if (!yyjson_is_obj(class_map) || yyjson_obj_size(class_map) > MAX_CLASSES) return -1;
    yyjson_val *classes[MAX_CLASSES];
    int64_t ids[MAX_CLASSES];
    size_t nclasses = 0, nids = 0;
    yyjson_obj_foreach(class_map, idx, max, key, val) {
        if (!is_name(val)) return -1;
        for (size_t j = 0; j < nclasses; j++)
            if (same_str(classes[j], key)) return -1;
        classes[nclasses++] = key;
        int64_t id;
        if (integer_key(key, &id)) ids[nids++] = id;
    }
    /* objects: a list (absent: empty); objects[i] must hold a finite numeric confidence */
    uint64_t confident = 0; /* bit i: objects[i] is fine, i < 50 */
    if (objects) {
        if (!yyjson_is_arr(objects)) return -1;
        yyjson_arr_foreach(objects, idx, max, val) {
            if (idx >= MAX_BOXES) break;
            yyjson_val *c;
            double confidence;
            if (yyjson_is_obj(val) && members(val, CONFIDENCE_KEY, 1, &c) == 0 && c && number(c, &confidence))
                confident |= (uint64_t)1 << idx;
        }
    }
    /* the value: image_size and annotations lists, the image 64 to 4096 px a side */
    yyjson_val *parts[2], *side[2];
    if (!yyjson_is_obj(value) || members(value, VALUE_KEYS, 2, parts)) return -1;
    yyjson_val *sizes = parts[0], *boxes = parts[1];
    if (!yyjson_is_arr(sizes) || !yyjson_is_arr(boxes) || yyjson_arr_size(boxes) > MAX_BOXES) return -1;
    yyjson_val *size = yyjson_arr_get_first(sizes);
    double width, height;
    if (!yyjson_is_obj(size) || members(size, SIZE_KEYS, 2, side) || !side[0] || !side[1]) return -1;
    if (!number(side[0], &width) || !number(side[1], &height)) return -1;
    if (!(width >= MIN_SIDE && width <= MAX_SIDE && height >= MIN_SIDE && height <= MAX_SIDE)) return -1;
    /* each box: numeric fields, a class id in the class-map, inside the image, >= 1x1 px at 1280 */
    double right = width + EDGE_SLACK, bottom = height + EDGE_SLACK;
    double scale = BOX_CHECK_MAX_SIDE / (width > height ? width : height);
    if (!(scale < 1.0)) scale = 1.0;
    yyjson_arr_foreach(boxes, idx, max, val) {
        yyjson_val *field[5];
        double v[5];
        if (!yyjson_is_obj(val) || !(confident & ((uint64_t)1 << idx)) || members(val, BOX_KEYS, 5, field)) return -1;
        for (int j = 0; j < 5; j++)
            if (!field[j] || !number(field[j], &v[j])) return -1;
        /* class_id: a small integer, found among the keys that are an integer's digits (Python looks
           up str(int(float(x)))) */
        int64_t id;
        if (yyjson_is_uint(field[0]) && yyjson_get_uint(field[0]) <= (uint64_t)MAX_EXACT_INTEGER)
            id = (int64_t)yyjson_get_uint(field[0]);
        else if (yyjson_is_sint(field[0]) && yyjson_get_sint(field[0]) >= -MAX_EXACT_INTEGER)
            id = yyjson_get_sint(field[0]);
        else
            return -1;
        int known = 0;
        for (size_t j = 0; j < nids && !known; j++) known = ids[j] == id;
        if (!known) return -1;
        double top = v[1], left = v[2], w = v[3], h = v[4];
        if (top < 0 || left < 0 || w < 0 || h < 0) return -1;
        if (left + w > right || top + h > bottom) return -1;
        if (w * scale < 1 || h * scale < 1) return -1;
    }
    return (int)yyjson_arr_size(boxes);
}

static int named(yyjson_val *key, const key_name *names, int count) {
    for (int j = 0; j < count; j++)
        if (str_eq(key, names[j].text, names[j].len)) return 1;
    return 0;
}

/* The value of key + "-metadata" among the line's keys, NULL when there is none. */
static yyjson_val *metadata_of(yyjson_val *key, yyjson_val **keys, yyjson_val **values, size_t nkeys) {
    const size_t suffix = sizeof(SUFFIX) - 1;
    const char *name = yyjson_get_str(key);
    size_t len = yyjson_get_len(key);
    for (size_t b = 0; b < nkeys; b++) {
        const char *other = yyjson_get_str(keys[b]);
        if (yyjson_get_len(keys[b]) == len + suffix && same_bytes(other + len, SUFFIX, suffix) &&
            same_bytes(other, name, len))
            return values[b];
    }
    return NULL;
}

/* The label rules of one line (metas[a]: metadata_of(keys[a])): 0 when clean. */
static int label_rules(yyjson_val **keys, yyjson_val **values, yyjson_val **metas, size_t nkeys) {
    size_t labels = 0, attributes = 0;
    for (size_t a = 0; a < nkeys; a++) {
        yyjson_val *meta = metas[a];
        if (!meta || named(keys[a], NOT_ATTRIBUTES, 5)) continue;
        attributes++;
        yyjson_val *found[4];
        if (!yyjson_is_obj(meta) || members(meta, META_KEYS, 4, found) || !found[0]) return -1;
        if (str_eq(found[0], CLASSIFICATION, sizeof(CLASSIFICATION) - 1)) {
            if (!found[1] || !is_name(found[1])) return -1;
            labels += 1;
        } else if (str_eq(found[0], DETECTION, sizeof(DETECTION) - 1)) {
            int boxes = detection(values[a], found[2], found[3]);
            if (boxes < 0) return -1;
            labels += (size_t)boxes;
        } else {
            return -1;
        }
    }
    return (!attributes || labels > MAX_LABELS) ? -1 : 0;
}

/* Python converts a multi-label attribute (any key whose metadata object has the multi-label type):
   such a line is changed, so never certified. */
static int multilabel(yyjson_val **metas, size_t nkeys) {
    for (size_t a = 0; a < nkeys; a++) {
        yyjson_val *type;
        if (metas[a] && yyjson_is_obj(metas[a]) &&
            (members(metas[a], META_KEYS, 1, &type) || str_eq(type, MULTILABEL, sizeof(MULTILABEL) - 1)))
            return 1;
    }
    return 0;
}

/* Printable ASCII (0x20..0x7e) without '"' or '\\': JSON-encoded as itself, nothing invisible. */
static int printable(const uint8_t *s, size_t n) {
    const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) { /* eight bytes a step: a byte test sets its high bit */
        uint64_t w, q, b;
        memcpy(&w, s + i, 8);
        q = w ^ (0x22 * ones); /* zero bytes: '"' */
        b = w ^ (0x5C * ones); /* zero bytes: '\\' */
        uint64_t bad = (w - 0x20 * ones) | (w + 0x01 * ones) | (q - ones) | (b - ones);
        /* w - 0x20 borrows into a byte below 0x20; w + 1 carries into 0x7f..0xff; the zero tests
           catch '"' and '\\'. Each can also flag a neighbour: then the slow loop decides. */
        if ((bad | w) & high) break;
    }
    for (; i < n; i++)
        if (s[i] < 0x20 || s[i] > 0x7e || s[i] == '"' || s[i] == '\\') return 0;
    return 1;
}

static inline uint64_t hash_bytes(const uint8_t *s, uint64_t len) {
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ len; /* 8 bytes a step, then a splitmix64 finish */
    uint64_t i = 0, w;
    for (; i + 8 <= len; i += 8) {
        memcpy(&w, s + i, 8);
        h = (h ^ w) * 0x100000001b3ULL;
        h ^= h >> 29;
    }
    w = 0;
    for (uint64_t j = 0; i + j < len; j++) w |= (uint64_t)s[i + j] << (8 * j);
    h = (h ^ w) * 0x100000001b3ULL;
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return h;
}

/* The source-ref's hash, as the plan keeps it for every accepted line (both paths use this). */
int64_t lc_hash(const uint8_t *s, int64_t len) { return (int64_t)hash_bytes(s, (uint64_t)len); }

typedef struct {
    const uint8_t *bucket;
    size_t bucket_len;
    int64_t options;
    yyjson_alc alc;
} scanner;

/* CLEAN (the source-ref copied to ref, its length returned in ref_len) or UNSURE, for one line. */
static int check_line(scanner *sc, const uint8_t *s, size_t n, uint8_t *ref, size_t *ref_len) {
    yyjson_doc *doc = yyjson_read_opts((char *)s, n, 0, &sc->alc, NULL); /* not in situ: s is not written */
    if (!doc) return UNSURE;
    int status = UNSURE;
    yyjson_val *root = yyjson_doc_get_root(doc);
    size_t idx, max, nkeys = 0;
    yyjson_val *key, *val, *source_ref = NULL;
    yyjson_val *keys[MAX_TOP_KEYS], *values[MAX_TOP_KEYS];
    if (!yyjson_is_obj(root) || yyjson_obj_size(root) > MAX_TOP_KEYS) goto done;
    /* nesting: at most one level per container, so per value; count brackets, walk only if needed */
    if (yyjson_doc_get_val_count(doc) > MAX_DEPTH && brackets(s, n) > MAX_DEPTH && !depth_within(root, 1)) goto done;
    yyjson_obj_foreach(root, idx, max, key, val) {
        for (size_t j = 0; j < nkeys; j++)
            if (same_str(keys[j], key)) goto done; /* Python keeps the last; leave it to Python */
        keys[nkeys] = key;
        values[nkeys++] = val;
        if (str_eq(key, "source-ref", 10)) source_ref = val;
    }
    /* source-ref: printable ASCII (so no invisible characters, and JSON-encoded as itself),
       s3://bucket/key with a bucket free of '/' and spaces, and a key */
    if (!source_ref || !yyjson_is_str(source_ref)) goto done;
    const uint8_t *r = (const uint8_t *)yyjson_get_str(source_ref);
    size_t len = yyjson_get_len(source_ref);
    if (len < 8 || memcmp(r, "s3://", 5) != 0) goto done;
    if (!printable(r, len)) goto done;
    const uint8_t *first_slash = memchr(r + 5, '/', len - 5);
    if (!first_slash) goto done;
    size_t slash = (size_t)(first_slash - r);
    if (slash == 5 || slash + 1 >= len || memchr(r + 5, ' ', slash - 5)) goto done;
    yyjson_val *metas[MAX_TOP_KEYS];
    for (size_t a = 0; a < nkeys; a++) metas[a] = metadata_of(keys[a], keys, values, nkeys);
    if (multilabel(metas, nkeys)) goto done;
    if (sc->options & OPT_LABEL_RULES) {
        if (slash - 5 != sc->bucket_len || memcmp(r + 5, sc->bucket, sc->bucket_len) != 0) goto done;
        if (label_rules(keys, values, metas, nkeys)) goto done;
    }
    memcpy(ref, r, len);
    *ref_len = len;
    status = CLEAN;
done:
    yyjson_doc_free(doc);
    return status;
}

/*
 * Scan the lines of buf[pos:len] (LF-separated, the last one without LF; a CR before an LF is
 * not part of its line). For line i: status[i], its content starts[i]..ends[i] in buf, and for a
 * CLEAN line the hash of its source-ref and `"<source-ref>"\n` appended to refs (refs_ends[i] =
 * bytes written so far). refs needs (len - pos) + 3 * cap bytes. Lines over max_line bytes are
 * UNSURE. Returns the lines scanned: all of them, or -2 when there are more than cap (call again
 * with more room), or -1 when memory runs out.
 */
int64_t lc_scan(const uint8_t *buf, int64_t len, int64_t pos, const uint8_t *bucket, int64_t bucket_len,
                int64_t options, int64_t max_line, int64_t cap, uint8_t *status, int64_t *starts, int64_t *ends,
                int64_t *hashes, uint8_t *refs, int64_t *refs_ends) {
    scanner sc = {bucket, (size_t)bucket_len, options, {0}};
    /* The parser's memory for one line at a time, reused line after line (freed on return:
       callers' threads come and go). */
    size_t pool_size = yyjson_read_max_memory_usage((size_t)max_line, 0) + 4096;
    void *pool = malloc(pool_size);
    if (!pool || !yyjson_alc_pool_init(&sc.alc, pool, pool_size)) {
        free(pool);
        return -1;
    }
    int64_t lines = 0, written = 0;
    for (;;) {
        if (lines == cap) {
            free(pool);
            return -2;
        }
        const uint8_t *nl = pos < len ? memchr(buf + pos, '\n', (size_t)(len - pos)) : NULL;
        int64_t stop = nl ? (int64_t)(nl - buf) : len;
        int64_t end = stop;
        if (end > pos && buf[end - 1] == '\r') end--; /* the block's last line too: its LF was cut off */
        starts[lines] = pos;
        ends[lines] = end;
        size_t ref_len = 0;
        int st = UNSURE;
        if (end > pos && end - pos <= max_line)
            st = check_line(&sc, buf + pos, (size_t)(end - pos), refs + written + 1, &ref_len);
        status[lines] = (uint8_t)st;
        if (st == CLEAN) {
            uint8_t *ref = refs + written + 1;
            hashes[lines] = (int64_t)hash_bytes(ref, ref_len);
            refs[written] = '"';
            written += (int64_t)ref_len + 1;
            refs[written++] = '"';
            refs[written++] = '\n';
        } else {
            hashes[lines] = 0;
        }
        refs_ends[lines] = written;
        lines++;
        if (!nl) break;
        pos = stop + 1;
    }
    free(pool);
    return lines;
}

/* 1 when the n values are all different, 0 when one repeats, -1 without memory: the plan's
   "no image twice" check over every accepted line's source-ref hash, in one pass. */
int32_t lc_all_different(const int64_t *values, int64_t n) {
    size_t size = 16;
    while (size < (size_t)n * 2) size <<= 1;
    uint64_t *slots = calloc(size, sizeof(uint64_t)); /* 0: empty; the value 0 has its own flag */
    if (!slots) return -1;
    int zero = 0, result = 1;
    for (int64_t i = 0; i < n && result; i++) {
        uint64_t v = (uint64_t)values[i];
        if (!v) {
            result = !zero;
            zero = 1;
            continue;
        }
        size_t at = (size_t)((v * 0x9e3779b97f4a7c15ULL) >> 17) & (size - 1);
        while (slots[at] && slots[at] != v) at = (at + 1) & (size - 1);
        if (slots[at] == v) result = 0;
        slots[at] = v;
    }
    free(slots);
    return result;
}
