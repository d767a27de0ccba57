/*
 * The ABI test: a C program compiled against blobio 0.1.0's header (the
 * frozen copy beside this file, tests/abi/blobio.h) and linked with today's
 * libblobio.a still runs, for every function that remains. Nothing here
 * may call what 0.2.0 removed (blobio_s3_new, blobio_azure_new,
 * blobio_resilient_new); the rest of 0.1.0 is exercised on a local store:
 * every object call, lists, stat/exists/delete, the string, buffer and list
 * frees, the last-error accessors, the version, the path helpers, and the
 * S3-only and circuit calls that a local store answers UNSUPPORTED.
 * Structures the library fills (blobio_buffer, blobio_object_info) are
 * checked for writes past their 0.1.0 size.
 *
 * Built under ASan+UBSan with -Itests/abi (never -Iinclude) by
 * `make -C examples/c test-abi`, part of `make -C examples/c test`.
 */
#define _POSIX_C_SOURCE 200809L
/* The quoted include looks in this file's directory first: the 0.1.0 copy. */
#include "blobio.h"

#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "test_harness.h"

#if BLOBIO_VERSION_MAJOR != 0 || BLOBIO_VERSION_MINOR != 1 || BLOBIO_VERSION_PATCH != 0
#error "tests/abi/test_abi.c must be compiled against tests/abi/blobio.h (0.1.0)"
#endif

/* 0.1.0's config structs are complete types in this header (and only in
 * it): a sign that the frozen copy, not include/blobio.h, is in use. */
_Static_assert(sizeof(struct blobio_s3_config) > 0, "the 0.1.0 header declares blobio_s3_config");
_Static_assert(sizeof(struct blobio_object_info) == 24, "0.1.0's blobio_object_info is 24 bytes");
_Static_assert(sizeof(struct blobio_buffer) == 2 * sizeof(void *), "0.1.0's blobio_buffer");

static char dir[64];

/* A struct followed by guard bytes the library must never touch. */
#define GUARD 0xA5
#define GUARD_LEN 64

static bool guard_intact(const uint8_t *guard) {
    for (size_t i = 0; i < GUARD_LEN; i++) {
        if (guard[i] != GUARD) return false;
    }
    return true;
}

/* The counting pattern used by the sources and sinks below. */
static uint8_t byte_at(size_t i) { return (uint8_t)(i * 7u % 251u); }

struct source {
    size_t pos, len, stop_at; /* stop_at < len: fail (return 1) there */
    int rewinds;
};

static int32_t source_read(void *user, uint8_t *buf, size_t cap, size_t *out_n) {
    struct source *s = user;
    if (s->pos >= s->len) return 0; /* the end: *out_n stays 0 */
    if (s->pos >= s->stop_at) return 1;
    size_t n = s->len - s->pos;
    if (n > cap) n = cap;
    if (n > s->stop_at - s->pos) n = s->stop_at - s->pos;
    if (n > 1000) n = 1000;
    for (size_t i = 0; i < n; i++) buf[i] = byte_at(s->pos + i);
    s->pos += n;
    *out_n = n;
    return 0;
}

static int32_t source_rewind(void *user) {
    struct source *s = user;
    s->rewinds++;
    s->pos = 0;
    return 0;
}

struct sink {
    size_t seen;
    size_t from;
    bool ok;
};

static int32_t sink_write(void *user, const uint8_t *data, size_t len) {
    struct sink *k = user;
    for (size_t i = 0; i < len; i++) {
        if (data[i] != byte_at(k->from + k->seen + i)) k->ok = false;
    }
    k->seen += len;
    return 0;
}

static blobio_store *open_local(void) {
    blobio_store *store = NULL;
    CHECK_OK(blobio_local_new(dir, &store));
    CHECK(store != NULL);
    return store;
}

/* ------------------------------------------------------------------ tests */

static void test_version_and_status_names(void) {
    const char *v = blobio_version();
    CHECK(v != NULL);
    unsigned major = 0, minor = 0, patch = 0;
    CHECK(v && sscanf(v, "%u.%u.%u", &major, &minor, &patch) == 3);
    /* A newer library under an older program: same major (0.x), a minor
     * at least the header's. */
    CHECK(major == BLOBIO_VERSION_MAJOR && minor >= BLOBIO_VERSION_MINOR);
    printf("  header %d.%d.%d, library %s\n", BLOBIO_VERSION_MAJOR, BLOBIO_VERSION_MINOR,
           BLOBIO_VERSION_PATCH, v ? v : "(null)");
    /* Every 0.1.0 status keeps its value and its name. */
    static const struct {
        int32_t status;
        const char *name;
    } names[] = {
        {BLOBIO_STATUS_OK, "ok"},
        {BLOBIO_STATUS_NULL_ARGUMENT, "null_argument"},
        {BLOBIO_STATUS_INVALID_ARGUMENT, "invalid_argument"},
        {BLOBIO_STATUS_INVALID_PATH, "invalid_path"},
        {BLOBIO_STATUS_NOT_FOUND, "not_found"},
        {BLOBIO_STATUS_UNSUPPORTED, "unsupported"},
        {BLOBIO_STATUS_RESUME_NOT_SUPPORTED, "resume_not_supported"},
        {BLOBIO_STATUS_CALLBACK_ABORTED, "callback_aborted"},
        {BLOBIO_STATUS_PANIC, "panic"},
        {BLOBIO_STATUS_PRECONDITION_FAILED, "precondition_failed"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(blobio_status_str(names[i].status), names[i].name) != 0) {
            fprintf(stderr, "  [%s] status %d is named %s, expected %s\n", current_test,
                    (int)names[i].status, blobio_status_str(names[i].status), names[i].name);
            atomic_fetch_add(&failed_checks, 1);
        }
    }
    CHECK(BLOBIO_STATUS_PRECONDITION_FAILED == 18);
    CHECK(strcmp(blobio_status_str(12345), "unknown") == 0);
}

static void test_store_and_object_calls(void) {
    blobio_store *store = open_local();
    if (!store) return;
    CHECK(strcmp(blobio_store_kind(store), "local") == 0);
    CHECK(blobio_store_kind(NULL) == NULL);

    char *json = NULL;
    CHECK_OK(blobio_store_config_json(store, &json));
    CHECK(json && strstr(json, "\"base_path\"") != NULL);
    blobio_string_free(json);

    /* write / read */
    const char *text = "written by a 0.1.0 program";
    CHECK_OK(blobio_write(store, "abi/a.txt", (const uint8_t *)text, strlen(text)));
    struct {
        blobio_buffer buf;
        uint8_t guard[GUARD_LEN];
    } read_out;
    memset(&read_out, GUARD, sizeof read_out);
    CHECK_OK(blobio_read(store, "abi/a.txt", &read_out.buf));
    CHECK(read_out.buf.len == strlen(text) && memcmp(read_out.buf.data, text, read_out.buf.len) == 0);
    CHECK(guard_intact(read_out.guard));
    blobio_buffer_free(&read_out.buf);
    CHECK(read_out.buf.data == NULL && read_out.buf.len == 0);
    blobio_buffer_free(&read_out.buf); /* twice is harmless */
    blobio_buffer_free(NULL);

    /* write_from / read_to / read_to_at / read_range */
    enum { LEN = 50000 };
    struct source src = {0, LEN, LEN, 0};
    CHECK_OK(blobio_write_from(store, "abi/b.bin", source_read, &src, LEN));
    struct sink sink = {0, 0, true};
    uint64_t written = 0;
    CHECK_OK(blobio_read_to(store, "abi/b.bin", sink_write, &sink, &written));
    CHECK(written == LEN && sink.seen == LEN && sink.ok);
    sink = (struct sink){0, 40000, true};
    CHECK_OK(blobio_read_to_at(store, "abi/b.bin", 40000, sink_write, &sink, &written));
    CHECK(written == LEN - 40000 && sink.ok);
    uint8_t part[16];
    size_t n = 0;
    CHECK_OK(blobio_read_range(store, "abi/b.bin", 1000, part, sizeof part, &n));
    CHECK(n == sizeof part);
    for (size_t i = 0; i < n; i++) CHECK(part[i] == byte_at(1000 + i));
    CHECK_STATUS(blobio_read_range(store, "abi/b.bin", LEN, part, 1, &n),
                 BLOBIO_STATUS_INVALID_ARGUMENT);

    /* write_from_rewindable on a plain store: one attempt, no rewind. */
    src = (struct source){0, 3000, 3000, 0};
    CHECK_OK(blobio_write_from_rewindable(store, "abi/c.bin", source_read, source_rewind, &src, -1));
    CHECK(src.rewinds == 0);

    /* An interrupted write_from leaves a partial that append_from completes. */
    src = (struct source){0, 8000, 5000, 0};
    CHECK_STATUS(blobio_write_from(store, "abi/d.bin", source_read, &src, 8000),
                 BLOBIO_STATUS_CALLBACK_ABORTED);
    int64_t size = 0;
    CHECK_OK(blobio_stat(store, "abi/d.bin", &size));
    CHECK(size == 5000);
    src = (struct source){5000, 8000, 8000, 0};
    CHECK_OK(blobio_append_from(store, "abi/d.bin", source_read, &src, 3000));
    sink = (struct sink){0, 0, true};
    CHECK_OK(blobio_read_to(store, "abi/d.bin", sink_write, &sink, &written));
    CHECK(written == 8000 && sink.ok);

    /* stat / exists */
    CHECK_OK(blobio_stat(store, "abi/b.bin", &size));
    CHECK(size == LEN);
    CHECK_OK(blobio_stat(store, "abi/missing", &size));
    CHECK(size == -1);
    bool exists = false;
    CHECK_OK(blobio_exists(store, "abi/a.txt", &exists));
    CHECK(exists);

    /* list / list_directories */
    CHECK_OK(blobio_write(store, "abi/sub/e.txt", (const uint8_t *)"e", 1));
    struct blobio_list *keys = NULL;
    CHECK_OK(blobio_list(store, "abi/", &keys));
    CHECK(blobio_list_len(keys) == 5);
    CHECK(blobio_list_len(keys) == 5 && strcmp(blobio_list_get(keys, 0), "abi/a.txt") == 0);
    CHECK(blobio_list_len(keys) == 5 && strcmp(blobio_list_get(keys, 4), "abi/sub/e.txt") == 0);
    CHECK(blobio_list_get(keys, 5) == NULL);
    blobio_list_free(keys);
    CHECK(blobio_list_len(NULL) == 0 && blobio_list_get(NULL, 0) == NULL);
    blobio_list_free(NULL);
    struct blobio_list *dirs = NULL;
    CHECK_OK(blobio_list_directories(store, "abi", &dirs));
    CHECK(blobio_list_len(dirs) == 1 && blobio_list_get(dirs, 0) &&
          strcmp(blobio_list_get(dirs, 0), "sub") == 0);
    blobio_list_free(dirs);

    /* list_objects fills 0.1.0's blobio_object_info, and nothing past it. */
    blobio_object_list *objs = NULL;
    CHECK_OK(blobio_list_objects(store, "abi/b", &objs));
    CHECK(blobio_object_list_len(objs) == 1);
    struct {
        blobio_object_info info;
        uint8_t guard[GUARD_LEN];
    } info_out;
    memset(&info_out, GUARD, sizeof info_out);
    CHECK_OK(blobio_object_list_get(objs, 0, &info_out.info));
    CHECK(info_out.info.path && strcmp(info_out.info.path, "abi/b.bin") == 0);
    CHECK(info_out.info.size == LEN);
    CHECK(info_out.info.last_modified_unix_ms > 1600000000000LL);
    CHECK(guard_intact(info_out.guard));
    CHECK_STATUS(blobio_object_list_get(objs, 1, &info_out.info), BLOBIO_STATUS_INVALID_ARGUMENT);
    blobio_object_list_free(objs);
    CHECK(blobio_object_list_len(NULL) == 0);
    blobio_object_list_free(NULL);

    /* delete / delete_batch / remove_directory */
    CHECK_OK(blobio_delete(store, "abi/a.txt"));
    CHECK_OK(blobio_delete(store, "abi/a.txt")); /* missing: fine */
    CHECK_OK(blobio_exists(store, "abi/a.txt", &exists));
    CHECK(!exists);
    const char *batch[] = {"abi/b.bin", "abi/c.bin", "abi/d.bin", "abi/sub/e.txt", "abi/never"};
    CHECK_OK(blobio_delete_batch(store, batch, 5));
    CHECK_OK(blobio_list(store, "", &keys));
    CHECK(blobio_list_len(keys) == 0);
    blobio_list_free(keys);
    CHECK_OK(blobio_remove_directory(store, "abi/sub"));
    CHECK_OK(blobio_remove_directory(store, "abi"));
    blobio_store_free(store);
    blobio_store_free(NULL);
}

static void test_last_error_accessors(void) {
    blobio_store *store = open_local();
    if (!store) return;
    blobio_buffer buf = {0};
    CHECK_STATUS(blobio_read(store, "no/such/object", &buf), BLOBIO_STATUS_NOT_FOUND);
    CHECK(last_error_has("blobio_read") && last_error_has("no/such/object"));
    CHECK(blobio_last_error_http_status() == 0); /* no HTTP behind a local failure */
    CHECK(blobio_last_error_code() == NULL);
    CHECK(buf.data == NULL && buf.len == 0);
    CHECK_STATUS(blobio_write(store, "../escape", (const uint8_t *)"x", 1), BLOBIO_STATUS_INVALID_PATH);
    CHECK_STATUS(blobio_exists(store, NULL, NULL), BLOBIO_STATUS_NULL_ARGUMENT);
    CHECK(last_error_has("blobio_exists"));
    /* A success leaves the message alone. */
    CHECK_OK(blobio_write(store, "k", (const uint8_t *)"v", 1));
    CHECK(last_error_has("blobio_exists"));
    CHECK_OK(blobio_delete(store, "k"));
    CHECK_STATUS(blobio_local_new(NULL, &store), BLOBIO_STATUS_NULL_ARGUMENT);
    blobio_store_free(store);
}

static void test_path_helpers_and_string_frees(void) {
    blobio_store *store = open_local();
    if (!store) return;
    char *s = NULL;
    char expected[256];
    CHECK_OK(blobio_storage_path(store, "mydb", "cpu", &s));
    snprintf(expected, sizeof expected, "%s/mydb/cpu/**/*.parquet", dir);
    CHECK(s && strcmp(s, expected) == 0);
    blobio_string_free(s);
    CHECK_OK(blobio_local_base_path(store, "feature", "fallback", &s));
    CHECK(s && strcmp(s, dir) == 0);
    blobio_string_free(s);
    CHECK_OK(blobio_sanitize_s3_prefix(" /data/x ", &s));
    CHECK(s && strcmp(s, "data/x/") == 0);
    blobio_string_free(s);
    blobio_string_free(NULL);

    /* S3-only helpers and the circuit calls: UNSUPPORTED on a plain local
     * store, with the out-parameters left alone. */
    s = NULL;
    CHECK_STATUS(blobio_s3_path(store, "k", &s), BLOBIO_STATUS_UNSUPPORTED);
    CHECK_STATUS(blobio_s3_query_path(store, "db", "m", 2025, 1, -1, -1, &s),
                 BLOBIO_STATUS_UNSUPPORTED);
    CHECK(s == NULL);
    struct blobio_list *days = NULL;
    CHECK_STATUS(blobio_s3_query_path_range(store, "db", "m", 0, 86400, &days),
                 BLOBIO_STATUS_UNSUPPORTED);
    CHECK(days == NULL);
    int32_t state = -1;
    CHECK_STATUS(blobio_circuit_state(store, &state), BLOBIO_STATUS_UNSUPPORTED);
    CHECK(state == -1);
    CHECK_STATUS(blobio_circuit_reset(store), BLOBIO_STATUS_UNSUPPORTED);
    CHECK_STATUS(blobio_circuit_stats_json(store, &s), BLOBIO_STATUS_UNSUPPORTED);
    CHECK(s == NULL);
    blobio_store_free(store);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/blobio-c-abi-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 2;
    }
    static const struct test_case tests[] = {
        {"version_and_status_names", test_version_and_status_names},
        {"store_and_object_calls", test_store_and_object_calls},
        {"last_error_accessors", test_last_error_accessors},
        {"path_helpers_and_string_frees", test_path_helpers_and_string_frees},
    };
    int passed = 0, failed = 0;
    run_tests(tests, sizeof tests / sizeof tests[0], &passed, &failed);
    if (rmdir(dir) != 0) perror(dir);
    printf("\n%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
