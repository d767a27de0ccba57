/*
 * The check of blobio_read_ranges() shared by the C tests of every store
 * (test_blobio.c on the local store, test_s3.c on s3s-fs, test_azure.c on
 * Azurite). Included after test_harness.h, so the CHECKs count in the
 * including program.
 */
#ifndef BLOBIO_RANGE_CHECKS_H
#define BLOBIO_RANGE_CHECKS_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "test_harness.h"

/* blobio_range is frozen: these are its layout for good. */
_Static_assert(offsetof(blobio_range, offset) == 0, "blobio_range.offset moved");
_Static_assert(offsetof(blobio_range, length) == 8, "blobio_range.length moved");
_Static_assert(offsetof(blobio_range, data) == 8 + sizeof(size_t), "blobio_range.data moved");
_Static_assert(offsetof(blobio_range, read) == 8 + sizeof(size_t) + sizeof(void *),
               "blobio_range.read moved");
_Static_assert(sizeof(blobio_range) == 8 + 2 * sizeof(size_t) + sizeof(void *),
               "blobio_range grew");

/* Byte i of the object the range checks write. */
static inline uint8_t range_byte(size_t i) {
    return (uint8_t)((i * 131u + (i >> 12)) & 0xff);
}

/* Writes an object of 3 MiB + 5 bytes at `path`, reads ranges of it in one
 * call (unordered, overlapping, one short at the end, one empty) and
 * checks each; then what the call refuses. Deletes the object. */
static inline void check_read_ranges(blobio_store *store, const char *path) {
    const size_t size = (3u << 20) + 5u;
    uint8_t *data = malloc(size);
    CHECK(data != NULL);
    if (!data) return;
    for (size_t i = 0; i < size; i++) data[i] = range_byte(i);
    CHECK_OK(blobio_write(store, path, data, size));

    enum { N = 7 };
    const uint64_t offsets[N] = {2u << 20, 10, 60, size - 3, 1500000, 777, 1u << 20};
    const size_t lengths[N] = {5000, 100, 100, 50, 900000, 0, 1};
    uint8_t *bufs[N];
    blobio_range ranges[N];
    for (size_t i = 0; i < N; i++) {
        bufs[i] = lengths[i] ? malloc(lengths[i]) : NULL;
        if (lengths[i]) memset(bufs[i], 0xEE, lengths[i]);
        ranges[i] = (blobio_range){.offset = offsets[i], .length = lengths[i], .data = bufs[i],
                                   .read = 12345};
    }
    CHECK_OK(blobio_read_ranges(store, path, ranges, N));
    for (size_t i = 0; i < N; i++) {
        size_t want = lengths[i];
        if (offsets[i] + want > size) want = size - (size_t)offsets[i];
        CHECK(ranges[i].read == want);
        CHECK(want == 0 || memcmp(bufs[i], data + offsets[i], want) == 0);
    }

    /* Nothing asked; NULL arrays; NULL destinations. */
    CHECK_OK(blobio_read_ranges(store, path, NULL, 0));
    CHECK_STATUS(blobio_read_ranges(store, path, NULL, 2), BLOBIO_STATUS_NULL_ARGUMENT);
    blobio_range one = {.offset = 0, .length = 4, .data = NULL, .read = 0};
    CHECK_STATUS(blobio_read_ranges(store, path, &one, 1), BLOBIO_STATUS_NULL_ARGUMENT);
    CHECK(last_error_has("ranges[0].data"));
    CHECK_STATUS(blobio_read_ranges(NULL, path, ranges, N), BLOBIO_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(blobio_read_ranges(store, NULL, ranges, N), BLOBIO_STATUS_NULL_ARGUMENT);

    /* Two destinations that overlap would be written twice at once. */
    uint8_t shared[64];
    blobio_range overlapping[2] = {
        {.offset = 0, .length = 32, .data = shared, .read = 0},
        {.offset = 100, .length = 32, .data = shared + 16, .read = 0},
    };
    CHECK_STATUS(blobio_read_ranges(store, path, overlapping, 2), BLOBIO_STATUS_INVALID_ARGUMENT);
    CHECK(last_error_has("overlap"));

    /* One range past the end fails the call; no range counts as read. */
    ranges[1].offset = size;
    CHECK_STATUS(blobio_read_ranges(store, path, ranges, N), BLOBIO_STATUS_INVALID_ARGUMENT);
    for (size_t i = 0; i < N; i++) CHECK(ranges[i].read == 0);

    /* A missing object. */
    ranges[1].offset = 10;
    CHECK_STATUS(blobio_read_ranges(store, "never/written/object", ranges, N),
                 BLOBIO_STATUS_NOT_FOUND);

    for (size_t i = 0; i < N; i++) free(bufs[i]);
    free(data);
    CHECK_OK(blobio_delete(store, path));
}

#endif
