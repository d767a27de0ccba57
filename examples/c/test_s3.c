/*
 * C tests of blobio's S3 store against s3s-fs, which checks every SigV4
 * signature. Built and run under ASan+UBSan by `make -C examples/c
 * test-servers`, which scripts/test runs with the servers up. Needs
 * BLOBIO_TEST_S3S_ENDPOINT, _ACCESS_KEY, _SECRET_KEY and BLOBIO_TEST_S3_BUCKET
 * (an existing bucket); a missing variable fails the run.
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "test_harness.h"

static const char *endpoint, *access_key, *secret_key, *bucket;

static const char *need_env(const char *name) {
    const char *v = getenv(name);
    if (!v || !*v) {
        fprintf(stderr, "%s is not set: run these tests through scripts/test\n", name);
        exit(2);
    }
    return v;
}

static blobio_s3_config base_config(const char *prefix) {
    blobio_s3_config cfg = {0};
    cfg.bucket = bucket;
    cfg.endpoint = endpoint;
    cfg.region = "us-east-1";
    cfg.access_key = access_key;
    cfg.secret_key = secret_key;
    cfg.path_style = true;
    cfg.prefix = prefix;
    return cfg;
}

static blobio_store *open_s3(const char *prefix) {
    blobio_s3_config cfg = base_config(prefix);
    blobio_store *store = NULL;
    CHECK_OK(blobio_s3_new(&cfg, &store));
    CHECK(store != NULL);
    return store;
}

/* ------------------------------------------------------------------ tests */

static void test_s3_new_checks_its_arguments(void) {
    blobio_store *store = NULL;
    CHECK_STATUS(blobio_s3_new(NULL, &store), BLOBIO_STATUS_NULL_ARGUMENT);
    blobio_s3_config cfg = base_config(NULL);
    CHECK_STATUS(blobio_s3_new(&cfg, NULL), BLOBIO_STATUS_NULL_ARGUMENT);
    cfg.bucket = NULL;
    CHECK_STATUS(blobio_s3_new(&cfg, &store), BLOBIO_STATUS_NULL_ARGUMENT);
    CHECK(last_error_has("cfg->bucket"));
    cfg.bucket = "";
    CHECK_STATUS(blobio_s3_new(&cfg, &store), BLOBIO_STATUS_INVALID_ARGUMENT);
    cfg = base_config(NULL);
    cfg.part_size = 1024; /* below S3's 5 MiB minimum */
    CHECK_STATUS(blobio_s3_new(&cfg, &store), BLOBIO_STATUS_INVALID_ARGUMENT);
    cfg = base_config(NULL);
    cfg.secret_key = NULL;
    cfg.access_key = "only-a-key";
    CHECK_STATUS(blobio_s3_new(&cfg, &store), BLOBIO_STATUS_INVALID_ARGUMENT);
    CHECK(store == NULL);
}

static void test_round_trip_list_and_delete(void) {
    blobio_store *store = open_s3("c-roundtrip");
    CHECK(strcmp(blobio_store_kind(store), "s3") == 0);
    const char *text = "hello from C over SigV4";
    CHECK_OK(blobio_write(store, "db/cpu/a.parquet", (const uint8_t *)text, strlen(text)));
    CHECK_OK(blobio_write(store, "db/mem/b.bin", (const uint8_t *)"xy", 2));

    blobio_buffer buf = {0};
    CHECK_OK(blobio_read(store, "db/cpu/a.parquet", &buf));
    CHECK(buf.len == strlen(text) && memcmp(buf.data, text, buf.len) == 0);
    blobio_buffer_free(&buf);

    struct blobio_list *keys = NULL;
    CHECK_OK(blobio_list(store, "db/", &keys));
    CHECK(blobio_list_len(keys) == 2);
    CHECK(keys && strcmp(blobio_list_get(keys, 0), "db/cpu/a.parquet") == 0);
    CHECK(keys && strcmp(blobio_list_get(keys, 1), "db/mem/b.bin") == 0);
    blobio_list_free(keys);

    struct blobio_list *dirs = NULL;
    CHECK_OK(blobio_list_directories(store, "db", &dirs));
    CHECK(blobio_list_len(dirs) == 2);
    CHECK(dirs && strcmp(blobio_list_get(dirs, 0), "cpu") == 0);
    blobio_list_free(dirs);

    blobio_object_list *objs = NULL;
    CHECK_OK(blobio_list_objects(store, "db/cpu", &objs));
    CHECK(blobio_object_list_len(objs) == 1);
    blobio_object_info info = {0};
    CHECK_OK(blobio_object_list_get(objs, 0, &info));
    CHECK(info.size == strlen(text));
    CHECK(info.last_modified_unix_ms > 1600000000000LL);
    blobio_object_list_free(objs);

    uint8_t part[5] = {0};
    size_t n = 0;
    CHECK_OK(blobio_read_range(store, "db/cpu/a.parquet", 6, part, sizeof part, &n));
    CHECK(n == 5 && memcmp(part, "from ", 5) == 0);
    CHECK_STATUS(blobio_read_range(store, "db/cpu/a.parquet", strlen(text), part, 1, &n),
                 BLOBIO_STATUS_INVALID_ARGUMENT);

    int64_t size = 0;
    CHECK_OK(blobio_stat(store, "db/mem/b.bin", &size));
    CHECK(size == 2);
    CHECK_OK(blobio_stat(store, "db/missing", &size));
    CHECK(size == -1);

    const char *batch[] = {"db/cpu/a.parquet", "db/mem/b.bin", "db/never-existed"};
    CHECK_OK(blobio_delete_batch(store, batch, 3));
    bool exists = true;
    CHECK_OK(blobio_exists(store, "db/cpu/a.parquet", &exists));
    CHECK(!exists);
    CHECK_STATUS(blobio_read(store, "db/cpu/a.parquet", &buf), BLOBIO_STATUS_NOT_FOUND);
    CHECK(blobio_last_error_http_status() == 404);
    CHECK(buf.data == NULL);
    blobio_store_free(store);
}

struct counter_src {
    size_t remaining, given;
};

static int32_t counter_read(void *user, uint8_t *out, size_t cap, size_t *out_n) {
    struct counter_src *src = user;
    size_t n = cap < src->remaining ? cap : src->remaining;
    for (size_t i = 0; i < n; i++) out[i] = (uint8_t)((src->given + i) % 251u);
    src->given += n;
    src->remaining -= n;
    *out_n = n;
    return 0;
}

struct check_sink {
    size_t seen;
    bool ok;
};

static int32_t check_write(void *user, const uint8_t *data, size_t len) {
    struct check_sink *sink = user;
    for (size_t i = 0; i < len; i++) {
        if (data[i] != (uint8_t)((sink->seen + i) % 251u)) sink->ok = false;
    }
    sink->seen += len;
    return 0;
}

static void test_streamed_multipart_write_and_read(void) {
    blobio_s3_config cfg = base_config("c-stream");
    cfg.part_size = 5u << 20;
    blobio_store *store = NULL;
    CHECK_OK(blobio_s3_new(&cfg, &store));
    /* Unknown size: goes multipart in 5 MiB parts. */
    size_t total = (11u << 20) + 77u;
    struct counter_src src = {total, 0};
    CHECK_OK(blobio_write_from(store, "streamed.bin", counter_read, &src, -1));
    struct check_sink sink = {0, true};
    uint64_t written = 0;
    CHECK_OK(blobio_read_to(store, "streamed.bin", check_write, &sink, &written));
    CHECK(written == total && sink.seen == total && sink.ok);
    /* From the middle. */
    sink = (struct check_sink){total - 1000, true};
    CHECK_OK(blobio_read_to_at(store, "streamed.bin", total - 1000, check_write, &sink, &written));
    CHECK(written == 1000 && sink.ok);
    CHECK_STATUS(blobio_append_from(store, "streamed.bin", counter_read, &src, 1),
                 BLOBIO_STATUS_RESUME_NOT_SUPPORTED);
    CHECK_OK(blobio_delete(store, "streamed.bin"));
    blobio_store_free(store);
}

static void test_wrong_secret_is_permission_denied(void) {
    blobio_s3_config cfg = base_config("c-denied");
    cfg.secret_key = "not-the-secret";
    blobio_store *store = NULL;
    CHECK_OK(blobio_s3_new(&cfg, &store));
    CHECK_STATUS(blobio_write(store, "x", (const uint8_t *)"x", 1), BLOBIO_STATUS_PERMISSION_DENIED);
    CHECK(blobio_last_error_http_status() == 403);
    const char *code = blobio_last_error_code();
    CHECK(code != NULL && strcmp(code, "SignatureDoesNotMatch") == 0);
    bool exists = false;
    CHECK_STATUS(blobio_exists(store, "x", &exists), BLOBIO_STATUS_PERMISSION_DENIED);
    blobio_store_free(store);
}

static void test_config_json_has_no_secret(void) {
    blobio_store *store = open_s3("c-json");
    char *json = NULL;
    CHECK_OK(blobio_store_config_json(store, &json));
    CHECK(json && strstr(json, secret_key) == NULL);
    CHECK(json && strstr(json, "\"bucket\"") != NULL);
    CHECK(json && strstr(json, "\"prefix\":\"c-json/\"") != NULL);
    blobio_string_free(json);
    blobio_store_free(store);
}

static void test_path_helpers(void) {
    blobio_store *store = open_s3("arc");
    char *s = NULL;
    char expected[512];
    CHECK_OK(blobio_s3_path(store, "db/x.parquet", &s));
    snprintf(expected, sizeof expected, "s3://%s/arc/db/x.parquet", bucket);
    CHECK(s && strcmp(s, expected) == 0);
    blobio_string_free(s);

    CHECK_OK(blobio_s3_query_path(store, "mydb", "cpu", 2025, 11, 25, 16, &s));
    snprintf(expected, sizeof expected, "s3://%s/arc/mydb/cpu/2025/11/25/16/*.parquet", bucket);
    CHECK(s && strcmp(s, expected) == 0);
    blobio_string_free(s);
    CHECK_OK(blobio_s3_query_path(store, "mydb", "cpu", 2025, 11, -1, -1, &s));
    snprintf(expected, sizeof expected, "s3://%s/arc/mydb/cpu/2025/11/*/*/*.parquet", bucket);
    CHECK(s && strcmp(s, expected) == 0);
    blobio_string_free(s);
    s = NULL;
    CHECK_STATUS(blobio_s3_query_path(store, "mydb", "cpu", 2025, 13, -1, -1, &s),
                 BLOBIO_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(blobio_s3_query_path(store, "my/db", "cpu", 2025, 1, -1, -1, &s),
                 BLOBIO_STATUS_INVALID_ARGUMENT);
    CHECK(s == NULL);

    /* 2026-10-31T16:00Z .. 2026-11-03T01:00Z: four UTC days. */
    struct blobio_list *days = NULL;
    CHECK_OK(blobio_s3_query_path_range(store, "metrics", "cpu", 1793462400, 1793667600, &days));
    CHECK(blobio_list_len(days) == 4);
    snprintf(expected, sizeof expected, "s3://%s/arc/metrics/cpu/2026/11/03/*/*.parquet", bucket);
    CHECK(days && strcmp(blobio_list_get(days, 3), expected) == 0);
    blobio_list_free(days);

    CHECK_OK(blobio_storage_path(store, "mydb", "cpu", &s));
    snprintf(expected, sizeof expected, "s3://%s/arc/mydb/cpu/**/*.parquet", bucket);
    CHECK(s && strcmp(s, expected) == 0);
    blobio_string_free(s);
    blobio_store_free(store);

    /* A local store has no S3 paths. */
    char dir[] = "/tmp/blobio-c-s3-local-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    blobio_store *local = NULL;
    CHECK_OK(blobio_local_new(dir, &local));
    s = NULL;
    CHECK_STATUS(blobio_s3_path(local, "x", &s), BLOBIO_STATUS_UNSUPPORTED);
    CHECK(s == NULL);
    blobio_store_free(local);
    rmdir(dir);
}

int main(void) {
    endpoint = need_env("BLOBIO_TEST_S3S_ENDPOINT");
    access_key = need_env("BLOBIO_TEST_S3S_ACCESS_KEY");
    secret_key = need_env("BLOBIO_TEST_S3S_SECRET_KEY");
    bucket = need_env("BLOBIO_TEST_S3_BUCKET");
    static const struct test_case tests[] = {
        {"s3_new_checks_its_arguments", test_s3_new_checks_its_arguments},
        {"round_trip_list_and_delete", test_round_trip_list_and_delete},
        {"streamed_multipart_write_and_read", test_streamed_multipart_write_and_read},
        {"wrong_secret_is_permission_denied", test_wrong_secret_is_permission_denied},
        {"config_json_has_no_secret", test_config_json_has_no_secret},
        {"path_helpers", test_path_helpers},
    };
    int passed = 0, failed = 0;
    run_tests(tests, sizeof tests / sizeof tests[0], &passed, &failed);
    printf("\n%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
