/*
 * Checks shared by the C tests of the network stores (test_s3.c on s3s-fs,
 * test_azure.c on Azurite): one round trip through every object call, and
 * one streamed upload and download, each written once and run on a store
 * that the test program opens. Included after test_harness.h, so the
 * CHECKs count in the including program.
 */
#ifndef BLOBIO_STORE_CHECKS_H
#define BLOBIO_STORE_CHECKS_H

#include <pthread.h>
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

/* One racer of check_conditional_writes: creates `path` with its own text. */
struct create_racer {
    blobio_store *store;
    const char *path;
    const blobio_put_options *create;
    pthread_barrier_t *start;
    char text[32];
    blobio_status status;
};

static inline void *create_racer_main(void *arg) {
    struct create_racer *r = arg;
    pthread_barrier_wait(r->start);
    r->status = blobio_write_ex(r->store, r->path, (const uint8_t *)r->text, strlen(r->text),
                                r->create, NULL);
    return NULL;
}

/* Checks that `path` holds exactly the text `want`. */
static inline void check_text(blobio_store *store, const char *path, const char *want) {
    blobio_buffer buf = {0};
    CHECK_OK(blobio_read(store, path, &buf));
    CHECK(buf.len == strlen(want) && memcmp(buf.data, want, buf.len) == 0);
    blobio_buffer_free(&buf);
}

/* Conditional writes through blobio_write_ex and blobio_write_from_ex under
 * `dir`: a create of an existing key is ALREADY_EXISTS and changes nothing;
 * with `full`, 8 threads race a create of one key and exactly one wins, a
 * stale update is PRECONDITION_FAILED and leaves the object, and updates
 * of the version a write reported work. Deletes what it wrote. */
static inline void check_conditional_writes(blobio_store *store, const char *dir, bool full) {
    char once[256], raced[256], pointer[256];
    snprintf(once, sizeof once, "%s/once", dir);
    snprintf(raced, sizeof raced, "%s/raced", dir);
    snprintf(pointer, sizeof pointer, "%s/pointer", dir);
    blobio_put_options *create = NULL, *update = NULL;
    CHECK_OK(blobio_put_options_new(&create));
    CHECK_OK(blobio_put_options_new(&update));
    if (!create || !update) return;
    CHECK_OK(blobio_put_options_set_mode(create, BLOBIO_PUT_CREATE, NULL));
    CHECK_STATUS(blobio_put_options_set_mode(create, BLOBIO_PUT_CREATE, "v"),
                 BLOBIO_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(blobio_put_options_set_mode(create, 7, NULL), BLOBIO_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(blobio_put_options_set_mode(update, BLOBIO_PUT_UPDATE, NULL),
                 BLOBIO_STATUS_NULL_ARGUMENT);

    char *v1 = NULL;
    CHECK_OK(blobio_write_ex(store, once, (const uint8_t *)"first", 5, create, &v1));
    CHECK(v1 != NULL && *v1 != '\0');
    char *untouched = (char *)"untouched";
    char *seen = untouched;
    CHECK_STATUS(blobio_write_ex(store, once, (const uint8_t *)"second", 6, create, &seen),
                 BLOBIO_STATUS_ALREADY_EXISTS);
    CHECK(seen == untouched); /* out-parameters are written only on success */
    struct counter_src src = {1000, 0};
    CHECK_STATUS(blobio_write_from_ex(store, once, counter_read, &src, -1, create, NULL),
                 BLOBIO_STATUS_ALREADY_EXISTS);
    check_text(store, once, "first");

    if (full) {
        pthread_barrier_t start;
        pthread_barrier_init(&start, NULL, 8);
        struct create_racer racers[8];
        pthread_t threads[8];
        for (int i = 0; i < 8; i++) {
            racers[i] = (struct create_racer){store, raced, create, &start, {0}, BLOBIO_STATUS_OTHER};
            snprintf(racers[i].text, sizeof racers[i].text, "racer %d", i);
            pthread_create(&threads[i], NULL, create_racer_main, &racers[i]);
        }
        int winners = 0, winner = -1;
        for (int i = 0; i < 8; i++) {
            pthread_join(threads[i], NULL);
            if (racers[i].status == BLOBIO_STATUS_OK) {
                winners++;
                winner = i;
            } else {
                CHECK_STATUS(racers[i].status, BLOBIO_STATUS_ALREADY_EXISTS);
            }
        }
        pthread_barrier_destroy(&start);
        CHECK(winners == 1);
        if (winner >= 0) check_text(store, raced, racers[winner].text);

        char *p1 = NULL, *p2 = NULL;
        CHECK_OK(blobio_write_ex(store, pointer, (const uint8_t *)"one", 3, NULL, &p1));
        if (p1) {
            CHECK_OK(blobio_put_options_set_mode(update, BLOBIO_PUT_UPDATE, p1));
            CHECK_OK(blobio_write_ex(store, pointer, (const uint8_t *)"two", 3, update, &p2));
            CHECK(p2 != NULL && strcmp(p1, p2) != 0);
            /* p1 is stale now. */
            CHECK_STATUS(blobio_write_ex(store, pointer, (const uint8_t *)"three", 5, update, NULL),
                         BLOBIO_STATUS_PRECONDITION_FAILED);
            src = (struct counter_src){1000, 0};
            CHECK_STATUS(blobio_write_from_ex(store, pointer, counter_read, &src, 1000, update, NULL),
                         BLOBIO_STATUS_PRECONDITION_FAILED);
            check_text(store, pointer, "two");
            if (p2) {
                CHECK_OK(blobio_put_options_set_mode(update, BLOBIO_PUT_UPDATE, p2));
                src = (struct counter_src){1000, 0};
                CHECK_OK(blobio_write_from_ex(store, pointer, counter_read, &src, 1000, update, NULL));
            }
        }
        blobio_string_free(p1);
        blobio_string_free(p2);
        CHECK_OK(blobio_delete(store, raced));
        CHECK_OK(blobio_delete(store, pointer));
    }
    blobio_string_free(v1);
    CHECK_OK(blobio_delete(store, once));
    blobio_put_options_free(create);
    blobio_put_options_free(update);
    blobio_put_options_free(NULL);
}

/* blobio_head after a blobio_write_ex with a content type and metadata:
 * size, the version the write reported, a modification time, the type and
 * the metadata (sorted by name); the .parquet default without a type; a
 * missing key NOT_FOUND; a bad metadata name refused by the setter. */
static inline void check_head_and_metadata(blobio_store *store, const char *dir) {
    char csv[256], parquet[256], missing[256];
    snprintf(csv, sizeof csv, "%s/table.csv", dir);
    snprintf(parquet, sizeof parquet, "%s/part-0.parquet", dir);
    snprintf(missing, sizeof missing, "%s/missing", dir);
    blobio_put_options *opts = NULL;
    CHECK_OK(blobio_put_options_new(&opts));
    if (!opts) return;
    CHECK_OK(blobio_put_options_set_content_type(opts, "text/csv"));
    CHECK_OK(blobio_put_options_set_metadata(opts, "rows", "41"));
    CHECK_OK(blobio_put_options_set_metadata(opts, "rows", "42")); /* replaces */
    CHECK_OK(blobio_put_options_set_metadata(opts, "owner", "arc team"));
    CHECK_OK(blobio_put_options_set_metadata(opts, "gone", "x"));
    CHECK_OK(blobio_put_options_set_metadata(opts, "gone", NULL)); /* removes */
    CHECK_STATUS(blobio_put_options_set_metadata(opts, "Bad-Name", "x"),
                 BLOBIO_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(blobio_put_options_set_metadata(opts, "ok", "tab\there"),
                 BLOBIO_STATUS_INVALID_ARGUMENT);
    char *version = NULL;
    CHECK_OK(blobio_write_ex(store, csv, (const uint8_t *)"a,b\n", 4, opts, &version));
    blobio_object_meta *meta = NULL;
    CHECK_OK(blobio_head(store, csv, &meta));
    CHECK(blobio_object_meta_size(meta) == 4);
    const char *v = blobio_object_meta_version(meta);
    CHECK(v && version && strcmp(v, version) == 0);
    int64_t ms = 0;
    CHECK(blobio_object_meta_last_modified(meta, &ms) && ms > 1700000000000LL);
    const char *ct = blobio_object_meta_content_type(meta);
    CHECK(ct && strcmp(ct, "text/csv") == 0);
    CHECK(blobio_object_meta_metadata_len(meta) == 2);
    const char *n0 = blobio_object_meta_metadata_name(meta, 0);
    const char *v1 = blobio_object_meta_metadata_value(meta, 1);
    CHECK(n0 && strcmp(n0, "owner") == 0);
    CHECK(v1 && strcmp(v1, "42") == 0);
    const char *rows = blobio_object_meta_metadata_get(meta, "rows");
    CHECK(rows && strcmp(rows, "42") == 0);
    CHECK(blobio_object_meta_metadata_get(meta, "gone") == NULL);
    CHECK(blobio_object_meta_metadata_name(meta, 2) == NULL);
    blobio_object_meta_free(meta);
    blobio_string_free(version);

    CHECK_OK(blobio_write(store, parquet, (const uint8_t *)"PAR1", 4));
    meta = NULL;
    CHECK_OK(blobio_head(store, parquet, &meta));
    ct = blobio_object_meta_content_type(meta);
    CHECK(ct && strcmp(ct, "application/vnd.apache.parquet") == 0);
    CHECK(blobio_object_meta_metadata_len(meta) == 0);
    blobio_object_meta_free(meta);

    blobio_object_meta *untouched = (blobio_object_meta *)&ms;
    meta = untouched;
    CHECK_STATUS(blobio_head(store, missing, &meta), BLOBIO_STATUS_NOT_FOUND);
    CHECK(meta == untouched);
    CHECK(blobio_object_meta_size(NULL) == 0 && blobio_object_meta_version(NULL) == NULL);
    blobio_object_meta_free(NULL);
    CHECK_OK(blobio_delete(store, csv));
    CHECK_OK(blobio_delete(store, parquet));
    blobio_put_options_free(opts);
}

/* blobio_copy and blobio_rename under `dir`: the copy has the bytes,
 * content type and metadata and the version head reports; the rename
 * moves them; with `conditional`, a create onto an object is
 * ALREADY_EXISTS and changes nothing. Deletes what it wrote. */
static inline void check_copy_and_rename(blobio_store *store, const char *dir, bool conditional) {
    char src[256], dst[256], moved[256], missing[256];
    snprintf(src, sizeof src, "%s/src.txt", dir);
    snprintf(dst, sizeof dst, "%s/sub/dst.txt", dir);
    snprintf(moved, sizeof moved, "%s/moved.txt", dir);
    snprintf(missing, sizeof missing, "%s/missing", dir);
    blobio_put_options *opts = NULL, *create = NULL;
    CHECK_OK(blobio_put_options_new(&opts));
    CHECK_OK(blobio_put_options_new(&create));
    if (!opts || !create) return;
    CHECK_OK(blobio_put_options_set_content_type(opts, "text/plain"));
    CHECK_OK(blobio_put_options_set_metadata(opts, "tag", "x"));
    CHECK_OK(blobio_put_options_set_mode(create, BLOBIO_PUT_CREATE, NULL));
    CHECK_OK(blobio_write_ex(store, src, (const uint8_t *)"payload", 7, opts, NULL));

    char *version = NULL;
    CHECK_OK(blobio_copy(store, src, dst, NULL, &version));
    check_text(store, dst, "payload");
    check_text(store, src, "payload");
    blobio_object_meta *meta = NULL;
    CHECK_OK(blobio_head(store, dst, &meta));
    const char *v = blobio_object_meta_version(meta);
    CHECK(v && version && strcmp(v, version) == 0);
    const char *ct = blobio_object_meta_content_type(meta);
    CHECK(ct && strcmp(ct, "text/plain") == 0);
    const char *tag = blobio_object_meta_metadata_get(meta, "tag");
    CHECK(tag && strcmp(tag, "x") == 0);
    blobio_object_meta_free(meta);
    blobio_string_free(version);
    CHECK_STATUS(blobio_copy(store, src, src, NULL, NULL), BLOBIO_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(blobio_copy(store, src, moved, opts, NULL), BLOBIO_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(blobio_copy(store, missing, moved, NULL, NULL), BLOBIO_STATUS_NOT_FOUND);
    CHECK_STATUS(blobio_copy(store, NULL, moved, NULL, NULL), BLOBIO_STATUS_NULL_ARGUMENT);
    if (conditional) {
        CHECK_STATUS(blobio_copy(store, src, dst, create, NULL), BLOBIO_STATUS_ALREADY_EXISTS);
        CHECK_STATUS(blobio_rename(store, src, dst, create, NULL), BLOBIO_STATUS_ALREADY_EXISTS);
        check_text(store, src, "payload");
    }

    CHECK_OK(blobio_rename(store, dst, moved, create, NULL));
    check_text(store, moved, "payload");
    bool there = true;
    CHECK_OK(blobio_exists(store, dst, &there));
    CHECK(!there);
    CHECK_STATUS(blobio_rename(store, dst, moved, NULL, NULL), BLOBIO_STATUS_NOT_FOUND);
    CHECK_OK(blobio_delete(store, src));
    CHECK_OK(blobio_delete(store, moved));
    blobio_put_options_free(opts);
    blobio_put_options_free(create);
}

#endif
