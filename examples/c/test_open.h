/*
 * Helpers of the C tests for opening stores the way users configure them:
 * blobio_open() with a URL and string options. Included after
 * test_harness.h (directly or through store_checks.h), so the CHECKs count
 * in the including program.
 *
 *     struct blobio_options *o = new_options();
 *     SET_OPTION(o, "endpoint", endpoint);
 *     SET_OPTION_U64(o, "download_part_size", 1u << 20);
 *     blobio_store *store = open_url("s3://bucket/prefix", o);   (frees `o`)
 */
#ifndef BLOBIO_TEST_OPEN_H
#define BLOBIO_TEST_OPEN_H

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>

#include "test_harness.h"

/* Empty options; a failure counts as a failed check. */
static inline struct blobio_options *new_options(void) {
    struct blobio_options *opts = NULL;
    CHECK_OK(blobio_options_new(&opts));
    CHECK(opts != NULL);
    return opts;
}

/* Sets one option, checked where it is written. */
#define SET_OPTION(opts, key, value) CHECK_OK(blobio_options_set((opts), (key), (value)))

/* Sets an option to a whole number. */
#define SET_OPTION_U64(opts, key, n)                                                         \
    do {                                                                                     \
        char n_text_[32];                                                                    \
        snprintf(n_text_, sizeof n_text_, "%" PRIu64, (uint64_t)(n));                        \
        SET_OPTION((opts), (key), n_text_);                                                  \
    } while (0)

/* Opens `url` with `opts` (NULL: none), which it then frees; the store is
 * the caller's, NULL when the open failed (a failed check). */
static inline blobio_store *open_url(const char *url, struct blobio_options *opts) {
    blobio_store *store = NULL;
    blobio_status st = blobio_open(url, opts, &store);
    if (st != BLOBIO_STATUS_OK) {
        fprintf(stderr, "  [%s] blobio_open(\"%s\") gave %s: %s\n", current_test, url,
                blobio_status_str(st), blobio_last_error_message());
        atomic_fetch_add(&failed_checks, 1);
    }
    CHECK((st == BLOBIO_STATUS_OK) == (store != NULL));
    blobio_options_free(opts);
    return store;
}

/* blobio_open() that must fail with `want`, leaving the store NULL and
 * naming `needle` (when not NULL) in the last error; frees `opts`. */
static inline void open_fails(const char *url, struct blobio_options *opts, blobio_status want,
                              const char *needle) {
    blobio_store *store = NULL;
    blobio_status st = blobio_open(url, opts, &store);
    if (st != want) {
        fprintf(stderr, "  [%s] blobio_open(\"%s\") gave %s, expected %s: %s\n", current_test,
                url, blobio_status_str(st), blobio_status_str(want), blobio_last_error_message());
        atomic_fetch_add(&failed_checks, 1);
    } else if (needle && !last_error_has(needle)) {
        fprintf(stderr, "  [%s] blobio_open(\"%s\"): the message does not name \"%s\": %s\n",
                current_test, url, needle, blobio_last_error_message());
        atomic_fetch_add(&failed_checks, 1);
    }
    CHECK(store == NULL);
    blobio_store_free(store);
    blobio_options_free(opts);
}

/* Whether the store's setting `key` reads back as `want`. */
static inline bool option_is(const blobio_store *store, const char *key, const char *want) {
    char *got = NULL;
    blobio_status st = blobio_store_option(store, key, &got);
    bool ok = st == BLOBIO_STATUS_OK && got && strcmp(got, want) == 0;
    if (!ok) {
        fprintf(stderr, "  [%s] blobio_store_option(\"%s\") gave %s \"%s\", expected \"%s\"%s%s\n",
                current_test, key, blobio_status_str(st), got ? got : "(none)", want,
                st == BLOBIO_STATUS_OK ? "" : ": ", st == BLOBIO_STATUS_OK ? "" : blobio_last_error_message());
    }
    blobio_string_free(got);
    return ok;
}

/* Whether reading back `key` is refused with `want`, leaving `out` alone. */
static inline bool option_refused(const blobio_store *store, const char *key, blobio_status want) {
    char *got = (char *)"untouched";
    blobio_status st = blobio_store_option(store, key, &got);
    bool ok = st == want && strcmp(got, "untouched") == 0;
    if (!ok) {
        fprintf(stderr, "  [%s] blobio_store_option(\"%s\") gave %s, expected %s\n", current_test,
                key, blobio_status_str(st), blobio_status_str(want));
        if (st == BLOBIO_STATUS_OK) blobio_string_free(got);
    }
    return ok;
}

#endif
