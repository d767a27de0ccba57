/*
 * C tests of the blobio C ABI: every function in include/blobio.h, its
 * failure paths (NULL arguments, bad UTF-8, missing keys, traversal,
 * aborting callbacks, offsets at and past the end) and 8 threads sharing one
 * store. Built and run by `make -C examples/c test`, under ASan+UBSan and
 * under valgrind. Each test works in its own directory under one mkdtemp()
 * directory, which is removed at the end.
 *
 * Prints one line per test and closes with "N passed, N failed".
 */
#define _XOPEN_SOURCE 700 /* mkdtemp, nftw */
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "blobio.h"

#include "test_harness.h"
#include "range_checks.h"
#include "store_checks.h"

static char root_dir[256];

/* A fresh directory path for one test (the store creates it). */
static void test_dir(char *out, size_t cap, const char *name) {
    snprintf(out, cap, "%s/%s", root_dir, name);
}

static blobio_store *open_store(const char *name) {
    char dir[512];
    test_dir(dir, sizeof dir, name);
    blobio_store *store = NULL;
    CHECK_OK(blobio_local_new(dir, &store));
    CHECK(store != NULL);
    return store;
}

static void fill_pattern(uint8_t *buf, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) {
        buf[i] = (uint8_t)((i * 31u + seed * 7u + (i >> 8)) & 0xffu);
    }
}

static bool file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* Reads a whole object and compares it with `want`. */
static void check_content(blobio_store *store, const char *path, const uint8_t *want, size_t len) {
    blobio_buffer buf = {NULL, 0};
    CHECK_OK(blobio_read(store, path, &buf));
    CHECK(buf.len == len);
    if (buf.len == len && len > 0) {
        CHECK(buf.data != NULL);
        CHECK(memcmp(buf.data, want, len) == 0);
    }
    blobio_buffer_free(&buf);
}

/* ------------------------------------------------------- callback helpers */

/* Serves `len` bytes of `data` in chunks of at most `chunk`; returns
 * `fail_code` once `fail_after` bytes were served (when fail_after >= 0). */
struct source {
    const uint8_t *data;
    size_t len;
    size_t pos;
    size_t chunk;
    long fail_after;
    int32_t fail_code;
    size_t overrun; /* when non-zero, report cap + overrun bytes */
    int calls;
};

static int32_t source_read(void *user, uint8_t *buf, size_t cap, size_t *out_n) {
    struct source *src = user;
    src->calls++;
    if (*out_n != 0) {
        return 99; /* blobio promises *out_n == 0 on entry */
    }
    if (src->overrun) {
        *out_n = cap + src->overrun;
        return 0;
    }
    if (src->fail_after >= 0 && src->pos >= (size_t)src->fail_after) {
        return src->fail_code;
    }
    size_t n = src->len - src->pos;
    if (n > cap) n = cap;
    if (n > src->chunk) n = src->chunk;
    if (src->fail_after >= 0 && src->pos + n > (size_t)src->fail_after) {
        n = (size_t)src->fail_after - src->pos;
    }
    memcpy(buf, src->data + src->pos, n);
    src->pos += n;
    *out_n = n;
    return 0;
}

static struct source make_source(const uint8_t *data, size_t len, size_t chunk) {
    struct source s = {data, len, 0, chunk, -1, 0, 0, 0};
    return s;
}

/* Collects streamed chunks; returns `fail_code` once `fail_after_calls`
 * chunks were taken (when >= 0). */
struct sink {
    uint8_t *data;
    size_t len;
    size_t cap;
    int calls;
    int fail_after_calls;
    int32_t fail_code;
};

static int32_t sink_write(void *user, const uint8_t *data, size_t len) {
    struct sink *s = user;
    if (s->fail_after_calls >= 0 && s->calls >= s->fail_after_calls) {
        return s->fail_code;
    }
    s->calls++;
    if (s->len + len > s->cap) {
        size_t cap = s->cap ? s->cap : 1024;
        while (cap < s->len + len) cap *= 2;
        uint8_t *grown = realloc(s->data, cap);
        if (!grown) return -1;
        s->data = grown;
        s->cap = cap;
    }
    if (len) memcpy(s->data + s->len, data, len);
    s->len += len;
    return 0;
}

static struct sink make_sink(void) {
    struct sink s = {NULL, 0, 0, 0, -1, 0};
    return s;
}

static void sink_free(struct sink *s) {
    free(s->data);
    s->data = NULL;
}

static int32_t never_called_write(void *user, const uint8_t *data, size_t len) {
    (void)data;
    (void)len;
    (*(int *)user)++;
    return 0;
}

static int32_t empty_source(void *user, uint8_t *buf, size_t cap, size_t *out_n) {
    (void)user;
    (void)buf;
    (void)cap;
    *out_n = 0;
    return 0;
}

/* ------------------------------------------------------------------ tests */

static void test_version(void) {
    char want[64];
    snprintf(want, sizeof want, "%d.%d.%d", BLOBIO_VERSION_MAJOR, BLOBIO_VERSION_MINOR,
             BLOBIO_VERSION_PATCH);
    const char *v = blobio_version();
    CHECK(v != NULL);
    /* The library may carry a pre-release suffix after the numbers. */
    CHECK(strncmp(v, want, strlen(want)) == 0);
    CHECK(v == blobio_version()); /* static */
}

static void test_status_str_names_every_value(void) {
    static const struct {
        blobio_status status;
        int value;
        const char *name;
    } table[] = {
        {BLOBIO_STATUS_OK, 0, "ok"},
        {BLOBIO_STATUS_NULL_ARGUMENT, 1, "null_argument"},
        {BLOBIO_STATUS_INVALID_ARGUMENT, 2, "invalid_argument"},
        {BLOBIO_STATUS_INVALID_PATH, 3, "invalid_path"},
        {BLOBIO_STATUS_NOT_FOUND, 4, "not_found"},
        {BLOBIO_STATUS_ALREADY_EXISTS, 5, "already_exists"},
        {BLOBIO_STATUS_PERMISSION_DENIED, 6, "permission_denied"},
        {BLOBIO_STATUS_UNSUPPORTED, 7, "unsupported"},
        {BLOBIO_STATUS_RESUME_NOT_SUPPORTED, 8, "resume_not_supported"},
        {BLOBIO_STATUS_CIRCUIT_OPEN, 9, "circuit_open"},
        {BLOBIO_STATUS_TIMEOUT, 10, "timeout"},
        {BLOBIO_STATUS_NETWORK, 11, "network"},
        {BLOBIO_STATUS_SERVER, 12, "server"},
        {BLOBIO_STATUS_IO, 13, "io"},
        {BLOBIO_STATUS_CALLBACK_ABORTED, 14, "callback_aborted"},
        {BLOBIO_STATUS_CANCELLED, 15, "cancelled"},
        {BLOBIO_STATUS_PANIC, 16, "panic"},
        {BLOBIO_STATUS_OTHER, 17, "other"},
        {BLOBIO_STATUS_PRECONDITION_FAILED, 18, "precondition_failed"},
        {BLOBIO_STATUS_CHECKSUM_MISMATCH, 19, "checksum_mismatch"},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        CHECK((int)table[i].status == table[i].value);
        const char *name = blobio_status_str(table[i].status);
        CHECK(name != NULL && strcmp(name, table[i].name) == 0);
    }
    CHECK(strcmp(blobio_status_str(20), "unknown") == 0);
    CHECK(strcmp(blobio_status_str(-1), "unknown") == 0);
    CHECK(strcmp(blobio_status_str(INT32_MAX), "unknown") == 0);
}

static void *fresh_thread_last_error(void *arg) {
    bool *ok = arg;
    *ok = strcmp(blobio_last_error_message(), "") == 0 && blobio_last_error_http_status() == 0 &&
          blobio_last_error_code() == NULL;
    return NULL;
}

static void test_last_error_is_per_thread_and_kept_after_success(void) {
    blobio_store *store = open_store("last_error");
    blobio_buffer buf = {NULL, 0};
    CHECK_STATUS(blobio_read(store, "missing/key.bin", &buf), BLOBIO_STATUS_NOT_FOUND);
    CHECK(last_error_has("blobio_read"));
    CHECK(last_error_has("missing/key.bin"));
    CHECK(blobio_last_error_http_status() == 0); /* a local error has no HTTP status */
    CHECK(blobio_last_error_code() == NULL);

    /* A success leaves the last failure in place. */
    bool exists = true;
    CHECK_OK(blobio_exists(store, "missing/key.bin", &exists));
    CHECK(last_error_has("missing/key.bin"));

    /* Another thread does not see this thread's failure. */
    pthread_t t;
    bool fresh_ok = false;
    CHECK(pthread_create(&t, NULL, fresh_thread_last_error, &fresh_ok) == 0);
    CHECK(pthread_join(t, NULL) == 0);
    CHECK(fresh_ok);
    blobio_store_free(store);
}

static void test_local_new(void) {
    char dir[512];
    test_dir(dir, sizeof dir, "local_new/nested/deeper");
    blobio_store *sentinel = (blobio_store *)(uintptr_t)0x1;
    blobio_store *store = sentinel;

    CHECK_STATUS(blobio_local_new(NULL, &store), BLOBIO_STATUS_NULL_ARGUMENT);
    CHECK(last_error_has("base_path"));
    CHECK(store == sentinel);
    CHECK_STATUS(blobio_local_new(dir, NULL), BLOBIO_STATUS_NULL_ARGUMENT);
    CHECK(last_error_has("out"));
    CHECK(!file_exists(dir)); /* arguments are checked before anything is done */
    CHECK_STATUS(blobio_local_new("bad\xff/utf8", &store), BLOBIO_STATUS_INVALID_ARGUMENT);
    CHECK(last_error_has("UTF-8"));
    CHECK_STATUS(blobio_local_new("", &store), BLOBIO_STATUS_INVALID_ARGUMENT);
    CHECK(store == sentinel);

    /* A regular file is not a directory. */
    char file[600];
    snprintf(file, sizeof file, "%s/a-file", root_dir);
    FILE *f = fopen(file, "w");
    CHECK(f != NULL);
    if (f) fclose(f);
    CHECK(blobio_local_new(file, &store) != BLOBIO_STATUS_OK);
    CHECK(store == sentinel);
    unlink(file);

    /* Missing directories are created. */
    store = NULL;
    CHECK_OK(blobio_local_new(dir, &store));
    CHECK(store != NULL);
    CHECK(file_exists(dir));
    CHECK(strcmp(blobio_store_kind(store), "local") == 0);
    CHECK(blobio_store_kind(NULL) == NULL);
    blobio_store_free(store);
    blobio_store_free(NULL);
}

static void test_config_json(void) {
    blobio_store *store = open_store("config_json");
    char *json = (char *)(uintptr_t)0x1;
    CHECK_STATUS(blobio_store_config_json(NULL, &json), BLOBIO_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(blobio_store_config_json(store, NULL), BLOBIO_STATUS_NULL_ARGUMENT);
    CHECK(json == (char *)(uintptr_t)0x1);
    json = NULL;
    CHECK_OK(blobio_store_config_json(store, &json));
    CHECK(json != NULL);
    if (json) {
        CHECK(json[0] == '{');
        CHECK(strstr(json, "base_path") != NULL);
        CHECK(strstr(json, "config_json") != NULL);
    }
    blobio_string_free(json);
    blobio_string_free(NULL);
    blobio_store_free(store);
}

static void test_write_and_read(void) {
    blobio_store *store = open_store("write_read");
    uint8_t data[3000];
    fill_pattern(data, sizeof data, 1);

    CHECK_OK(blobio_write(store, "db/m/a.bin", data, sizeof data));
    check_content(store, "db/m/a.bin", data, sizeof data);

    /* Overwrite replaces the whole object. */
    CHECK_OK(blobio_write(store, "db/m/a.bin", data + 10, 100));
    check_content(store, "db/m/a.bin", data + 10, 100);

    /* A leading '/' is ignored: the same key. */
    check_content(store, "/db/m/a.bin", data + 10, 100);

    /* Empty objects: NULL data is fine with len 0; they read back as {NULL, 0}. */
    CHECK_OK(blobio_write(store, "empty", NULL, 0));
    blobio_buffer buf = {(uint8_t *)(uintptr_t)0x1, 7};
    CHECK_OK(blobio_read(store, "empty", &buf));
    CHECK(buf.data == NULL && buf.len == 0);
    blobio_buffer_free(&buf);

    /* Missing objects: NOT_FOUND, and the output is left alone. */
    blobio_buffer untouched = {(uint8_t *)(uintptr_t)0x1, 42};
    CHECK_STATUS(blobio_read(store, "db/m/missing.bin", &untouched), BLOBIO_STATUS_NOT_FOUND);
    CHECK(untouched.data == (uint8_t *)(uintptr_t)0x1 && untouched.len == 42);
    CHECK(last_error_has("db/m/missing.bin"));

    /* Freeing twice, or NULL, is harmless. */
    CHECK_OK(blobio_read(store, "db/m/a.bin", &buf));
    blobio_buffer_free(&buf);
    CHECK(buf.data == NULL && buf.len == 0);
    blobio_buffer_free(&buf);
    blobio_buffer_free(NULL);

    /* Keys ending in .part are reserved for staged writes on the local store. */
    CHECK_STATUS(blobio_write(store, "x.part", data, 1), BLOBIO_STATUS_INVALID_PATH);
    blobio_store_free(store);
}

static void test_null_and_invalid_arguments(void) {
    blobio_store *store = open_store("null_args");
    const uint8_t byte = 7;
    uint8_t dst[8];
    size_t n = 0;
    int64_t size = 0;
    bool exists = false;
    uint64_t written = 0;
    blobio_buffer buf = {NULL, 0};
    struct blobio_list *list = NULL;
    blobio_object_list *objects = NULL;
    blobio_object_info info;
    char *s = NULL;
    struct source src = make_source(&byte, 1, 1);
    int calls = 0;
    const char *bad = "bad\xc3(utf8";
    const blobio_status NUL = BLOBIO_STATUS_NULL_ARGUMENT;
    const blobio_status INV = BLOBIO_STATUS_INVALID_ARGUMENT;

    CHECK_OK(blobio_write(store, "k", &byte, 1));

    CHECK_STATUS(blobio_write(NULL, "k", &byte, 1), NUL);
    CHECK(last_error_has("blobio_write") && last_error_has("`store`"));
    CHECK_STATUS(blobio_write(store, NULL, &byte, 1), NUL);
    CHECK(last_error_has("`path`"));
    CHECK_STATUS(blobio_write(store, "k", NULL, 1), NUL);
    CHECK(last_error_has("`data`"));
    CHECK_STATUS(blobio_write(store, bad, &byte, 1), INV);

    CHECK_STATUS(blobio_write_from(NULL, "k", source_read, &src, -1), NUL);
    CHECK_STATUS(blobio_write_from(store, NULL, source_read, &src, -1), NUL);
    CHECK_STATUS(blobio_write_from(store, "k", NULL, &src, -1), NUL);
    CHECK(last_error_has("`cb`"));
    CHECK_STATUS(blobio_write_from(store, bad, source_read, &src, -1), INV);
    CHECK_STATUS(blobio_write_from(store, "k", source_read, &src, -2), INV);
    CHECK(src.calls == 0);

    CHECK_STATUS(blobio_append_from(NULL, "k", source_read, &src, 1), NUL);
    CHECK_STATUS(blobio_append_from(store, NULL, source_read, &src, 1), NUL);
    CHECK_STATUS(blobio_append_from(store, "k", NULL, &src, 1), NUL);
    CHECK_STATUS(blobio_append_from(store, bad, source_read, &src, 1), INV);

    CHECK_STATUS(blobio_read(NULL, "k", &buf), NUL);
    CHECK_STATUS(blobio_read(store, NULL, &buf), NUL);
    CHECK_STATUS(blobio_read(store, "k", NULL), NUL);
    CHECK_STATUS(blobio_read(store, bad, &buf), INV);

    CHECK_STATUS(blobio_read_to(NULL, "k", never_called_write, &calls, &written), NUL);
    CHECK_STATUS(blobio_read_to(store, NULL, never_called_write, &calls, &written), NUL);
    CHECK_STATUS(blobio_read_to(store, "k", NULL, &calls, &written), NUL);
    CHECK_STATUS(blobio_read_to(store, "k", never_called_write, &calls, NULL), NUL);
    CHECK(last_error_has("`written`"));
    CHECK_STATUS(blobio_read_to(store, bad, never_called_write, &calls, &written), INV);

    CHECK_STATUS(blobio_read_to_at(NULL, "k", 0, never_called_write, &calls, &written), NUL);
    CHECK_STATUS(blobio_read_to_at(store, NULL, 0, never_called_write, &calls, &written), NUL);
    CHECK_STATUS(blobio_read_to_at(store, "k", 0, NULL, &calls, &written), NUL);
    CHECK_STATUS(blobio_read_to_at(store, "k", 0, never_called_write, &calls, NULL), NUL);
    CHECK_STATUS(blobio_read_to_at(store, bad, 0, never_called_write, &calls, &written), INV);
    CHECK(calls == 0);

    CHECK_STATUS(blobio_read_range(NULL, "k", 0, dst, sizeof dst, &n), NUL);
    CHECK_STATUS(blobio_read_range(store, NULL, 0, dst, sizeof dst, &n), NUL);
    CHECK_STATUS(blobio_read_range(store, "k", 0, NULL, sizeof dst, &n), NUL);
    CHECK(last_error_has("`dst`"));
    CHECK_STATUS(blobio_read_range(store, "k", 0, dst, sizeof dst, NULL), NUL);
    CHECK_STATUS(blobio_read_range(store, bad, 0, dst, sizeof dst, &n), INV);

    CHECK_STATUS(blobio_stat(NULL, "k", &size), NUL);
    CHECK_STATUS(blobio_stat(store, NULL, &size), NUL);
    CHECK_STATUS(blobio_stat(store, "k", NULL), NUL);
    CHECK_STATUS(blobio_stat(store, bad, &size), INV);

    CHECK_STATUS(blobio_exists(NULL, "k", &exists), NUL);
    CHECK_STATUS(blobio_exists(store, NULL, &exists), NUL);
    CHECK_STATUS(blobio_exists(store, "k", NULL), NUL);
    CHECK_STATUS(blobio_exists(store, bad, &exists), INV);

    CHECK_STATUS(blobio_delete(NULL, "k"), NUL);
    CHECK_STATUS(blobio_delete(store, NULL), NUL);
    CHECK_STATUS(blobio_delete(store, bad), INV);

    const char *paths[] = {"k"};
    CHECK_STATUS(blobio_delete_batch(NULL, paths, 1), NUL);
    CHECK_STATUS(blobio_delete_batch(store, NULL, 1), NUL);

    CHECK_STATUS(blobio_remove_directory(NULL, "d"), NUL);
    CHECK_STATUS(blobio_remove_directory(store, NULL), NUL);
    CHECK_STATUS(blobio_remove_directory(store, bad), INV);

    CHECK_STATUS(blobio_list(NULL, "", &list), NUL);
    CHECK_STATUS(blobio_list(store, NULL, &list), NUL);
    CHECK_STATUS(blobio_list(store, "", NULL), NUL);
    CHECK_STATUS(blobio_list(store, bad, &list), INV);
    CHECK_STATUS(blobio_list_directories(NULL, "", &list), NUL);
    CHECK_STATUS(blobio_list_directories(store, NULL, &list), NUL);
    CHECK_STATUS(blobio_list_directories(store, "", NULL), NUL);
    CHECK_STATUS(blobio_list_directories(store, bad, &list), INV);
    CHECK_STATUS(blobio_list_objects(NULL, "", &objects), NUL);
    CHECK_STATUS(blobio_list_objects(store, NULL, &objects), NUL);
    CHECK_STATUS(blobio_list_objects(store, "", NULL), NUL);
    CHECK_STATUS(blobio_list_objects(store, bad, &objects), INV);
    CHECK(list == NULL && objects == NULL);
    CHECK(blobio_list_len(NULL) == 0);
    CHECK(blobio_list_get(NULL, 0) == NULL);
    CHECK(blobio_object_list_len(NULL) == 0);
    CHECK_STATUS(blobio_object_list_get(NULL, 0, &info), NUL);
    blobio_list_free(NULL);
    blobio_object_list_free(NULL);

    CHECK_STATUS(blobio_store_config_json(NULL, &s), NUL);
    CHECK_STATUS(blobio_storage_path(NULL, "db", "m", &s), NUL);
    CHECK_STATUS(blobio_storage_path(store, NULL, "m", &s), NUL);
    CHECK_STATUS(blobio_storage_path(store, "db", NULL, &s), NUL);
    CHECK_STATUS(blobio_storage_path(store, "db", "m", NULL), NUL);
    CHECK_STATUS(blobio_storage_path(store, bad, "m", &s), INV);
    CHECK_STATUS(blobio_storage_path(store, "db", bad, &s), INV);
    CHECK_STATUS(blobio_local_base_path(NULL, "f", "fb", &s), NUL);
    CHECK_STATUS(blobio_local_base_path(store, NULL, "fb", &s), NUL);
    CHECK_STATUS(blobio_local_base_path(store, "f", NULL, &s), NUL);
    CHECK_STATUS(blobio_local_base_path(store, "f", "fb", NULL), NUL);
    CHECK_STATUS(blobio_local_base_path(store, bad, "fb", &s), INV);
    CHECK_STATUS(blobio_local_base_path(store, "f", bad, &s), INV);
    CHECK_STATUS(blobio_sanitize_s3_prefix(NULL, &s), NUL);
    CHECK_STATUS(blobio_sanitize_s3_prefix("p", NULL), NUL);
    CHECK_STATUS(blobio_sanitize_s3_prefix(bad, &s), INV);
    CHECK(s == NULL);

    /* None of that touched the object. */
    check_content(store, "k", &byte, 1);
    blobio_store_free(store);
}

static void test_traversal_paths_are_refused(void) {
    blobio_store *store = open_store("traversal/store");
    char outside[600];
    snprintf(outside, sizeof outside, "%s/traversal/escape", root_dir);
    const uint8_t byte = 1;
    uint8_t dst[4];
    size_t n = 0;
    int64_t size = 0;
    bool exists = false;
    uint64_t written = 0;
    blobio_buffer buf = {NULL, 0};
    struct blobio_list *list = NULL;
    blobio_object_list *objects = NULL;
    int calls = 0;
    const blobio_status BAD = BLOBIO_STATUS_INVALID_PATH;
    static const char *const bad_keys[] = {
        "../escape", "a/../../escape", "/../escape", "..", "a/./b", "a//b", "a/", "", "/",
    };

    for (size_t i = 0; i < sizeof bad_keys / sizeof bad_keys[0]; i++) {
        const char *k = bad_keys[i];
        struct source src = make_source(&byte, 1, 1);
        CHECK_STATUS(blobio_write(store, k, &byte, 1), BAD);
        CHECK_STATUS(blobio_write_from(store, k, source_read, &src, 1), BAD);
        CHECK_STATUS(blobio_append_from(store, k, source_read, &src, 1), BAD);
        CHECK_STATUS(blobio_read(store, k, &buf), BAD);
        CHECK_STATUS(blobio_read_to(store, k, never_called_write, &calls, &written), BAD);
        CHECK_STATUS(blobio_read_to_at(store, k, 0, never_called_write, &calls, &written), BAD);
        CHECK_STATUS(blobio_read_range(store, k, 0, dst, sizeof dst, &n), BAD);
        CHECK_STATUS(blobio_stat(store, k, &size), BAD);
        CHECK_STATUS(blobio_exists(store, k, &exists), BAD);
        CHECK_STATUS(blobio_delete(store, k), BAD);
        /* A directory may be named with its trailing '/'. */
        if (strcmp(k, "a/") != 0) CHECK_STATUS(blobio_remove_directory(store, k), BAD);
        CHECK(src.calls == 0);
    }
    CHECK(calls == 0);
    CHECK(!file_exists(outside));

    /* Prefixes may be empty or end in '/', but not climb. */
    CHECK_STATUS(blobio_list(store, "../", &list), BAD);
    CHECK_STATUS(blobio_list_directories(store, "..", &list), BAD);
    CHECK_STATUS(blobio_list_objects(store, "a/../..", &objects), BAD);
    CHECK(list == NULL && objects == NULL);

    /* A batch reports the bad path; the good ones are still deleted. */
    CHECK_OK(blobio_write(store, "gone", &byte, 1));
    const char *batch[] = {"gone", "../escape"};
    CHECK_STATUS(blobio_delete_batch(store, batch, 2), BAD);
    CHECK(last_error_has("../escape"));
    CHECK_OK(blobio_exists(store, "gone", &exists));
    CHECK(!exists);
    CHECK(!file_exists(outside));
    blobio_store_free(store);
}

/* A key of `len` bytes in components of 199 (every file system holds them). */
static void long_key(char *out, size_t len) {
    for (size_t i = 0; i < len; i++) out[i] = i % 200 == 199 ? '/' : 'k';
    out[len] = '\0';
}

/* Keys longer than 1,024 bytes (S3's limit, within Azure's 1,024 characters)
 * are INVALID_PATH on the local store too, saying so, and create nothing. */
static void test_keys_longer_than_1024_bytes_are_refused(void) {
    blobio_store *store = open_store("keylen/store");
    static char key[1100];
    const uint8_t byte = 1;
    bool exists = true;
    struct blobio_list *list = NULL;

    long_key(key, 1024);
    CHECK_OK(blobio_write(store, key, &byte, 1));
    CHECK_OK(blobio_exists(store, key, &exists));
    CHECK(exists);
    CHECK_OK(blobio_delete(store, key));

    long_key(key, 1025);
    struct source src = make_source(&byte, 1, 1);
    CHECK_STATUS(blobio_write(store, key, &byte, 1), BLOBIO_STATUS_INVALID_PATH);
    CHECK(last_error_has("longer than 1024 bytes of UTF-8"));
    CHECK_STATUS(blobio_write_from(store, key, source_read, &src, 1), BLOBIO_STATUS_INVALID_PATH);
    CHECK(src.calls == 0);
    CHECK_STATUS(blobio_exists(store, key, &exists), BLOBIO_STATUS_INVALID_PATH);
    CHECK_STATUS(blobio_delete(store, key), BLOBIO_STATUS_INVALID_PATH);
    CHECK_OK(blobio_list(store, "", &list));
    CHECK(blobio_list_len(list) == 0);
    blobio_list_free(list);
    blobio_store_free(store);
}

static void test_write_from_streams_and_checks_size(void) {
    blobio_store *store = open_store("write_from");
    enum { LEN = 700 * 1024 + 13 }; /* several of blobio's copy buffers */
    uint8_t *data = malloc(LEN);
    CHECK(data != NULL);
    if (!data) return;
    fill_pattern(data, LEN, 2);

    /* Unknown size, odd chunk sizes. */
    struct source src = make_source(data, LEN, 4093);
    CHECK_OK(blobio_write_from(store, "s/unknown.bin", source_read, &src, -1));
    check_content(store, "s/unknown.bin", data, LEN);
    CHECK(src.calls > 1);

    /* Known, exact size. */
    src = make_source(data, LEN, (size_t)-1);
    CHECK_OK(blobio_write_from(store, "s/known.bin", source_read, &src, LEN));
    check_content(store, "s/known.bin", data, LEN);

    /* An empty stream is an empty object. */
    CHECK_OK(blobio_write_from(store, "s/empty.bin", empty_source, NULL, 0));
    int64_t size = -5;
    CHECK_OK(blobio_stat(store, "s/empty.bin", &size));
    CHECK(size == 0);

    /* A source shorter than announced publishes nothing. */
    src = make_source(data, 100, 64);
    CHECK_STATUS(blobio_write_from(store, "s/short.bin", source_read, &src, 200), BLOBIO_STATUS_IO);
    bool exists = true;
    CHECK_OK(blobio_exists(store, "s/short.bin", &exists));
    CHECK(!exists);

    /* A callback claiming more bytes than the buffer holds is refused. */
    src = make_source(data, 100, 64);
    src.overrun = 1;
    CHECK_STATUS(blobio_write_from(store, "s/overrun.bin", source_read, &src, -1),
                 BLOBIO_STATUS_INVALID_ARGUMENT);
    CHECK_OK(blobio_exists(store, "s/overrun.bin", &exists));
    CHECK(!exists);
    free(data);
    blobio_store_free(store);
}

static void test_read_callback_failing_halfway_publishes_nothing(void) {
    blobio_store *store = open_store("abort_upload");
    enum { LEN = 64 * 1024 };
    uint8_t data[LEN];
    fill_pattern(data, LEN, 3);

    /* An older version is in place: the failed upload must not replace it. */
    CHECK_OK(blobio_write(store, "old.bin", data, 10));
    struct source src = make_source(data, LEN, 1000);
    src.fail_after = LEN / 2;
    src.fail_code = 42;
    CHECK_STATUS(blobio_write_from(store, "old.bin", source_read, &src, LEN),
                 BLOBIO_STATUS_CALLBACK_ABORTED);
    CHECK(last_error_has("42"));
    check_content(store, "old.bin", data, 10);

    src = make_source(data, LEN, 1000);
    src.fail_after = LEN / 2;
    src.fail_code = -1;
    CHECK_STATUS(blobio_write_from(store, "new.bin", source_read, &src, -1),
                 BLOBIO_STATUS_CALLBACK_ABORTED);
    bool exists = true;
    CHECK_OK(blobio_exists(store, "new.bin", &exists));
    CHECK(!exists);
    blobio_buffer buf = {NULL, 0};
    CHECK_STATUS(blobio_read(store, "new.bin", &buf), BLOBIO_STATUS_NOT_FOUND);
    struct blobio_list *list = NULL;
    CHECK_OK(blobio_list(store, "", &list));
    CHECK(blobio_list_len(list) == 1); /* only old.bin: the staged part is not a key */
    CHECK(blobio_list_get(list, 0) && strcmp(blobio_list_get(list, 0), "old.bin") == 0);
    blobio_list_free(list);
    blobio_store_free(store);
}

static void test_append_from_resumes_a_partial(void) {
    blobio_store *store = open_store("append");
    enum { LEN = 100 * 1000 };
    uint8_t *data = malloc(LEN);
    CHECK(data != NULL);
    if (!data) return;
    fill_pattern(data, LEN, 4);

    /* Nothing to resume yet. */
    struct source src = make_source(data, LEN, 1000);
    CHECK_STATUS(blobio_append_from(store, "big.bin", source_read, &src, LEN),
                 BLOBIO_STATUS_NOT_FOUND);

    /* The upload dies after 30000 bytes. */
    src = make_source(data, LEN, 1000);
    src.fail_after = 30000;
    src.fail_code = 7;
    CHECK_STATUS(blobio_write_from(store, "big.bin", source_read, &src, LEN),
                 BLOBIO_STATUS_CALLBACK_ABORTED);
    bool exists = true;
    CHECK_OK(blobio_exists(store, "big.bin", &exists));
    CHECK(!exists);

    /* stat reports how much was staged: resume from there. */
    int64_t staged = -1;
    CHECK_OK(blobio_stat(store, "big.bin", &staged));
    CHECK(staged == 30000);
    if (staged < 0 || staged > LEN) staged = 30000;

    /* A resume that is short keeps the partial... */
    src = make_source(data + staged, 5000, 1000);
    CHECK_STATUS(blobio_append_from(store, "big.bin", source_read, &src, (uint64_t)(LEN - staged)),
                 BLOBIO_STATUS_IO);
    CHECK_OK(blobio_exists(store, "big.bin", &exists));
    CHECK(!exists);
    CHECK_OK(blobio_stat(store, "big.bin", &staged));
    CHECK(staged == 35000);
    if (staged < 0 || staged > LEN) staged = 35000;

    /* ...and the next one completes and publishes the object. */
    src = make_source(data + staged, (size_t)(LEN - staged), 777);
    CHECK_OK(blobio_append_from(store, "big.bin", source_read, &src, (uint64_t)(LEN - staged)));
    check_content(store, "big.bin", data, LEN);

    /* An aborting append callback is reported as such. */
    src = make_source(data, LEN, 1000);
    src.fail_after = 10;
    src.fail_code = 1;
    CHECK_STATUS(blobio_write_from(store, "again.bin", source_read, &src, -1),
                 BLOBIO_STATUS_CALLBACK_ABORTED);
    src = make_source(data, LEN, 1000);
    src.fail_after = 0;
    src.fail_code = 3;
    CHECK_STATUS(blobio_append_from(store, "again.bin", source_read, &src, 5),
                 BLOBIO_STATUS_CALLBACK_ABORTED);
    free(data);
    blobio_store_free(store);
}

static void test_read_to_streams_and_aborts(void) {
    blobio_store *store = open_store("read_to");
    enum { LEN = 600 * 1024 + 5 };
    uint8_t *data = malloc(LEN);
    CHECK(data != NULL);
    if (!data) return;
    fill_pattern(data, LEN, 5);
    CHECK_OK(blobio_write(store, "obj", data, LEN));

    struct sink sink = make_sink();
    uint64_t written = 0;
    CHECK_OK(blobio_read_to(store, "obj", sink_write, &sink, &written));
    CHECK(written == LEN);
    CHECK(sink.len == LEN && memcmp(sink.data, data, LEN) == 0);
    CHECK(sink.calls > 1);
    sink_free(&sink);

    /* An empty object delivers nothing. */
    CHECK_OK(blobio_write(store, "empty", NULL, 0));
    sink = make_sink();
    written = 99;
    CHECK_OK(blobio_read_to(store, "empty", sink_write, &sink, &written));
    CHECK(written == 0 && sink.len == 0);
    sink_free(&sink);

    /* A write callback that aborts after the first chunk. */
    sink = make_sink();
    sink.fail_after_calls = 1;
    sink.fail_code = 5;
    written = 12345;
    CHECK_STATUS(blobio_read_to(store, "obj", sink_write, &sink, &written),
                 BLOBIO_STATUS_CALLBACK_ABORTED);
    CHECK(written == 12345); /* outputs only on success */
    CHECK(sink.calls == 1);
    CHECK(sink.len > 0 && memcmp(sink.data, data, sink.len) == 0);
    CHECK(last_error_has("obj"));
    sink_free(&sink);

    /* Missing objects. */
    int calls = 0;
    CHECK_STATUS(blobio_read_to(store, "nope", never_called_write, &calls, &written),
                 BLOBIO_STATUS_NOT_FOUND);
    CHECK(calls == 0);
    free(data);
    blobio_store_free(store);
}

static void test_read_to_at_offsets(void) {
    blobio_store *store = open_store("read_to_at");
    enum { LEN = 5000 };
    uint8_t data[LEN];
    fill_pattern(data, LEN, 6);
    CHECK_OK(blobio_write(store, "obj", data, LEN));

    uint64_t offsets[] = {0, 1, 4096, LEN - 1};
    for (size_t i = 0; i < sizeof offsets / sizeof offsets[0]; i++) {
        struct sink sink = make_sink();
        uint64_t written = 0;
        CHECK_OK(blobio_read_to_at(store, "obj", offsets[i], sink_write, &sink, &written));
        CHECK(written == LEN - offsets[i]);
        CHECK(sink.len == LEN - offsets[i]);
        CHECK(sink.len == 0 || memcmp(sink.data, data + offsets[i], sink.len) == 0);
        sink_free(&sink);
    }

    int calls = 0;
    uint64_t written = 77;
    CHECK_STATUS(blobio_read_to_at(store, "obj", LEN, never_called_write, &calls, &written),
                 BLOBIO_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(blobio_read_to_at(store, "obj", LEN + 100, never_called_write, &calls, &written),
                 BLOBIO_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(blobio_read_to_at(store, "nope", 0, never_called_write, &calls, &written),
                 BLOBIO_STATUS_NOT_FOUND);
    CHECK(calls == 0 && written == 77);

    /* Offset 0 of an empty object is fine and delivers nothing. */
    CHECK_OK(blobio_write(store, "empty", NULL, 0));
    CHECK_OK(blobio_read_to_at(store, "empty", 0, never_called_write, &calls, &written));
    CHECK(written == 0);

    struct sink sink = make_sink();
    sink.fail_after_calls = 0;
    sink.fail_code = 9;
    CHECK_STATUS(blobio_read_to_at(store, "obj", 10, sink_write, &sink, &written),
                 BLOBIO_STATUS_CALLBACK_ABORTED);
    sink_free(&sink);
    blobio_store_free(store);
}

static void test_read_ranges(void) {
    blobio_store *store = open_store("read_ranges");
    check_read_ranges(store, "ranges/obj.bin");
    /* The local store has no URLs to hand out. */
    char *url = NULL;
    CHECK_STATUS(blobio_presign(store, "GET", "ranges/x", 60, &url), BLOBIO_STATUS_UNSUPPORTED);
    CHECK(url == NULL);
    blobio_store_free(store);
}

static void test_read_range_at_and_past_the_end(void) {
    blobio_store *store = open_store("read_range");
    enum { LEN = 10000 };
    uint8_t data[LEN];
    fill_pattern(data, LEN, 7);
    CHECK_OK(blobio_write(store, "obj", data, LEN));

    uint8_t dst[4096];
    size_t n = 0;
    CHECK_OK(blobio_read_range(store, "obj", 100, dst, sizeof dst, &n));
    CHECK(n == sizeof dst && memcmp(dst, data + 100, n) == 0);

    /* Crossing the end gives fewer bytes. */
    CHECK_OK(blobio_read_range(store, "obj", LEN - 10, dst, sizeof dst, &n));
    CHECK(n == 10 && memcmp(dst, data + LEN - 10, 10) == 0);

    /* The last byte. */
    CHECK_OK(blobio_read_range(store, "obj", LEN - 1, dst, sizeof dst, &n));
    CHECK(n == 1 && dst[0] == data[LEN - 1]);

    /* At and past the end: INVALID_ARGUMENT, n_read untouched. */
    n = 555;
    CHECK_STATUS(blobio_read_range(store, "obj", LEN, dst, sizeof dst, &n),
                 BLOBIO_STATUS_INVALID_ARGUMENT);
    CHECK(last_error_has("offset"));
    CHECK_STATUS(blobio_read_range(store, "obj", LEN + 1, dst, sizeof dst, &n),
                 BLOBIO_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(blobio_read_range(store, "obj", UINT64_MAX, dst, sizeof dst, &n),
                 BLOBIO_STATUS_INVALID_ARGUMENT);
    CHECK(n == 555);

    /* A zero-length read needs no buffer. */
    CHECK_OK(blobio_read_range(store, "obj", 5, NULL, 0, &n));
    CHECK(n == 0);

    /* Empty objects at offset 0 read nothing; missing objects are NOT_FOUND. */
    CHECK_OK(blobio_write(store, "empty", NULL, 0));
    n = 9;
    CHECK_OK(blobio_read_range(store, "empty", 0, dst, sizeof dst, &n));
    CHECK(n == 0);
    CHECK_STATUS(blobio_read_range(store, "nope", 0, dst, sizeof dst, &n),
                 BLOBIO_STATUS_NOT_FOUND);
    blobio_store_free(store);
}

static void test_stat_exists_delete(void) {
    blobio_store *store = open_store("stat");
    uint8_t data[123];
    fill_pattern(data, sizeof data, 8);
    CHECK_OK(blobio_write(store, "a/b.bin", data, sizeof data));

    int64_t size = 0;
    bool exists = false;
    CHECK_OK(blobio_stat(store, "a/b.bin", &size));
    CHECK(size == 123);
    CHECK_OK(blobio_exists(store, "a/b.bin", &exists));
    CHECK(exists);

    CHECK_OK(blobio_stat(store, "a/missing.bin", &size));
    CHECK(size == -1);
    CHECK_OK(blobio_stat(store, "no/such/dir/x", &size));
    CHECK(size == -1);
    CHECK_OK(blobio_exists(store, "a/missing.bin", &exists));
    CHECK(!exists);

    CHECK_OK(blobio_delete(store, "a/b.bin"));
    CHECK_OK(blobio_exists(store, "a/b.bin", &exists));
    CHECK(!exists);
    CHECK_OK(blobio_stat(store, "a/b.bin", &size));
    CHECK(size == -1);
    /* Deleting what is not there succeeds. */
    CHECK_OK(blobio_delete(store, "a/b.bin"));
    CHECK_OK(blobio_delete(store, "never/was"));
    /* A directory is not an object: deleting it deletes nothing (as on S3
     * and Azure, where nothing is at "d"), and its objects stay. */
    CHECK_OK(blobio_write(store, "d/x", data, 1));
    CHECK_OK(blobio_delete(store, "d"));
    CHECK_OK(blobio_exists(store, "d/x", &exists));
    CHECK(exists);
    blobio_store_free(store);
}

static void test_delete_batch(void) {
    blobio_store *store = open_store("delete_batch");
    const uint8_t byte = 1;
    CHECK_OK(blobio_write(store, "a", &byte, 1));
    CHECK_OK(blobio_write(store, "b/c", &byte, 1));
    CHECK_OK(blobio_write(store, "keep", &byte, 1));

    /* NULL or non-UTF-8 entries are refused before anything is deleted. */
    const char *with_null[] = {"a", NULL};
    CHECK_STATUS(blobio_delete_batch(store, with_null, 2), BLOBIO_STATUS_NULL_ARGUMENT);
    CHECK(last_error_has("paths[1]"));
    const char *with_bad[] = {"a", "\xff"};
    CHECK_STATUS(blobio_delete_batch(store, with_bad, 2), BLOBIO_STATUS_INVALID_ARGUMENT);
    bool exists = false;
    CHECK_OK(blobio_exists(store, "a", &exists));
    CHECK(exists);

    /* Missing keys are fine. */
    const char *paths[] = {"a", "missing-1", "b/c", "missing/2"};
    CHECK_OK(blobio_delete_batch(store, paths, 4));
    CHECK_OK(blobio_exists(store, "a", &exists));
    CHECK(!exists);
    CHECK_OK(blobio_exists(store, "b/c", &exists));
    CHECK(!exists);
    CHECK_OK(blobio_exists(store, "keep", &exists));
    CHECK(exists);

    /* An empty batch, with or without an array. */
    CHECK_OK(blobio_delete_batch(store, NULL, 0));
    CHECK_OK(blobio_delete_batch(store, paths, 0));

    /* One failing path does not stop the others. */
    CHECK_OK(blobio_write(store, "y", &byte, 1));
    const char *mixed[] = {"x.part", "y"};
    CHECK_STATUS(blobio_delete_batch(store, mixed, 2), BLOBIO_STATUS_INVALID_PATH);
    CHECK(last_error_has("1 of the paths failed"));
    CHECK_OK(blobio_exists(store, "y", &exists));
    CHECK(!exists);
    blobio_store_free(store);
}

static bool list_equals(const struct blobio_list *list, const char *const *want, size_t n) {
    if (blobio_list_len(list) != n) return false;
    for (size_t i = 0; i < n; i++) {
        const char *got = blobio_list_get(list, i);
        if (got == NULL || strcmp(got, want[i]) != 0) return false;
    }
    return blobio_list_get(list, n) == NULL;
}

static void test_lists(void) {
    blobio_store *store = open_store("lists");
    struct blobio_list *list = NULL;
    blobio_object_list *objects = NULL;

    /* An empty store lists empty. */
    CHECK_OK(blobio_list(store, "", &list));
    CHECK(list != NULL && blobio_list_len(list) == 0 && blobio_list_get(list, 0) == NULL);
    blobio_list_free(list);
    CHECK_OK(blobio_list_directories(store, "", &list));
    CHECK(blobio_list_len(list) == 0);
    blobio_list_free(list);
    CHECK_OK(blobio_list_objects(store, "", &objects));
    CHECK(objects != NULL && blobio_object_list_len(objects) == 0);
    blobio_object_info info = {(const char *)(uintptr_t)0x1, 77, 77};
    CHECK_STATUS(blobio_object_list_get(objects, 0, &info), BLOBIO_STATUS_INVALID_ARGUMENT);
    CHECK(info.path == (const char *)(uintptr_t)0x1 && info.size == 77);
    blobio_object_list_free(objects);

    uint8_t data[300];
    fill_pattern(data, sizeof data, 9);
    CHECK_OK(blobio_write(store, "db/cpu/2024/a.parquet", data, 100));
    CHECK_OK(blobio_write(store, "db/cpu/2024/b.parquet", data, 200));
    CHECK_OK(blobio_write(store, "db/mem/c.parquet", data, 300));
    CHECK_OK(blobio_write(store, "other.txt", data, 1));

    static const char *const all[] = {"db/cpu/2024/a.parquet", "db/cpu/2024/b.parquet",
                                      "db/mem/c.parquet", "other.txt"};
    CHECK_OK(blobio_list(store, "", &list));
    CHECK(list_equals(list, all, 4));
    blobio_list_free(list);

    /* Plain string prefixes, as on S3. */
    CHECK_OK(blobio_list(store, "db/cp", &list));
    CHECK(list_equals(list, all, 2));
    blobio_list_free(list);
    CHECK_OK(blobio_list(store, "nothing/here/", &list));
    CHECK(blobio_list_len(list) == 0);
    blobio_list_free(list);

    static const char *const dirs_root[] = {"db"};
    static const char *const dirs_db[] = {"cpu", "mem"};
    CHECK_OK(blobio_list_directories(store, "", &list));
    CHECK(list_equals(list, dirs_root, 1));
    blobio_list_free(list);
    CHECK_OK(blobio_list_directories(store, "db", &list));
    CHECK(list_equals(list, dirs_db, 2));
    blobio_list_free(list);
    CHECK_OK(blobio_list_directories(store, "db/", &list));
    CHECK(list_equals(list, dirs_db, 2));
    blobio_list_free(list);
    CHECK_OK(blobio_list_directories(store, "no/such", &list));
    CHECK(blobio_list_len(list) == 0);
    blobio_list_free(list);

    CHECK_OK(blobio_list_objects(store, "db/", &objects));
    CHECK(blobio_object_list_len(objects) == 3);
    const uint64_t sizes[] = {100, 200, 300};
    int64_t now_ms = (int64_t)time(NULL) * 1000;
    for (size_t i = 0; i < 3 && i < blobio_object_list_len(objects); i++) {
        CHECK_OK(blobio_object_list_get(objects, i, &info));
        CHECK(info.path != NULL && strcmp(info.path, all[i]) == 0);
        CHECK(info.size == sizes[i]);
        CHECK(info.last_modified_unix_ms > now_ms - 3600 * 1000);
        CHECK(info.last_modified_unix_ms < now_ms + 3600 * 1000);
    }
    CHECK_STATUS(blobio_object_list_get(objects, 3, &info), BLOBIO_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(blobio_object_list_get(objects, 0, NULL), BLOBIO_STATUS_NULL_ARGUMENT);
    blobio_object_list_free(objects);
    blobio_store_free(store);
}

static void test_remove_directory(void) {
    blobio_store *store = open_store("rmdir");
    const uint8_t byte = 1;
    CHECK_OK(blobio_write(store, "d/e/f", &byte, 1));
    /* Not empty: refused. */
    blobio_status st = blobio_remove_directory(store, "d/e");
    CHECK(st != BLOBIO_STATUS_OK);
    CHECK(last_error_has("d/e"));
    CHECK_OK(blobio_delete(store, "d/e/f"));
    CHECK_OK(blobio_remove_directory(store, "d/e"));
    CHECK_OK(blobio_remove_directory(store, "d"));
    struct blobio_list *list = NULL;
    CHECK_OK(blobio_list_directories(store, "", &list));
    CHECK(blobio_list_len(list) == 0);
    blobio_list_free(list);
    /* Missing: fine. */
    CHECK_OK(blobio_remove_directory(store, "d"));
    CHECK_OK(blobio_remove_directory(store, "never/was"));
    blobio_store_free(store);
}

static void test_path_helpers(void) {
    blobio_store *store = open_store("helpers");
    char base[600];
    test_dir(base, sizeof base, "helpers");
    char *s = NULL;
    char want[700];

    CHECK_OK(blobio_storage_path(store, "db", "cpu", &s));
    snprintf(want, sizeof want, "%s/db/cpu/**/*.parquet", base);
    CHECK(s != NULL && strcmp(s, want) == 0);
    blobio_string_free(s);
    s = NULL;
    CHECK_STATUS(blobio_storage_path(store, "a/b", "cpu", &s), BLOBIO_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(blobio_storage_path(store, "db", "*", &s), BLOBIO_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(blobio_storage_path(store, "", "cpu", &s), BLOBIO_STATUS_INVALID_ARGUMENT);
    CHECK(s == NULL);

    CHECK_OK(blobio_local_base_path(store, "compaction", "/fallback", &s));
    CHECK(s != NULL && strcmp(s, base) == 0);
    blobio_string_free(s);

    static const struct {
        const char *in, *out;
    } prefixes[] = {
        {"", ""}, {"   ", ""}, {"arc", "arc/"}, {" /arc/data/ ", "arc/data/"},
        {"arc//", "arc/"}, {"../etc", ""}, {"a b", ""}, {"tenant-1/v_2.0", "tenant-1/v_2.0/"},
    };
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        s = NULL;
        CHECK_OK(blobio_sanitize_s3_prefix(prefixes[i].in, &s));
        CHECK(s != NULL && strcmp(s, prefixes[i].out) == 0);
        blobio_string_free(s);
    }
    blobio_store_free(store);
}

/* 8 threads share one store: private keys, one shared key rewritten by all. */
enum { THREADS = 8, ROUNDS = 40, SHARED_LEN = 8192 };

struct worker {
    blobio_store *store;
    int id;
    int failures;
};

static void *worker_main(void *arg) {
    struct worker *w = arg;
    uint8_t mine[1500], shared[SHARED_LEN], got[SHARED_LEN];
    char key[64];
    for (int r = 0; r < ROUNDS; r++) {
        snprintf(key, sizeof key, "t%d/obj-%d.bin", w->id, r);
        fill_pattern(mine, sizeof mine, (unsigned)(w->id * 1000 + r));
        if (blobio_write(w->store, key, mine, sizeof mine) != BLOBIO_STATUS_OK) w->failures++;

        blobio_buffer buf = {NULL, 0};
        if (blobio_read(w->store, key, &buf) != BLOBIO_STATUS_OK || buf.len != sizeof mine ||
            memcmp(buf.data, mine, sizeof mine) != 0)
            w->failures++;
        blobio_buffer_free(&buf);

        size_t n = 0;
        if (blobio_read_range(w->store, key, 700, got, 100, &n) != BLOBIO_STATUS_OK || n != 100 ||
            memcmp(got, mine + 700, 100) != 0)
            w->failures++;

        /* Whole-object writes of the shared key: a reader sees one version. */
        memset(shared, 'A' + w->id, sizeof shared);
        if (blobio_write(w->store, "shared/obj.bin", shared, sizeof shared) != BLOBIO_STATUS_OK)
            w->failures++;
        if (blobio_read_range(w->store, "shared/obj.bin", 0, got, sizeof got, &n) !=
                BLOBIO_STATUS_OK ||
            n != SHARED_LEN)
            w->failures++;
        for (size_t i = 1; i < n; i++) {
            if (got[i] != got[0] || got[0] < 'A' || got[0] >= 'A' + THREADS) {
                w->failures++;
                break;
            }
        }

        bool exists = false;
        if (blobio_exists(w->store, key, &exists) != BLOBIO_STATUS_OK || !exists) w->failures++;

        /* The last error is this thread's own. */
        char missing[64];
        snprintf(missing, sizeof missing, "t%d/missing-%d", w->id, r);
        blobio_buffer none = {NULL, 0};
        if (blobio_read(w->store, missing, &none) != BLOBIO_STATUS_NOT_FOUND ||
            !last_error_has(missing))
            w->failures++;
    }
    /* Clean up half of the keys with a batch, the rest one by one. */
    char keys[ROUNDS][64];
    const char *ptrs[ROUNDS];
    for (int r = 0; r < ROUNDS; r++) {
        snprintf(keys[r], sizeof keys[r], "t%d/obj-%d.bin", w->id, r);
        ptrs[r] = keys[r];
    }
    if (blobio_delete_batch(w->store, ptrs, ROUNDS / 2) != BLOBIO_STATUS_OK) w->failures++;
    for (int r = ROUNDS / 2; r < ROUNDS; r++) {
        if (blobio_delete(w->store, keys[r]) != BLOBIO_STATUS_OK) w->failures++;
    }
    return NULL;
}

static void test_eight_threads_share_one_store(void) {
    blobio_store *store = open_store("threads");
    pthread_t threads[THREADS];
    struct worker workers[THREADS];
    for (int i = 0; i < THREADS; i++) {
        workers[i] = (struct worker){store, i, 0};
        CHECK(pthread_create(&threads[i], NULL, worker_main, &workers[i]) == 0);
    }
    for (int i = 0; i < THREADS; i++) {
        CHECK(pthread_join(threads[i], NULL) == 0);
        CHECK(workers[i].failures == 0);
    }
    struct blobio_list *list = NULL;
    CHECK_OK(blobio_list(store, "", &list));
    CHECK(blobio_list_len(list) == 1); /* only the shared key is left */
    blobio_list_free(list);
    blobio_store_free(store);
}

/* ------------------------------------------------------------------ main */

static void test_conditional_writes(void) {
    blobio_store *store = open_store("conditional");
    check_conditional_writes(store, "c", true);
    blobio_store_free(store);
}

static void test_head_and_metadata(void) {
    blobio_store *store = open_store("head");
    check_head_and_metadata(store, "h");
    blobio_store_free(store);
}

static void test_copy_and_rename(void) {
    blobio_store *store = open_store("copy");
    check_copy_and_rename(store, "c", true);
    blobio_store_free(store);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int main(void) {
    static const struct test_case tests[] = {
        {"version", test_version},
        {"status_str_names_every_value", test_status_str_names_every_value},
        {"last_error_is_per_thread_and_kept_after_success",
         test_last_error_is_per_thread_and_kept_after_success},
        {"local_new", test_local_new},
        {"config_json", test_config_json},
        {"write_and_read", test_write_and_read},
        {"null_and_invalid_arguments", test_null_and_invalid_arguments},
        {"traversal_paths_are_refused", test_traversal_paths_are_refused},
        {"keys_longer_than_1024_bytes_are_refused", test_keys_longer_than_1024_bytes_are_refused},
        {"write_from_streams_and_checks_size", test_write_from_streams_and_checks_size},
        {"read_callback_failing_halfway_publishes_nothing",
         test_read_callback_failing_halfway_publishes_nothing},
        {"append_from_resumes_a_partial", test_append_from_resumes_a_partial},
        {"read_to_streams_and_aborts", test_read_to_streams_and_aborts},
        {"read_to_at_offsets", test_read_to_at_offsets},
        {"read_range_at_and_past_the_end", test_read_range_at_and_past_the_end},
        {"read_ranges", test_read_ranges},
        {"stat_exists_delete", test_stat_exists_delete},
        {"delete_batch", test_delete_batch},
        {"lists", test_lists},
        {"remove_directory", test_remove_directory},
        {"path_helpers", test_path_helpers},
        {"eight_threads_share_one_store", test_eight_threads_share_one_store},
        {"conditional_writes", test_conditional_writes},
        {"head_and_metadata", test_head_and_metadata},
        {"copy_and_rename", test_copy_and_rename},
    };
    const size_t n_tests = sizeof tests / sizeof tests[0];

    const char *tmp = getenv("TMPDIR");
    snprintf(root_dir, sizeof root_dir, "%s/blobio-ctest-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(root_dir)) {
        perror("mkdtemp");
        return 2;
    }

    int passed = 0, failed = 0;
    run_tests(tests, n_tests, &passed, &failed);

    if (nftw(root_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0) {
        perror("removing the test directory");
        failed++;
    }
    printf("\n%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
