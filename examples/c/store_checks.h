/*
 * Checks shared by the C tests of the network stores (test_s3.c on s3s-fs,
 * test_azure.c on Azurite): one round trip through every object call, and
 * one streamed upload and download, each written once and run on a store
 * that the test program opens. Included after test_harness.h, so the
 * CHECKs count in the including program.
 */
#ifndef BLOBIO_STORE_CHECKS_H
#define BLOBIO_STORE_CHECKS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "test_harness.h"

/* The value of a variable the test needs; exits when it is missing. */
static inline const char *need_env(const char *name) {
    const char *v = getenv(name);
    if (!v || !*v) {
        fprintf(stderr, "%s is not set: run these tests through scripts/test\n", name);
        exit(2);
    }
    return v;
}

/* What differs between the stores in `check_round_trip`. */
struct round_trip {
    const char *kind;           /* blobio_store_kind() */
    const char *root;           /* directory of the test's keys, e.g. "db" */
    const char *cpu_name;       /* the object under root/cpu/ */
    const char *mem_name;       /* the object under root/mem/ */
    const char *not_found_code; /* provider code of a missing object */
};

/* Writes two objects under spec->root, reads one back whole and in part,
 * lists, lists directories and objects, stats, deletes both (and a key
 * that never existed) in one batch, and checks that they are gone. The
 * store is the caller's to free. */
static inline void check_round_trip(blobio_store *store, const struct round_trip *spec) {
    char cpu[256], mem[256], missing[256], never[256], list_prefix[256], cpu_dir[256];
    snprintf(cpu, sizeof cpu, "%s/cpu/%s", spec->root, spec->cpu_name);
    snprintf(mem, sizeof mem, "%s/mem/%s", spec->root, spec->mem_name);
    snprintf(missing, sizeof missing, "%s/missing", spec->root);
    snprintf(never, sizeof never, "%s/never-existed", spec->root);
    snprintf(list_prefix, sizeof list_prefix, "%s/", spec->root);
    snprintf(cpu_dir, sizeof cpu_dir, "%s/cpu", spec->root);

    CHECK(strcmp(blobio_store_kind(store), spec->kind) == 0);
    const char *text = "hello from C, signed";
    CHECK_OK(blobio_write(store, cpu, (const uint8_t *)text, strlen(text)));
    CHECK_OK(blobio_write(store, mem, (const uint8_t *)"xy", 2));

    blobio_buffer buf = {0};
    CHECK_OK(blobio_read(store, cpu, &buf));
    CHECK(buf.len == strlen(text) && memcmp(buf.data, text, buf.len) == 0);
    blobio_buffer_free(&buf);

    struct blobio_list *keys = NULL;
    CHECK_OK(blobio_list(store, list_prefix, &keys));
    CHECK(blobio_list_len(keys) == 2);
    CHECK(keys && strcmp(blobio_list_get(keys, 0), cpu) == 0);
    CHECK(keys && strcmp(blobio_list_get(keys, 1), mem) == 0);
    blobio_list_free(keys);

    struct blobio_list *dirs = NULL;
    CHECK_OK(blobio_list_directories(store, spec->root, &dirs));
    CHECK(blobio_list_len(dirs) == 2);
    CHECK(dirs && strcmp(blobio_list_get(dirs, 0), "cpu") == 0);
    CHECK(dirs && strcmp(blobio_list_get(dirs, 1), "mem") == 0);
    blobio_list_free(dirs);

    blobio_object_list *objs = NULL;
    CHECK_OK(blobio_list_objects(store, cpu_dir, &objs));
    CHECK(blobio_object_list_len(objs) == 1);
    blobio_object_info info = {0};
    CHECK_OK(blobio_object_list_get(objs, 0, &info));
    CHECK(info.size == strlen(text));
    CHECK(info.last_modified_unix_ms > 1600000000000LL);
    blobio_object_list_free(objs);

    uint8_t part[4] = {0};
    size_t n = 0;
    CHECK_OK(blobio_read_range(store, cpu, 6, part, sizeof part, &n));
    CHECK(n == 4 && memcmp(part, "from", 4) == 0);
    CHECK_STATUS(blobio_read_range(store, cpu, strlen(text), part, 1, &n),
                 BLOBIO_STATUS_INVALID_ARGUMENT);

    int64_t size = 0;
    CHECK_OK(blobio_stat(store, mem, &size));
    CHECK(size == 2);
    CHECK_OK(blobio_stat(store, missing, &size));
    CHECK(size == -1);

    /* A key that never existed is not a failure of the batch. */
    const char *batch[] = {cpu, mem, never};
    CHECK_OK(blobio_delete_batch(store, batch, 3));
    bool exists = true;
    CHECK_OK(blobio_exists(store, cpu, &exists));
    CHECK(!exists);
    CHECK_STATUS(blobio_read(store, cpu, &buf), BLOBIO_STATUS_NOT_FOUND);
    CHECK(blobio_last_error_http_status() == 404);
    const char *code = blobio_last_error_code();
    CHECK(code != NULL && strcmp(code, spec->not_found_code) == 0);
    CHECK(buf.data == NULL);
}

/* A source of `remaining` bytes of a counting pattern. */
struct counter_src {
    size_t remaining, given;
};

static inline int32_t counter_read(void *user, uint8_t *out, size_t cap, size_t *out_n) {
    struct counter_src *src = user;
    size_t n = cap < src->remaining ? cap : src->remaining;
    for (size_t i = 0; i < n; i++) out[i] = (uint8_t)((src->given + i) % 251u);
    src->given += n;
    src->remaining -= n;
    *out_n = n;
    return 0;
}

/* A sink that checks it receives the counting pattern from byte `seen`. */
struct check_sink {
    size_t seen;
    bool ok;
};

static inline int32_t check_write(void *user, const uint8_t *data, size_t len) {
    struct check_sink *sink = user;
    for (size_t i = 0; i < len; i++) {
        if (data[i] != (uint8_t)((sink->seen + i) % 251u)) sink->ok = false;
    }
    sink->seen += len;
    return 0;
}

/* Streams `total` bytes of unknown size to `path` (multipart or staged
 * blocks, as the store's config says), reads them back whole and from
 * 1000 bytes before the end, checks that the store cannot append, and
 * deletes the object. */
static inline void check_streamed(blobio_store *store, const char *path, size_t total) {
    struct counter_src src = {total, 0};
    CHECK_OK(blobio_write_from(store, path, counter_read, &src, -1));
    struct check_sink sink = {0, true};
    uint64_t written = 0;
    CHECK_OK(blobio_read_to(store, path, check_write, &sink, &written));
    CHECK(written == total && sink.seen == total && sink.ok);
    sink = (struct check_sink){total - 1000, true};
    CHECK_OK(blobio_read_to_at(store, path, total - 1000, check_write, &sink, &written));
    CHECK(written == 1000 && sink.ok);
    CHECK_STATUS(blobio_append_from(store, path, counter_read, &src, 1),
                 BLOBIO_STATUS_RESUME_NOT_SUPPORTED);
    CHECK_OK(blobio_delete(store, path));
}

/* blobio_presign: curl GETs what the store wrote through a presigned GET
 * URL, and PUTs through a presigned PUT URL what the store then reads; the
 * arguments are checked. */
static inline void check_presign(blobio_store *store, const char *path) {
    const char *text = "fetched by curl through a presigned URL";
    CHECK_OK(blobio_write(store, path, (const uint8_t *)text, strlen(text)));
    char *url = NULL;
    CHECK_OK(blobio_presign(store, "GET", path, 600, &url));
    if (url) {
        char cmd[4096];
        snprintf(cmd, sizeof cmd, "curl -sf '%s'", url);
        FILE *p = popen(cmd, "r");
        CHECK(p != NULL);
        char got[256] = {0};
        size_t n = p ? fread(got, 1, sizeof got - 1, p) : 0;
        CHECK(p && pclose(p) == 0);
        CHECK(n == strlen(text) && memcmp(got, text, n) == 0);
        blobio_string_free(url);
        url = NULL;
    }
    CHECK_OK(blobio_presign(store, "put", path, 600, &url));
    if (url) {
        char cmd[4096];
        snprintf(cmd, sizeof cmd,
                 "printf 'put by curl' | curl -sf -X PUT -H 'x-ms-blob-type: BlockBlob' "
                 "--data-binary @- '%s' >/dev/null",
                 url);
        CHECK(system(cmd) == 0);
        blobio_string_free(url);
        url = NULL;
        blobio_buffer buf = {0};
        CHECK_OK(blobio_read(store, path, &buf));
        CHECK(buf.len == 11 && memcmp(buf.data, "put by curl", 11) == 0);
        blobio_buffer_free(&buf);
    }
    CHECK_STATUS(blobio_presign(store, "POST", path, 600, &url), BLOBIO_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(blobio_presign(store, "GET", path, 0, &url), BLOBIO_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(blobio_presign(store, "GET", path, 8 * 24 * 3600, &url),
                 BLOBIO_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(blobio_presign(store, NULL, path, 600, &url), BLOBIO_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(blobio_presign(store, "GET", path, 600, NULL), BLOBIO_STATUS_NULL_ARGUMENT);
    CHECK(url == NULL);
    CHECK_OK(blobio_delete(store, path));
}

#endif
