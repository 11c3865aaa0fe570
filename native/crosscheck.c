/*
 * A command-line driver of linecheck.c, built statically so the arm64 build can run under
 * qemu-aarch64 on any machine (native/crosscheck.py compares it with this machine's library).
 *
 *     crosscheck LABEL_RULES BUCKET MAX_LINE < lines
 *
 * Reads every byte of stdin as one block and prints, per line: the status, the source-ref
 * hash in hex and, for a CLEAN line, its source-refs side-file bytes (without the newline).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int64_t lc_scan(const uint8_t *buf, int64_t len, int64_t pos, const uint8_t *bucket, int64_t bucket_len,
                int64_t options, int64_t max_line, int64_t cap, uint8_t *status, int64_t *starts, int64_t *ends,
                int64_t *hashes, uint8_t *refs, int64_t *refs_ends);

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: crosscheck LABEL_RULES BUCKET MAX_LINE < lines\n");
        return 2;
    }
    size_t size = 0, room = 1 << 20;
    uint8_t *buf = malloc(room);
    for (size_t got; buf && (got = fread(buf + size, 1, room - size, stdin)) > 0;) {
        size += got;
        if (size == room) buf = realloc(buf, room *= 2);
    }
    if (!buf) return 3;
    int64_t cap = 1024, count;
    uint8_t *status = NULL, *refs = NULL;
    int64_t *starts = NULL, *ends = NULL, *hashes = NULL, *refs_ends = NULL;
    do {
        cap *= 2;
        status = realloc(status, (size_t)cap);
        starts = realloc(starts, 8 * (size_t)cap);
        ends = realloc(ends, 8 * (size_t)cap);
        hashes = realloc(hashes, 8 * (size_t)cap);
        refs_ends = realloc(refs_ends, 8 * (size_t)cap);
        refs = realloc(refs, size + 3 * (size_t)cap + 1);
        if (!status || !starts || !ends || !hashes || !refs_ends || !refs) return 3;
        count = lc_scan(buf, (int64_t)size, 0, (const uint8_t *)argv[2], (int64_t)strlen(argv[2]), atoi(argv[1]),
                        atoll(argv[3]), cap, status, starts, ends, hashes, refs, refs_ends);
    } while (count == -2);
    if (count < 0) return 3;
    for (int64_t i = 0; i < count; i++) {
        int64_t from = i ? refs_ends[i - 1] : 0;
        printf("%d %016llx ", status[i], (unsigned long long)hashes[i]);
        if (refs_ends[i] > from) fwrite(refs + from, 1, (size_t)(refs_ends[i] - from - 1), stdout);
        putchar('\n');
    }
    return 0;
}
