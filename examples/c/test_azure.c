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

#include "store_checks.h"

static const char *endpoint, *account, *key, *container;

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
    /* Keys with a space and characters a URL must escape; the batch delete
     * goes through the Blob Batch API. */
    const struct round_trip spec = {"azure", "c/db", "a b.parquet", "ü+%.bin", "BlobNotFound"};
    check_round_trip(store, &spec);
    blobio_store_free(store);
}

static void test_streamed_block_upload_and_read(void) {
    blobio_azure_config cfg = base_config();
    cfg.block_size = 1u << 20;
    cfg.upload_concurrency = 3;
    /* Reads of 1 MiB and more go as parallel 1 MiB ranges, 3 in flight. */
    cfg.download_threshold = 1u << 20;
    cfg.download_part_size = 1u << 20;
    cfg.download_concurrency = 3;
    blobio_store *store = NULL;
    CHECK_OK(blobio_azure_new(&cfg, &store));
    char *json = NULL;
    CHECK_OK(blobio_store_config_json(store, &json));
    CHECK(json && strstr(json, "\"download_threshold\":1048576") != NULL);
    blobio_string_free(json);
    /* Unknown size: staged in 1 MiB blocks, committed with Put Block List. */
    check_streamed(store, "c/streamed.bin", (5u << 20) + 77u);
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
