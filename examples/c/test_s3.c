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

#include "store_checks.h"

static const char *endpoint, *access_key, *secret_key, *bucket;

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
    const struct round_trip spec = {"s3", "db", "a.parquet", "b.bin", "NoSuchKey"};
    check_round_trip(store, &spec);
    blobio_store_free(store);
}

static void test_streamed_multipart_write_and_read(void) {
    blobio_s3_config cfg = base_config("c-stream");
    cfg.part_size = 5u << 20;
    /* Reads of 1 MiB and more go as parallel 1 MiB ranges, 3 in flight. */
    cfg.download_threshold = 1u << 20;
    cfg.download_part_size = 1u << 20;
    cfg.download_concurrency = 3;
    blobio_store *store = NULL;
    CHECK_OK(blobio_s3_new(&cfg, &store));
    char *json = NULL;
    CHECK_OK(blobio_store_config_json(store, &json));
    CHECK(json && strstr(json, "\"download_part_size\":1048576") != NULL);
    CHECK(json && strstr(json, "\"download_concurrency\":3") != NULL);
    blobio_string_free(json);
    /* Unknown size: goes multipart in 5 MiB parts. */
    check_streamed(store, "streamed.bin", (11u << 20) + 77u);
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
