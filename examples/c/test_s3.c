/*
 * C tests of blobio's S3 store against s3s-fs, which checks every SigV4
 * signature: stores opened with blobio_open("s3://BUCKET/PREFIX", options),
 * under blobio's option names and object_store's and DuckDB's aliases,
 * their settings read back with blobio_store_option. Built and run under ASan+UBSan by `make -C examples/c
 * test-servers`, which scripts/test runs with the servers up. Needs
 * BLOBIO_TEST_S3S_ENDPOINT, _ACCESS_KEY, _SECRET_KEY and BLOBIO_TEST_S3_BUCKET
 * (an existing bucket); a missing variable fails the run.
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "range_checks.h"
#include "store_checks.h"
#include "test_open.h"

static const char *endpoint, *access_key, *secret_key, *bucket;

/* The options of every store of these tests: s3s-fs's endpoint and keys,
 * path-style URLs (the default for an IP endpoint, said anyway). */
static struct blobio_options *base_options(void) {
    struct blobio_options *opts = new_options();
    SET_OPTION(opts, "endpoint", endpoint);
    SET_OPTION(opts, "region", "us-east-1");
    SET_OPTION(opts, "access_key_id", access_key);
    SET_OPTION(opts, "secret_access_key", secret_key);
    SET_OPTION(opts, "url_style", "path");
    return opts;
}

/* s3://BUCKET/PREFIX (s3://BUCKET when `prefix` is NULL). */
static const char *s3_url(const char *prefix) {
    static char url[512];
    if (prefix) snprintf(url, sizeof url, "s3://%s/%s", bucket, prefix);
    else snprintf(url, sizeof url, "s3://%s", bucket);
    return url;
}

/* A store under `prefix`, opened with `opts` (freed). */
static blobio_store *open_s3_with(const char *prefix, struct blobio_options *opts) {
    return open_url(s3_url(prefix), opts);
}

static blobio_store *open_s3(const char *prefix) {
    return open_s3_with(prefix, base_options());
}

/* ------------------------------------------------------------------ tests */

static void test_open_checks_its_arguments(void) {
    blobio_store *store = NULL;
    struct blobio_options *opts = base_options();
    CHECK_STATUS(blobio_open(NULL, opts, &store), BLOBIO_STATUS_NULL_ARGUMENT);
    CHECK(last_error_has("url"));
    CHECK_STATUS(blobio_open(s3_url(NULL), opts, NULL), BLOBIO_STATUS_NULL_ARGUMENT);
    CHECK(last_error_has("out"));
    /* No bucket. */
    CHECK_STATUS(blobio_open("s3://", opts, &store), BLOBIO_STATUS_INVALID_ARGUMENT);
    CHECK(last_error_has("bucket"));
    CHECK_STATUS(blobio_open("s3:///prefix", opts, &store), BLOBIO_STATUS_INVALID_ARGUMENT);
    blobio_options_free(opts);
    /* Below S3's 5 MiB minimum part: the option reads, the store refuses it. */
    opts = base_options();
    SET_OPTION(opts, "part_size", "1024");
    open_fails(s3_url(NULL), opts, BLOBIO_STATUS_INVALID_ARGUMENT, "part");
    /* An access key without its secret. */
    opts = new_options();
    SET_OPTION(opts, "endpoint", endpoint);
    SET_OPTION(opts, "region", "us-east-1");
    SET_OPTION(opts, "access_key_id", "only-a-key");
    open_fails(s3_url(NULL), opts, BLOBIO_STATUS_INVALID_ARGUMENT, NULL);
    CHECK(store == NULL);
}

static void test_round_trip_list_and_delete(void) {
    blobio_store *store = open_s3("c-roundtrip");
    const struct round_trip spec = {"s3", "db", "a.parquet", "b.bin", "NoSuchKey"};
    check_round_trip(store, &spec);
    blobio_store_free(store);
}

/* s3s-fs 0.14 checks If-None-Match before it writes (racing creates all
 * win) and ignores If-Match: only the sequential create is checked here;
 * the race and the updates run on local and Azurite (and on moto in
 * tests/s3.rs). */
static void test_conditional_writes(void) {
    blobio_store *store = open_s3("c-conditional");
    check_conditional_writes(store, "conditional", false);
    blobio_store_free(store);
}

static void test_head_and_metadata(void) {
    blobio_store *store = open_s3("c-head");
    check_head_and_metadata(store, "head");
    blobio_store_free(store);
}

/* s3s-fs ignores conditions on CopyObject: the modes are checked on local
 * and Azurite. */
static void test_copy_and_rename(void) {
    blobio_store *store = open_s3("c-copy");
    check_copy_and_rename(store, "copy", false);
    blobio_store_free(store);
}

static void test_streamed_multipart_write_and_read(void) {
    struct blobio_options *opts = base_options();
    SET_OPTION(opts, "part_size", "5MiB");
    /* Reads of 1 MiB and more go as parallel 1 MiB ranges, 3 in flight. */
    SET_OPTION(opts, "download_threshold", "1 MiB");
    SET_OPTION_U64(opts, "download_part_size", 1u << 20);
    SET_OPTION(opts, "download_concurrency", "3");
    SET_OPTION(opts, "coalesce_gap", "64KiB");
    blobio_store *store = open_s3_with("c-stream", opts);
    if (!store) return;
    char *json = NULL;
    CHECK_OK(blobio_store_config_json(store, &json));
    CHECK(json && strstr(json, "\"download_part_size\":1048576") != NULL);
    CHECK(json && strstr(json, "\"download_concurrency\":3") != NULL);
    CHECK(json && strstr(json, "\"coalesce_gap\":65536") != NULL);
    blobio_string_free(json);
    /* Unknown size: goes multipart in 5 MiB parts. */
    check_streamed(store, "streamed.bin", (11u << 20) + 77u);
    check_read_ranges(store, "ranges.bin");
    check_presign(store, "presigned file.txt");
    blobio_store_free(store);
}

/* Records the log callback received: level, target and message. */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int log_count, log_info_from_s3, log_bad_level, log_secret_shown;
static void *log_user_seen;

static void keep_log(void *user, int32_t level, const char *target, const char *message) {
    pthread_mutex_lock(&log_lock);
    log_count++;
    log_user_seen = user;
    if (level < BLOBIO_LOG_ERROR || level > BLOBIO_LOG_TRACE) log_bad_level++;
    if (level == BLOBIO_LOG_INFO && strcmp(target, "blobio::s3") == 0 && strstr(message, bucket))
        log_info_from_s3++;
    if (strstr(message, secret_key) || strstr(target, secret_key)) log_secret_shown++;
    pthread_mutex_unlock(&log_lock);
}

static void test_log_callback_receives_records(void) {
    static int user_data;
    CHECK_STATUS(blobio_set_log_callback(9, keep_log, NULL), BLOBIO_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(blobio_set_log_callback(-1, keep_log, NULL), BLOBIO_STATUS_INVALID_ARGUMENT);
    CHECK_OK(blobio_set_log_callback(BLOBIO_LOG_INFO, keep_log, &user_data));

    /* Opening says where the credentials came from, at info; a large read
     * runs on worker threads. */
    struct blobio_options *opts = base_options();
    SET_OPTION(opts, "download_threshold", "1MiB");
    SET_OPTION(opts, "download_part_size", "1MiB");
    blobio_store *store = open_s3_with("c-log", opts);
    if (store) {
        check_read_ranges(store, "logged.bin");
        blobio_store_free(store);
    }
    pthread_mutex_lock(&log_lock);
    int seen = log_count;
    CHECK(seen > 0);
    CHECK(log_info_from_s3 > 0);
    CHECK(log_bad_level == 0);
    CHECK(log_secret_shown == 0);
    CHECK(log_user_seen == &user_data);
    pthread_mutex_unlock(&log_lock);

    /* Removed: nothing more arrives. */
    CHECK_OK(blobio_set_log_callback(BLOBIO_LOG_TRACE, NULL, NULL));
    store = open_s3("c-log");
    blobio_store_free(store);
    pthread_mutex_lock(&log_lock);
    CHECK(log_count == seen);
    pthread_mutex_unlock(&log_lock);
}

static void test_stats_count_calls_and_requests(void) {
    blobio_store *store = open_s3("c-stats");
    if (!store) return;
    CHECK_OK(blobio_store_stats_reset(store));
    CHECK_OK(blobio_write(store, "s.txt", (const uint8_t *)"abc", 3));
    blobio_buffer buf = {0};
    CHECK_OK(blobio_read(store, "s.txt", &buf));
    blobio_buffer_free(&buf);
    CHECK_STATUS(blobio_read(store, "missing.txt", &buf), BLOBIO_STATUS_NOT_FOUND);
    char *json = NULL;
    CHECK_OK(blobio_store_stats_json(store, &json));
    CHECK(json && strstr(json, "\"requests_total\":3") != NULL);
    CHECK(json && strstr(json, "\"write\":{\"count\":1,\"errors\":0") != NULL);
    CHECK(json && strstr(json, "\"read\":{\"count\":2,\"errors\":1") != NULL);
    CHECK(json && strstr(json, "\"GET\":{\"2xx\":1,\"4xx\":1}") != NULL);
    CHECK(json && strstr(json, "\"not_found\":1") != NULL);
    CHECK(json && strstr(json, secret_key) == NULL);
    blobio_string_free(json);
    CHECK_OK(blobio_store_stats_reset(store));
    CHECK_OK(blobio_store_stats_json(store, &json));
    CHECK(json && strstr(json, "\"requests_total\":0") != NULL);
    blobio_string_free(json);
    CHECK_STATUS(blobio_store_stats_json(NULL, &json), BLOBIO_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(blobio_store_stats_json(store, NULL), BLOBIO_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(blobio_store_stats_reset(NULL), BLOBIO_STATUS_NULL_ARGUMENT);
    CHECK_OK(blobio_delete(store, "s.txt"));
    blobio_store_free(store);
}

static void test_wrong_secret_is_permission_denied(void) {
    struct blobio_options *opts = base_options();
    SET_OPTION(opts, "secret_access_key", "not-the-secret"); /* the last value wins */
    blobio_store *store = open_s3_with("c-denied", opts);
    if (!store) return;
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
    blobio_store *local = open_url(dir, NULL);
    s = NULL;
    CHECK_STATUS(blobio_s3_path(local, "x", &s), BLOBIO_STATUS_UNSUPPORTED);
    CHECK(s == NULL);
    blobio_store_free(local);
    rmdir(dir);
}

/* Writes and reads one small object: the store signs what s3s-fs accepts. */
static void check_signed_round_trip(blobio_store *store, const char *path) {
    CHECK_OK(blobio_write(store, path, (const uint8_t *)"aliased", 7));
    blobio_buffer buf = {0};
    CHECK_OK(blobio_read(store, path, &buf));
    CHECK(buf.len == 7 && memcmp(buf.data, "aliased", 7) == 0);
    blobio_buffer_free(&buf);
    CHECK_OK(blobio_delete(store, path));
}

/* object_store's and DuckDB's names, and the URL forms: the same store,
 * each proven by a request that s3s-fs must accept (it checks SigV4). */
static void test_aliases_and_url_forms_reach_s3s_fs(void) {
    /* DuckDB secret names: key_id, secret, region; endpoint as a bare
     * host:port with use_ssl=false (inverted: plain http). */
    const char *hostport = strstr(endpoint, "://") ? strstr(endpoint, "://") + 3 : endpoint;
    struct blobio_options *opts = new_options();
    SET_OPTION(opts, "KEY_ID", access_key);
    SET_OPTION(opts, "Secret", secret_key);
    SET_OPTION(opts, "region", "us-east-1");
    SET_OPTION(opts, "endpoint", hostport);
    SET_OPTION(opts, "use_ssl", "false");
    SET_OPTION(opts, "url_style", "path");
    blobio_store *store = open_s3_with("c-duckdb", opts);
    if (store) {
        CHECK(option_is(store, "allow_http", "true"));
        check_signed_round_trip(store, "duckdb.txt");
    }
    blobio_store_free(store);

    /* object_store names: aws_access_key_id, aws_secret_access_key,
     * aws_region, aws_endpoint, aws_virtual_hosted_style_request=false. */
    opts = new_options();
    SET_OPTION(opts, "aws_access_key_id", access_key);
    SET_OPTION(opts, "aws_secret_access_key", secret_key);
    SET_OPTION(opts, "aws_region", "us-east-1");
    SET_OPTION(opts, "aws_endpoint", endpoint);
    SET_OPTION(opts, "aws_virtual_hosted_style_request", "false");
    store = open_s3_with("c-object-store", opts);
    if (store) {
        CHECK(option_is(store, "url_style", "path"));
        CHECK(option_is(store, "region", "us-east-1"));
        check_signed_round_trip(store, "object_store.txt");
    }
    blobio_store_free(store);

    /* No url_style: an IP endpoint means path style. s3a:// is s3://, and
     * the prefix may come as an option instead of in the URL. */
    opts = new_options();
    SET_OPTION(opts, "endpoint", endpoint);
    SET_OPTION(opts, "region", "us-east-1");
    SET_OPTION(opts, "access_key_id", access_key);
    SET_OPTION(opts, "secret_access_key", secret_key);
    SET_OPTION(opts, "prefix", "c-s3a");
    char url[512];
    snprintf(url, sizeof url, "s3a://%s", bucket);
    store = open_url(url, opts);
    if (store) {
        CHECK(strcmp(blobio_store_kind(store), "s3") == 0);
        CHECK(option_is(store, "url_style", "path"));
        CHECK(option_is(store, "prefix", "c-s3a/"));
        check_signed_round_trip(store, "s3a.txt");
    }
    blobio_store_free(store);

    /* The URL's prefix and the option disagree: refused, naming both. */
    opts = base_options();
    SET_OPTION(opts, "prefix", "other");
    open_fails(s3_url("c-one"), opts, BLOBIO_STATUS_INVALID_ARGUMENT, "prefix");
    /* An Azure key on s3://. */
    opts = base_options();
    SET_OPTION(opts, "account_name", "devstoreaccount1");
    open_fails(s3_url(NULL), opts, BLOBIO_STATUS_INVALID_ARGUMENT, "account_name");
}

/* blobio_store_option reads back every non-secret setting; secrets are
 * PERMISSION_DENIED, and neither config_json nor a message shows one. */
static void test_store_option_reads_settings_back_but_never_a_secret(void) {
    struct blobio_options *opts = base_options();
    SET_OPTION(opts, "part_size", "6MiB");
    SET_OPTION(opts, "download_concurrency", "2");
    blobio_store *store = open_s3_with("c-option/deeper", opts);
    if (!store) return;
    CHECK(option_is(store, "bucket", bucket));
    CHECK(option_is(store, "aws_bucket", bucket));
    CHECK(option_is(store, "prefix", "c-option/deeper/"));
    CHECK(option_is(store, "region", "us-east-1"));
    CHECK(option_is(store, "AWS_REGION", "us-east-1"));
    CHECK(option_is(store, "endpoint", endpoint));
    CHECK(option_is(store, "url_style", "path"));
    CHECK(option_is(store, "part_size", "6291456"));
    CHECK(option_is(store, "download_concurrency", "2"));
    CHECK(option_is(store, "resilient", "false"));
    const char *secrets[] = {"secret_access_key", "aws_secret_access_key", "secret",
                             "access_key_id",     "key_id",                "session_token",
                             "token"};
    for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++) {
        CHECK(option_refused(store, secrets[i], BLOBIO_STATUS_PERMISSION_DENIED));
        CHECK(!last_error_has(secret_key));
    }
    /* Unknown keys, and settings an S3 store does not have. */
    CHECK(option_refused(store, "no_such_option", BLOBIO_STATUS_INVALID_ARGUMENT));
    CHECK(last_error_has("no_such_option"));
    CHECK(option_refused(store, "container", BLOBIO_STATUS_INVALID_ARGUMENT));
    CHECK(option_refused(store, "base_path", BLOBIO_STATUS_INVALID_ARGUMENT));
    char *s = NULL;
    CHECK_STATUS(blobio_store_option(NULL, "bucket", &s), BLOBIO_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(blobio_store_option(store, NULL, &s), BLOBIO_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(blobio_store_option(store, "bucket", NULL), BLOBIO_STATUS_NULL_ARGUMENT);
    CHECK(s == NULL);
    blobio_store_free(store);

    /* A session token, however it was set, is in no JSON and no message. */
    opts = base_options();
    SET_OPTION(opts, "aws_session_token", "c-session-token-value");
    store = open_s3_with("c-option", opts);
    if (!store) return;
    char *json = NULL;
    CHECK_OK(blobio_store_config_json(store, &json));
    CHECK(json && strstr(json, secret_key) == NULL);
    CHECK(json && strstr(json, "c-session-token-value") == NULL);
    CHECK(json && strstr(json, "\"bucket\"") != NULL);
    blobio_string_free(json);
    CHECK(option_refused(store, "session_token", BLOBIO_STATUS_PERMISSION_DENIED));
    CHECK(!last_error_has("c-session-token-value"));
    blobio_store_free(store);
}

int main(void) {
    endpoint = need_env("BLOBIO_TEST_S3S_ENDPOINT");
    access_key = need_env("BLOBIO_TEST_S3S_ACCESS_KEY");
    secret_key = need_env("BLOBIO_TEST_S3S_SECRET_KEY");
    bucket = need_env("BLOBIO_TEST_S3_BUCKET");
    static const struct test_case tests[] = {
        {"open_checks_its_arguments", test_open_checks_its_arguments},
        {"round_trip_list_and_delete", test_round_trip_list_and_delete},
        {"streamed_multipart_write_and_read", test_streamed_multipart_write_and_read},
        {"log_callback_receives_records", test_log_callback_receives_records},
        {"stats_count_calls_and_requests", test_stats_count_calls_and_requests},
        {"conditional_writes", test_conditional_writes},
        {"head_and_metadata", test_head_and_metadata},
        {"copy_and_rename", test_copy_and_rename},
        {"wrong_secret_is_permission_denied", test_wrong_secret_is_permission_denied},
        {"config_json_has_no_secret", test_config_json_has_no_secret},
        {"path_helpers", test_path_helpers},
        {"aliases_and_url_forms_reach_s3s_fs", test_aliases_and_url_forms_reach_s3s_fs},
        {"store_option_reads_settings_back_but_never_a_secret",
         test_store_option_reads_settings_back_but_never_a_secret},
    };
    int passed = 0, failed = 0;
    run_tests(tests, sizeof tests / sizeof tests[0], &passed, &failed);
    printf("\n%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
