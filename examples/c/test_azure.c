/*
 * C tests of blobio's Azure Blob store against Azurite, which checks every
 * Shared Key signature. Built and run under ASan+UBSan by `make -C examples/c
 * test-servers`, which scripts/test runs with the servers up. Needs
 * BLOBIO_TEST_AZURITE_ENDPOINT, _ACCOUNT, _KEY and BLOBIO_TEST_AZURE_CONTAINER
 * (an existing container); a missing variable fails the run.
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>

#include "test_harness.h"

static const char *endpoint, *account, *key, *container;

static const char *need_env(const char *name) {
    const char *v = getenv(name);
    if (!v || !*v) {
        fprintf(stderr, "%s is not set: run these tests through scripts/test\n", name);
        exit(2);
    }
    return v;
}

static blobio_azure_config base_config(void) {
    blobio_azure_config cfg = {0};
    cfg.account_name = account;
    cfg.account_key = key;
    cfg.container_name = container;
    cfg.endpoint = endpoint;
    return cfg;
}

static blobio_store *open_azure(void) {
    blobio_azure_config cfg = base_config();
    blobio_store *store = NULL;
    CHECK_OK(blobio_azure_new(&cfg, &store));
    CHECK(store != NULL);
    return store;
}

/* ------------------------------------------------------------------ tests */

static void test_azure_new_checks_its_arguments(void) {
    blobio_store *store = NULL;
    CHECK_STATUS(blobio_azure_new(NULL, &store), BLOBIO_STATUS_NULL_ARGUMENT);
    blobio_azure_config cfg = base_config();
    CHECK_STATUS(blobio_azure_new(&cfg, NULL), BLOBIO_STATUS_NULL_ARGUMENT);
    cfg.container_name = NULL;
    CHECK_STATUS(blobio_azure_new(&cfg, &store), BLOBIO_STATUS_NULL_ARGUMENT);
    CHECK(last_error_has("cfg->container_name"));
    cfg.container_name = "";
    CHECK_STATUS(blobio_azure_new(&cfg, &store), BLOBIO_STATUS_INVALID_ARGUMENT);
    cfg.container_name = "Not_A_Container";
    CHECK_STATUS(blobio_azure_new(&cfg, &store), BLOBIO_STATUS_INVALID_ARGUMENT);
    /* A malformed connection string names the field, never the key. */
    cfg = base_config();
    char cs[512];
    snprintf(cs, sizeof cs, "AccountName=%s;AccountKey=%s%%%%;BlobEndpoint=%s", account, key,
             endpoint);
    cfg.connection_string = cs;
    CHECK_STATUS(blobio_azure_new(&cfg, &store), BLOBIO_STATUS_INVALID_ARGUMENT);
    CHECK(last_error_has("AccountKey"));
    CHECK(!last_error_has(key));
    /* An account without any credential. */
    cfg = base_config();
    cfg.account_key = NULL;
    if (!getenv("AZURE_STORAGE_KEY") && !getenv("AZURE_STORAGE_SAS_TOKEN") &&
        !getenv("AZURE_STORAGE_CONNECTION_STRING")) {
        CHECK_STATUS(blobio_azure_new(&cfg, &store), BLOBIO_STATUS_INVALID_ARGUMENT);
        CHECK(last_error_has("use_managed_identity"));
    }
    CHECK(store == NULL);
}

static void test_round_trip_list_and_batch_delete(void) {
    blobio_store *store = open_azure();
    CHECK(strcmp(blobio_store_kind(store), "azure") == 0);
    const char *text = "hello from C over Shared Key";
    CHECK_OK(blobio_write(store, "c/db/cpu/a b.parquet", (const uint8_t *)text, strlen(text)));
    CHECK_OK(blobio_write(store, "c/db/mem/ü+%.bin", (const uint8_t *)"xy", 2));

    blobio_buffer buf = {0};
    CHECK_OK(blobio_read(store, "c/db/cpu/a b.parquet", &buf));
    CHECK(buf.len == strlen(text) && memcmp(buf.data, text, buf.len) == 0);
    blobio_buffer_free(&buf);

    struct blobio_list *keys = NULL;
    CHECK_OK(blobio_list(store, "c/db/", &keys));
    CHECK(blobio_list_len(keys) == 2);
    CHECK(keys && strcmp(blobio_list_get(keys, 0), "c/db/cpu/a b.parquet") == 0);
    CHECK(keys && strcmp(blobio_list_get(keys, 1), "c/db/mem/ü+%.bin") == 0);
    blobio_list_free(keys);

    struct blobio_list *dirs = NULL;
    CHECK_OK(blobio_list_directories(store, "c/db", &dirs));
    CHECK(blobio_list_len(dirs) == 2);
    CHECK(dirs && strcmp(blobio_list_get(dirs, 1), "mem") == 0);
    blobio_list_free(dirs);

    blobio_object_list *objs = NULL;
    CHECK_OK(blobio_list_objects(store, "c/db/cpu", &objs));
    CHECK(blobio_object_list_len(objs) == 1);
    blobio_object_info info = {0};
    CHECK_OK(blobio_object_list_get(objs, 0, &info));
    CHECK(info.size == strlen(text));
    CHECK(info.last_modified_unix_ms > 1600000000000LL);
    blobio_object_list_free(objs);

    uint8_t part[4] = {0};
    size_t n = 0;
    CHECK_OK(blobio_read_range(store, "c/db/cpu/a b.parquet", 6, part, sizeof part, &n));
    CHECK(n == 4 && memcmp(part, "from", 4) == 0);
    CHECK_STATUS(blobio_read_range(store, "c/db/cpu/a b.parquet", strlen(text), part, 1, &n),
                 BLOBIO_STATUS_INVALID_ARGUMENT);

    int64_t size = 0;
    CHECK_OK(blobio_stat(store, "c/db/mem/ü+%.bin", &size));
    CHECK(size == 2);
    CHECK_OK(blobio_stat(store, "c/db/missing", &size));
    CHECK(size == -1);

    /* The Blob Batch API; a missing blob is not a failure. */
    const char *batch[] = {"c/db/cpu/a b.parquet", "c/db/mem/ü+%.bin", "c/db/never-existed"};
    CHECK_OK(blobio_delete_batch(store, batch, 3));
    bool exists = true;
    CHECK_OK(blobio_exists(store, "c/db/cpu/a b.parquet", &exists));
    CHECK(!exists);
    CHECK_STATUS(blobio_read(store, "c/db/cpu/a b.parquet", &buf), BLOBIO_STATUS_NOT_FOUND);
    CHECK(blobio_last_error_http_status() == 404);
    const char *code = blobio_last_error_code();
    CHECK(code != NULL && strcmp(code, "BlobNotFound") == 0);
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

static void test_streamed_block_upload_and_read(void) {
    blobio_azure_config cfg = base_config();
    cfg.block_size = 1u << 20;
    cfg.upload_concurrency = 3;
    blobio_store *store = NULL;
    CHECK_OK(blobio_azure_new(&cfg, &store));
    /* Unknown size: staged in 1 MiB blocks, committed with Put Block List. */
    size_t total = (5u << 20) + 77u;
    struct counter_src src = {total, 0};
    CHECK_OK(blobio_write_from(store, "c/streamed.bin", counter_read, &src, -1));
    struct check_sink sink = {0, true};
    uint64_t written = 0;
    CHECK_OK(blobio_read_to(store, "c/streamed.bin", check_write, &sink, &written));
    CHECK(written == total && sink.seen == total && sink.ok);
    sink = (struct check_sink){total - 1000, true};
    CHECK_OK(blobio_read_to_at(store, "c/streamed.bin", total - 1000, check_write, &sink, &written));
    CHECK(written == 1000 && sink.ok);
    CHECK_STATUS(blobio_append_from(store, "c/streamed.bin", counter_read, &src, 1),
                 BLOBIO_STATUS_RESUME_NOT_SUPPORTED);
    CHECK_OK(blobio_delete(store, "c/streamed.bin"));
    blobio_store_free(store);
}

static void test_connection_string_store(void) {
    char cs[512];
    snprintf(cs, sizeof cs, "DefaultEndpointsProtocol=http;AccountName=%s;AccountKey=%s;BlobEndpoint=%s;",
             account, key, endpoint);
    blobio_azure_config cfg = {0};
    cfg.connection_string = cs;
    cfg.container_name = container;
    blobio_store *store = NULL;
    CHECK_OK(blobio_azure_new(&cfg, &store));
    CHECK_OK(blobio_write(store, "c/cs.txt", (const uint8_t *)"cs", 2));
    int64_t size = 0;
    CHECK_OK(blobio_stat(store, "c/cs.txt", &size));
    CHECK(size == 2);
    CHECK_OK(blobio_delete(store, "c/cs.txt"));
    blobio_store_free(store);
}

static void test_wrong_key_is_permission_denied(void) {
    blobio_azure_config cfg = base_config();
    cfg.account_key = "bm90IHRoZSBhY2NvdW50IGtleQ==";
    blobio_store *store = NULL;
    CHECK_OK(blobio_azure_new(&cfg, &store));
    CHECK_STATUS(blobio_write(store, "x", (const uint8_t *)"x", 1), BLOBIO_STATUS_PERMISSION_DENIED);
    CHECK(blobio_last_error_http_status() == 403);
    const char *code = blobio_last_error_code();
    /* Azurite says AuthorizationFailure where Azure says AuthenticationFailed. */
    CHECK(code != NULL &&
          (strcmp(code, "AuthorizationFailure") == 0 || strcmp(code, "AuthenticationFailed") == 0));
    bool exists = false;
    CHECK_STATUS(blobio_exists(store, "x", &exists), BLOBIO_STATUS_PERMISSION_DENIED);
    blobio_store_free(store);
}

static void test_config_json_and_storage_path(void) {
    blobio_store *store = open_azure();
    char *json = NULL;
    CHECK_OK(blobio_store_config_json(store, &json));
    CHECK(json && strstr(json, key) == NULL);
    CHECK(json && strstr(json, "\"container\"") != NULL);
    CHECK(json && strstr(json, "\"account_name\"") != NULL);
    blobio_string_free(json);
    char *s = NULL;
    char expected[512];
    CHECK_OK(blobio_storage_path(store, "mydb", "cpu", &s));
    snprintf(expected, sizeof expected, "azure://%s/mydb/cpu/**/*.parquet", container);
    CHECK(s && strcmp(s, expected) == 0);
    blobio_string_free(s);
    /* No S3 paths on an Azure store. */
    s = NULL;
    CHECK_STATUS(blobio_s3_path(store, "x", &s), BLOBIO_STATUS_UNSUPPORTED);
    CHECK(s == NULL);
    blobio_store_free(store);
}

int main(void) {
    endpoint = need_env("BLOBIO_TEST_AZURITE_ENDPOINT");
    account = need_env("BLOBIO_TEST_AZURITE_ACCOUNT");
    key = need_env("BLOBIO_TEST_AZURITE_KEY");
    container = need_env("BLOBIO_TEST_AZURE_CONTAINER");
    static const struct test_case tests[] = {
        {"azure_new_checks_its_arguments", test_azure_new_checks_its_arguments},
        {"round_trip_list_and_batch_delete", test_round_trip_list_and_batch_delete},
        {"streamed_block_upload_and_read", test_streamed_block_upload_and_read},
        {"connection_string_store", test_connection_string_store},
        {"wrong_key_is_permission_denied", test_wrong_key_is_permission_denied},
        {"config_json_and_storage_path", test_config_json_and_storage_path},
    };
    int passed = 0, failed = 0;
    run_tests(tests, sizeof tests / sizeof tests[0], &passed, &failed);
    printf("\n%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
