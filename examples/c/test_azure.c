/*
 * C tests of blobio's Azure Blob store against Azurite, which checks every
 * Shared Key signature: stores opened with blobio_open("az://CONTAINER",
 * options), by account key or connection string, under blobio's option
 * names and object_store's aliases, their settings read back with
 * blobio_store_option. Built and run under ASan+UBSan by `make -C examples/c
 * test-servers`, which scripts/test runs with the servers up. Needs
 * BLOBIO_TEST_AZURITE_ENDPOINT, _ACCOUNT, _KEY and BLOBIO_TEST_AZURE_CONTAINER
 * (an existing container); a missing variable fails the run.
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>

#include "range_checks.h"
#include "store_checks.h"
#include "test_open.h"

static const char *endpoint, *account, *key, *container;

/* The options of every store of these tests: Azurite's account, key and
 * (path-style) endpoint. */
static struct blobio_options *base_options(void) {
    struct blobio_options *opts = new_options();
    SET_OPTION(opts, "account_name", account);
    SET_OPTION(opts, "account_key", key);
    SET_OPTION(opts, "endpoint", endpoint);
    return opts;
}

/* az://CONTAINER (az://CONTAINER/PREFIX when `prefix` is not NULL). */
static const char *az_url(const char *prefix) {
    static char url[512];
    if (prefix) snprintf(url, sizeof url, "az://%s/%s", container, prefix);
    else snprintf(url, sizeof url, "az://%s", container);
    return url;
}

static blobio_store *open_azure_with(struct blobio_options *opts) {
    return open_url(az_url(NULL), opts);
}

static blobio_store *open_azure(void) {
    return open_azure_with(base_options());
}

/* ------------------------------------------------------------------ tests */

static void test_open_checks_its_arguments(void) {
    blobio_store *store = NULL;
    struct blobio_options *opts = base_options();
    CHECK_STATUS(blobio_open(NULL, opts, &store), BLOBIO_STATUS_NULL_ARGUMENT);
    CHECK(last_error_has("url"));
    CHECK_STATUS(blobio_open(az_url(NULL), opts, NULL), BLOBIO_STATUS_NULL_ARGUMENT);
    /* No container, and one Azure does not allow. */
    CHECK_STATUS(blobio_open("az://", opts, &store), BLOBIO_STATUS_INVALID_ARGUMENT);
    CHECK(last_error_has("container"));
    CHECK_STATUS(blobio_open("az://Not_A_Container", opts, &store), BLOBIO_STATUS_INVALID_ARGUMENT);
    blobio_options_free(opts);
    /* A malformed connection string names the field, never the key. */
    opts = base_options();
    char cs[512];
    snprintf(cs, sizeof cs, "AccountName=%s;AccountKey=%s%%%%;BlobEndpoint=%s", account, key,
             endpoint);
    SET_OPTION(opts, "connection_string", cs);
    open_fails(az_url(NULL), opts, BLOBIO_STATUS_INVALID_ARGUMENT, "AccountKey");
    CHECK(!last_error_has(key));
    /* An account without any credential: none found, the chain's every step
     * listed (the endpoint is http, so no managed identity is tried). */
    if (!getenv("AZURE_STORAGE_KEY") && !getenv("AZURE_STORAGE_SAS_TOKEN") &&
        !getenv("AZURE_STORAGE_CONNECTION_STRING") && !getenv("AZURE_CLIENT_SECRET") &&
        !getenv("AZURE_FEDERATED_TOKEN_FILE")) {
        opts = new_options();
        SET_OPTION(opts, "account_name", account);
        SET_OPTION(opts, "endpoint", endpoint);
        open_fails(az_url(NULL), opts, BLOBIO_STATUS_PERMISSION_DENIED, "no Azure credentials found");
        CHECK(last_error_has("AZURE_CLIENT_SECRET") && last_error_has("skip_signature"));
    }
    /* An S3 key on az://. */
    opts = base_options();
    SET_OPTION(opts, "region", "us-east-1");
    open_fails(az_url(NULL), opts, BLOBIO_STATUS_INVALID_ARGUMENT, "region");
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

static void test_conditional_writes(void) {
    blobio_store *store = open_azure();
    check_conditional_writes(store, "c/conditional", true);
    blobio_store_free(store);
}

static void test_head_and_metadata(void) {
    blobio_store *store = open_azure();
    check_head_and_metadata(store, "c/head");
    blobio_store_free(store);
}

static void test_copy_and_rename(void) {
    blobio_store *store = open_azure();
    check_copy_and_rename(store, "c/copy", true);
    blobio_store_free(store);
}

static void test_streamed_block_upload_and_read(void) {
    struct blobio_options *opts = base_options();
    SET_OPTION(opts, "block_size", "1MiB"); /* Azure's name for part_size */
    SET_OPTION(opts, "upload_concurrency", "3");
    /* Reads of 1 MiB and more go as parallel 1 MiB ranges, 3 in flight. */
    SET_OPTION_U64(opts, "download_threshold", 1u << 20);
    SET_OPTION(opts, "download_part_size", "1 MiB");
    SET_OPTION(opts, "download_concurrency", "3");
    blobio_store *store = open_azure_with(opts);
    if (!store) return;
    char *json = NULL;
    CHECK_OK(blobio_store_config_json(store, &json));
    CHECK(json && strstr(json, "\"download_threshold\":1048576") != NULL);
    blobio_string_free(json);
    /* Unknown size: staged in 1 MiB blocks, committed with Put Block List. */
    check_streamed(store, "c/streamed.bin", (5u << 20) + 77u);
    check_read_ranges(store, "c/ranges.bin");
    check_presign(store, "c/presigned file.txt");
    blobio_store_free(store);
}

static void test_connection_string_store(void) {
    char cs[512];
    snprintf(cs, sizeof cs, "DefaultEndpointsProtocol=http;AccountName=%s;AccountKey=%s;BlobEndpoint=%s;",
             account, key, endpoint);
    struct blobio_options *opts = new_options();
    SET_OPTION(opts, "connection_string", cs);
    blobio_store *store = open_azure_with(opts);
    if (!store) return;
    CHECK_OK(blobio_write(store, "c/cs.txt", (const uint8_t *)"cs", 2));
    int64_t size = 0;
    CHECK_OK(blobio_stat(store, "c/cs.txt", &size));
    CHECK(size == 2);
    CHECK_OK(blobio_delete(store, "c/cs.txt"));
    blobio_store_free(store);
}

static void test_wrong_key_is_permission_denied(void) {
    struct blobio_options *opts = base_options();
    SET_OPTION(opts, "account_key", "bm90IHRoZSBhY2NvdW50IGtleQ=="); /* the last value wins */
    blobio_store *store = open_azure_with(opts);
    if (!store) return;
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

/* Writes, reads and deletes one small object: Azurite accepted the
 * Shared Key signature. */
static void check_signed_round_trip(blobio_store *store, const char *path) {
    CHECK_OK(blobio_write(store, path, (const uint8_t *)"aliased", 7));
    blobio_buffer buf = {0};
    CHECK_OK(blobio_read(store, path, &buf));
    CHECK(buf.len == 7 && memcmp(buf.data, "aliased", 7) == 0);
    blobio_buffer_free(&buf);
    CHECK_OK(blobio_delete(store, path));
}

/* object_store's names (azure_storage_account_name, _account_key,
 * _endpoint) and the azure:// form with a prefix reach the same container. */
static void test_aliases_and_url_forms_reach_azurite(void) {
    struct blobio_options *opts = new_options();
    SET_OPTION(opts, "AZURE_STORAGE_ACCOUNT_NAME", account);
    SET_OPTION(opts, "azure_storage_account_key", key);
    SET_OPTION(opts, "azure_storage_endpoint", endpoint);
    char url[512];
    snprintf(url, sizeof url, "azure://%s/c-alias/", container);
    blobio_store *store = open_url(url, opts);
    if (store) {
        CHECK(strcmp(blobio_store_kind(store), "azure") == 0);
        CHECK(option_is(store, "prefix", "c-alias/"));
        check_signed_round_trip(store, "azure.txt");
    }
    blobio_store_free(store);
    /* The object is under the prefix: a store at the root sees it there. */
    store = open_url(az_url("c-alias"), base_options());
    if (store) {
        CHECK_OK(blobio_write(store, "seen.txt", (const uint8_t *)"x", 1));
        blobio_store_free(store);
        store = open_azure();
        bool exists = false;
        CHECK_OK(blobio_exists(store, "c-alias/seen.txt", &exists));
        CHECK(exists);
        CHECK_OK(blobio_delete(store, "c-alias/seen.txt"));
    }
    blobio_store_free(store);
}

/* blobio_store_option reads back container, account, endpoint and prefix;
 * a key, SAS token or connection string is PERMISSION_DENIED, and no JSON
 * or message shows one. */
static void test_store_option_reads_settings_back_but_never_a_secret(void) {
    blobio_store *store = open_url(az_url("c-option"), base_options());
    if (!store) return;
    CHECK(option_is(store, "container", container));
    CHECK(option_is(store, "azure_container_name", container));
    CHECK(option_is(store, "account_name", account));
    CHECK(option_is(store, "azure_storage_account_name", account));
    CHECK(option_is(store, "endpoint", endpoint));
    CHECK(option_is(store, "prefix", "c-option/"));
    const char *secrets[] = {"account_key", "azure_storage_account_key", "access_key",
                             "sas_token", "azure_storage_sas_token", "connection_string"};
    for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++) {
        CHECK(option_refused(store, secrets[i], BLOBIO_STATUS_PERMISSION_DENIED));
        CHECK(!last_error_has(key));
    }
    CHECK(option_refused(store, "bucket", BLOBIO_STATUS_INVALID_ARGUMENT));
    CHECK(option_refused(store, "region", BLOBIO_STATUS_INVALID_ARGUMENT));
    blobio_store_free(store);

    /* Through a connection string too: no key in the JSON. */
    char cs[512];
    snprintf(cs, sizeof cs, "DefaultEndpointsProtocol=http;AccountName=%s;AccountKey=%s;BlobEndpoint=%s;",
             account, key, endpoint);
    struct blobio_options *opts = new_options();
    SET_OPTION(opts, "azure_storage_connection_string", cs);
    store = open_azure_with(opts);
    if (!store) return;
    char *json = NULL;
    CHECK_OK(blobio_store_config_json(store, &json));
    CHECK(json && strstr(json, key) == NULL);
    CHECK(json && strstr(json, "AccountKey") == NULL);
    blobio_string_free(json);
    CHECK(option_is(store, "account_name", account));
    CHECK(option_refused(store, "connection_string", BLOBIO_STATUS_PERMISSION_DENIED));
    blobio_store_free(store);
}

int main(void) {
    endpoint = need_env("BLOBIO_TEST_AZURITE_ENDPOINT");
    account = need_env("BLOBIO_TEST_AZURITE_ACCOUNT");
    key = need_env("BLOBIO_TEST_AZURITE_KEY");
    container = need_env("BLOBIO_TEST_AZURE_CONTAINER");
    static const struct test_case tests[] = {
        {"open_checks_its_arguments", test_open_checks_its_arguments},
        {"round_trip_list_and_batch_delete", test_round_trip_list_and_batch_delete},
        {"streamed_block_upload_and_read", test_streamed_block_upload_and_read},
        {"conditional_writes", test_conditional_writes},
        {"head_and_metadata", test_head_and_metadata},
        {"copy_and_rename", test_copy_and_rename},
        {"connection_string_store", test_connection_string_store},
        {"wrong_key_is_permission_denied", test_wrong_key_is_permission_denied},
        {"config_json_and_storage_path", test_config_json_and_storage_path},
        {"aliases_and_url_forms_reach_azurite", test_aliases_and_url_forms_reach_azurite},
        {"store_option_reads_settings_back_but_never_a_secret",
         test_store_option_reads_settings_back_but_never_a_secret},
    };
    int passed = 0, failed = 0;
    run_tests(tests, sizeof tests / sizeof tests[0], &passed, &failed);
    printf("\n%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
