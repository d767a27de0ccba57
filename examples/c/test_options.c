/*
 * C tests of blobio_options, blobio_open, blobio_open_config and
 * blobio_store_option that need no server: keys checked when set (unknown
 * keys, bad values, ranges, control characters, secrets never shown),
 * case-insensitive keys and aliases, the last value winning, every local
 * URL form and the bad ones, keys that do not apply to a URL's kind, and
 * settings read back. The S3 and Azure stores here point at a loopback
 * port that refuses connections: opening one makes no request that can
 * succeed, which is all these tests need (the store only logs its failed
 * bucket check). The same calls against s3s-fs and Azurite are in
 * test_s3.c and test_azure.c.
 *
 * Built and run under ASan+UBSan by `make -C examples/c test`.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_harness.h"
#include "test_open.h"

/* A temp directory per test run; removed by the tests that make files. */
static char dir[64];
/* http://127.0.0.1:PORT where PORT is bound but never listened on, so a
 * connection is refused at once. */
static char refusing_endpoint[64];
static char refusing_azure_endpoint[96];
static int refusing_fd = -1;

/* A base64 key of the right shape, never sent anywhere that accepts it. */
#define FAKE_ACCOUNT_KEY "ZmFrZS1hY2NvdW50LWtleS1mb3ItYmxvYmlvLXRlc3Rz"
#define FAKE_SECRET "c-fake-secret-value-9f3b"

static void make_refusing_endpoint(void) {
    refusing_fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (refusing_fd < 0 || bind(refusing_fd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
        getsockname(refusing_fd, (struct sockaddr *)&addr, &len) != 0) {
        perror("socket/bind");
        exit(2);
    }
    snprintf(refusing_endpoint, sizeof refusing_endpoint, "http://127.0.0.1:%u",
             (unsigned)ntohs(addr.sin_port));
    snprintf(refusing_azure_endpoint, sizeof refusing_azure_endpoint, "%s/acct", refusing_endpoint);
}

/* Options for an S3 store on the refusing endpoint (one attempt only). */
static struct blobio_options *refusing_s3_options(void) {
    struct blobio_options *opts = new_options();
    SET_OPTION(opts, "endpoint", refusing_endpoint);
    SET_OPTION(opts, "access_key_id", "c-fake-access-key");
    SET_OPTION(opts, "secret_access_key", FAKE_SECRET);
    SET_OPTION(opts, "max_retries", "0");
    return opts;
}

/* Options for an Azure store on the refusing endpoint. */
static struct blobio_options *refusing_azure_options(void) {
    struct blobio_options *opts = new_options();
    SET_OPTION(opts, "endpoint", refusing_azure_endpoint);
    SET_OPTION(opts, "account_name", "acct");
    SET_OPTION(opts, "account_key", FAKE_ACCOUNT_KEY);
    SET_OPTION(opts, "max_retries", "0");
    return opts;
}

/* blobio_options_set that must fail with INVALID_ARGUMENT, naming
 * `names` in the last error and never showing `hidden` (when not NULL). */
static void set_refused(struct blobio_options *opts, const char *key, const char *value,
                        const char *names, const char *hidden) {
    blobio_status st = blobio_options_set(opts, key, value);
    if (st != BLOBIO_STATUS_INVALID_ARGUMENT) {
        fprintf(stderr, "  [%s] blobio_options_set(\"%s\", ...) gave %s, expected invalid_argument\n",
                current_test, key, blobio_status_str(st));
        atomic_fetch_add(&failed_checks, 1);
        return;
    }
    if (!last_error_has(names)) {
        fprintf(stderr, "  [%s] setting %s: the message does not name \"%s\": %s\n", current_test,
                key, names, blobio_last_error_message());
        atomic_fetch_add(&failed_checks, 1);
    }
    if (hidden && last_error_has(hidden)) {
        fprintf(stderr, "  [%s] setting %s: the message shows the secret: %s\n", current_test, key,
                blobio_last_error_message());
        atomic_fetch_add(&failed_checks, 1);
    }
}

/* ------------------------------------------------------------------ tests */

static void test_null_arguments_are_refused_and_free_of_null_is_a_no_op(void) {
    CHECK_STATUS(blobio_options_new(NULL), BLOBIO_STATUS_NULL_ARGUMENT);
    CHECK(last_error_has("out"));
    struct blobio_options *opts = new_options();
    CHECK_STATUS(blobio_options_set(NULL, "region", "x"), BLOBIO_STATUS_NULL_ARGUMENT);
    CHECK(last_error_has("opts"));
    CHECK_STATUS(blobio_options_set(opts, NULL, "x"), BLOBIO_STATUS_NULL_ARGUMENT);
    CHECK(last_error_has("key"));
    CHECK_STATUS(blobio_options_set(opts, "region", NULL), BLOBIO_STATUS_NULL_ARGUMENT);
    CHECK(last_error_has("value"));
    blobio_options_free(NULL);

    blobio_store *store = NULL;
    CHECK_STATUS(blobio_open(NULL, opts, &store), BLOBIO_STATUS_NULL_ARGUMENT);
    CHECK(last_error_has("url"));
    CHECK_STATUS(blobio_open(dir, opts, NULL), BLOBIO_STATUS_NULL_ARGUMENT);
    CHECK(last_error_has("out"));
    const char *json = "{\"base_path\":\"/tmp\"}";
    CHECK_STATUS(blobio_open_config(NULL, json, opts, &store), BLOBIO_STATUS_NULL_ARGUMENT);
    CHECK(last_error_has("kind"));
    CHECK_STATUS(blobio_open_config("local", NULL, opts, &store), BLOBIO_STATUS_NULL_ARGUMENT);
    CHECK(last_error_has("config_json"));
    CHECK_STATUS(blobio_open_config("local", json, opts, NULL), BLOBIO_STATUS_NULL_ARGUMENT);
    CHECK(store == NULL);

    store = open_url(dir, NULL); /* NULL options: none */
    char *s = NULL;
    CHECK_STATUS(blobio_store_option(NULL, "base_path", &s), BLOBIO_STATUS_NULL_ARGUMENT);
    CHECK(last_error_has("store"));
    CHECK_STATUS(blobio_store_option(store, NULL, &s), BLOBIO_STATUS_NULL_ARGUMENT);
    CHECK(last_error_has("key"));
    CHECK_STATUS(blobio_store_option(store, "base_path", NULL), BLOBIO_STATUS_NULL_ARGUMENT);
    CHECK(s == NULL);
    blobio_store_free(store);
    blobio_options_free(opts);
}

static void test_unknown_keys_and_bad_values_name_the_key(void) {
    struct blobio_options *opts = new_options();
    set_refused(opts, "regoin", "us-east-1", "regoin", NULL);
    set_refused(opts, "", "x", "option", NULL);
    set_refused(opts, "max_retries", "lots", "max_retries", NULL);
    CHECK(last_error_has("lots")); /* a value that is no secret is shown */
    set_refused(opts, "max_retries", "101", "max_retries", NULL);
    set_refused(opts, "max_retries", "-1", "max_retries", NULL);
    set_refused(opts, "part_size", "5 PiB", "part_size", NULL);
    set_refused(opts, "part_size", "1.5MiB", "part_size", NULL);
    set_refused(opts, "download_concurrency", "0", "download_concurrency", NULL);
    set_refused(opts, "download_parallel_below", "fast", "download_parallel_below", NULL);
    set_refused(opts, "upload_concurrency", "257", "upload_concurrency", NULL);
    set_refused(opts, "connect_timeout_ms", "0", "connect_timeout_ms", NULL);
    set_refused(opts, "request_timeout_ms", "10s", "request_timeout_ms", NULL);
    set_refused(opts, "allow_http", "maybe", "allow_http", NULL);
    set_refused(opts, "resilient", "sometimes", "resilient", NULL);
    set_refused(opts, "url_style", "sideways", "url_style", NULL);
    set_refused(opts, "circuit_max_failures", "0", "circuit_max_failures", NULL);
    /* A control character where a header or URL is built from the value. */
    set_refused(opts, "endpoint", "http://h/\r\nx", "endpoint", NULL);
    CHECK(last_error_has("control character"));
    set_refused(opts, "account_name", "acc\nount", "account_name", NULL);
    set_refused(opts, "region", "us-east-1\t", "region", NULL);
    /* Not UTF-8. */
    CHECK_STATUS(blobio_options_set(opts, "region", "bad\xff"), BLOBIO_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(blobio_options_set(opts, "reg\xffion", "x"), BLOBIO_STATUS_INVALID_ARGUMENT);
    /* An alias is named as given, with the key it stands for. */
    set_refused(opts, "aws_virtual_hosted_style_request", "perhaps", "url_style", NULL);
    CHECK(last_error_has("aws_virtual_hosted_style_request"));
    set_refused(opts, "use_ssl", "perhaps", "use_ssl", NULL);
    blobio_options_free(opts);
}

static void test_a_secrets_value_is_never_shown(void) {
    struct blobio_options *opts = new_options();
    const char *const secrets[] = {"secret_access_key", "aws_secret_access_key", "secret",
                                   "access_key_id",     "session_token",         "token",
                                   "account_key",       "azure_storage_account_key",
                                   "sas_token",         "connection_string"};
    for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++) {
        /* A bad value: the key is named, the value is not. */
        set_refused(opts, secrets[i], FAKE_SECRET "\n", secrets[i], FAKE_SECRET);
        set_refused(opts, secrets[i], "\x01" FAKE_SECRET, secrets[i], FAKE_SECRET);
        /* A good one is taken. */
        SET_OPTION(opts, secrets[i], FAKE_SECRET);
    }
    /* The S3 secrets on a local store: refused at open, still not shown. */
    blobio_options_free(opts);
    opts = new_options();
    SET_OPTION(opts, "secret_access_key", FAKE_SECRET);
    open_fails(dir, opts, BLOBIO_STATUS_INVALID_ARGUMENT, "secret_access_key");
    CHECK(!last_error_has(FAKE_SECRET));
    opts = new_options();
    SET_OPTION(opts, "account_key", FAKE_SECRET);
    open_fails("s3://bucket", opts, BLOBIO_STATUS_INVALID_ARGUMENT, "account_key");
    CHECK(!last_error_has(FAKE_SECRET));
}

/* Keys in any case and aliases reach the same setting; the last value
 * set wins; a refused value changes nothing. Read back on a resilient
 * local store, whose settings every kind shares. */
static void test_keys_are_case_insensitive_and_the_last_value_wins(void) {
    struct blobio_options *opts = new_options();
    SET_OPTION(opts, "RESILIENT", "TRUE");
    SET_OPTION(opts, "Max_Retries", "7");
    SET_OPTION(opts, "retries", "2"); /* an alias of max_retries */
    SET_OPTION(opts, "max_retries", "4");
    set_refused(opts, "MAX_RETRIES", "lots", "max_retries", NULL); /* changes nothing */
    SET_OPTION(opts, "circuit_max_failures", "9");
    SET_OPTION(opts, "Circuit_Max_Failures", "11");
    SET_OPTION(opts, "circuit_open_timeout_ms", "1234");
    SET_OPTION(opts, "circuit_half_open_requests", "2");
    SET_OPTION(opts, "retry_delay_ms", "20");
    SET_OPTION(opts, "retry_max_delay_ms", "200");
    SET_OPTION(opts, " retry_delay_ms ", "30"); /* keys are trimmed */
    blobio_store *store = open_url(dir, opts);
    if (!store) return;
    CHECK(option_is(store, "resilient", "true"));
    CHECK(option_is(store, "max_retries", "4"));
    CHECK(option_is(store, "MAX_RETRIES", "4"));
    CHECK(option_is(store, "circuit_max_failures", "11"));
    CHECK(option_is(store, "circuit_open_timeout_ms", "1234"));
    CHECK(option_is(store, "circuit_half_open_requests", "2"));
    CHECK(option_is(store, "retry_delay_ms", "30"));
    CHECK(option_is(store, "retry_max_delay_ms", "200"));
    int32_t state = -1;
    CHECK_OK(blobio_circuit_state(store, &state));
    CHECK(state == BLOBIO_CIRCUIT_CLOSED);
    blobio_store_free(store);

    /* One options handle opens any number of stores. */
    opts = new_options();
    SET_OPTION(opts, "resilient", "false");
    for (int i = 0; i < 3; i++) {
        blobio_store *s = NULL;
        CHECK_OK(blobio_open(dir, opts, &s));
        CHECK_STATUS(blobio_circuit_state(s, &state), BLOBIO_STATUS_UNSUPPORTED);
        blobio_store_free(s);
    }
    blobio_options_free(opts);
}

/* The aliases of object_store and DuckDB secrets, read back on S3 and
 * Azure stores that never reach a server. */
static void test_aliases_reach_their_keys(void) {
    struct blobio_options *opts = new_options();
    SET_OPTION(opts, "aws_endpoint", refusing_endpoint);
    SET_OPTION(opts, "aws_region", "eu-west-3");
    SET_OPTION(opts, "key_id", "c-fake-access-key");
    SET_OPTION(opts, "secret", FAKE_SECRET);
    SET_OPTION(opts, "use_ssl", "false"); /* inverted: allow_http = true */
    SET_OPTION(opts, "aws_virtual_hosted_style_request", "false"); /* inverted: path */
    SET_OPTION(opts, "retries", "0");
    blobio_store *store = open_url("s3://alias-bucket", opts);
    if (store) {
        CHECK(option_is(store, "region", "eu-west-3"));
        CHECK(option_is(store, "endpoint", refusing_endpoint));
        CHECK(option_is(store, "allow_http", "true"));
        CHECK(option_is(store, "url_style", "path"));
        CHECK(option_refused(store, "secret", BLOBIO_STATUS_PERMISSION_DENIED));
        CHECK(option_refused(store, "key_id", BLOBIO_STATUS_PERMISSION_DENIED));
    }
    blobio_store_free(store);

    /* The other way round: use_ssl=true is allow_http=false. */
    opts = refusing_s3_options();
    SET_OPTION(opts, "use_ssl", "true");
    store = open_url("s3://alias-bucket", opts);
    if (store) CHECK(option_is(store, "allow_http", "false"));
    blobio_store_free(store);
    /* aws_virtual_hosted_style_request=true is vhost, which an IP endpoint
     * cannot serve: refused as url_style=vhost is. */
    opts = refusing_s3_options();
    SET_OPTION(opts, "aws_virtual_hosted_style_request", "true");
    open_fails("s3://alias-bucket", opts, BLOBIO_STATUS_INVALID_ARGUMENT, "path");
    opts = refusing_s3_options();
    SET_OPTION(opts, "url_style", "vhost");
    open_fails("s3://alias-bucket", opts, BLOBIO_STATUS_INVALID_ARGUMENT, "path");

    /* With no url_style, an IP endpoint means path style. */
    store = open_url("s3://alias-bucket", refusing_s3_options());
    if (store) CHECK(option_is(store, "url_style", "path"));
    blobio_store_free(store);

    opts = new_options();
    SET_OPTION(opts, "azure_storage_account_name", "acct");
    SET_OPTION(opts, "azure_storage_account_key", FAKE_ACCOUNT_KEY);
    SET_OPTION(opts, "azure_storage_endpoint", refusing_azure_endpoint);
    SET_OPTION(opts, "max_retries", "0");
    store = open_url("az://alias-container/p", opts);
    if (store) {
        CHECK(strcmp(blobio_store_kind(store), "azure") == 0);
        CHECK(option_is(store, "account_name", "acct"));
        CHECK(option_is(store, "container", "alias-container"));
        CHECK(option_is(store, "endpoint", refusing_azure_endpoint));
        CHECK(option_is(store, "prefix", "p/"));
        CHECK(option_refused(store, "azure_storage_account_key", BLOBIO_STATUS_PERMISSION_DENIED));
    }
    blobio_store_free(store);
}

/* Every local URL form opens the one directory. */
static void test_local_url_forms_open_the_same_directory(void) {
    blobio_store *plain = open_url(dir, NULL);
    if (!plain) return;
    CHECK(strcmp(blobio_store_kind(plain), "local") == 0);
    CHECK(option_is(plain, "base_path", dir));
    CHECK(option_is(plain, "root", dir)); /* an alias */
    CHECK_OK(blobio_write(plain, "forms/k", (const uint8_t *)"forms", 5));

    char url[160];
    const char *forms[] = {"file://%s", "file://localhost%s", "FILE://%s"};
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        snprintf(url, sizeof url, forms[i], dir);
        blobio_store *store = open_url(url, NULL);
        if (!store) continue;
        CHECK(option_is(store, "base_path", dir));
        blobio_buffer buf = {0};
        CHECK_OK(blobio_read(store, "forms/k", &buf));
        CHECK(buf.len == 5 && memcmp(buf.data, "forms", 5) == 0);
        blobio_buffer_free(&buf);
        blobio_store_free(store);
    }

    /* A percent-encoded file URL, and a directory made when missing. */
    char spaced[128], encoded[160];
    snprintf(spaced, sizeof spaced, "%s/with space", dir);
    snprintf(encoded, sizeof encoded, "file://%s/with%%20space", dir);
    blobio_store *store = open_url(encoded, NULL);
    if (store) {
        CHECK(option_is(store, "base_path", spaced));
        CHECK_OK(blobio_write(store, "x", (const uint8_t *)"x", 1));
        CHECK_OK(blobio_delete(store, "x"));
    }
    blobio_store_free(store);
    struct stat st;
    CHECK(stat(spaced, &st) == 0 && S_ISDIR(st.st_mode));
    rmdir(spaced);

    /* A relative path is a local store too, made absolute against the
     * working directory. */
    char cwd[256];
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    CHECK(chdir(dir) == 0);
    store = open_url("relative/dir", NULL);
    if (store) {
        char absolute[160];
        snprintf(absolute, sizeof absolute, "%s/relative/dir", dir);
        CHECK(option_is(store, "base_path", absolute));
        CHECK_OK(blobio_write(store, "k", (const uint8_t *)"r", 1));
        CHECK_OK(blobio_delete(store, "k"));
    }
    blobio_store_free(store);
    CHECK(stat("relative/dir", &st) == 0 && S_ISDIR(st.st_mode));
    rmdir("relative/dir");
    rmdir("relative");
    CHECK(chdir(cwd) == 0);

    /* The base path as an option that agrees with the URL; one that does
     * not is refused. */
    struct blobio_options *opts = new_options();
    SET_OPTION(opts, "base_path", dir);
    store = open_url(dir, opts);
    blobio_store_free(store);
    opts = new_options();
    SET_OPTION(opts, "base_path", "/somewhere/else");
    open_fails(dir, opts, BLOBIO_STATUS_INVALID_ARGUMENT, "base path");

    CHECK_OK(blobio_delete(plain, "forms/k"));
    CHECK_OK(blobio_remove_directory(plain, "forms"));
    blobio_store_free(plain);
}

static void test_bad_urls_are_invalid_argument_naming_what_is_wrong(void) {
    static const struct {
        const char *url, *why;
    } bad[] = {
        {"", "empty"},
        {"gs://bucket/p", "unknown scheme"},
        {"ftp://host/dir", "unknown scheme"},
        {"s3://", "no bucket"},
        {"s3:///prefix", "no bucket"},
        {"s3a://", "no bucket"},
        {"az://", "no container"},
        {"azure://", "no container"},
        {"s3://bucket/p?versionId=1", "query"},
        {"s3://bucket/p#frag", "query"},
        {"az://container?sv=2020", "query"},
        {"file:///tmp/x?y=1", "query"},
        {"file://host/x", "no host"},
        {"file://", "no directory"},
        {"https://example.com/bucket", "not an AWS or Azure URL"},
        {"https://s3.us-east-1.amazonaws.com/", "no bucket"},
        {"abfss://acct.dfs.core.windows.net/p", "expected"},
        {"s3://bucket/p\r\n", "control character"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        open_fails(bad[i].url, NULL, BLOBIO_STATUS_INVALID_ARGUMENT, bad[i].why);
        /* With options too: the URL is the first thing checked. */
        open_fails(bad[i].url, refusing_s3_options(), BLOBIO_STATUS_INVALID_ARGUMENT, bad[i].why);
    }
    CHECK_STATUS(blobio_open("s3://bad\xff", NULL, &(blobio_store *){NULL}),
                 BLOBIO_STATUS_INVALID_ARGUMENT);
}

static void test_a_key_that_does_not_apply_to_the_urls_kind_is_refused(void) {
    struct blobio_options *opts = refusing_s3_options();
    SET_OPTION(opts, "account_name", "acct");
    open_fails("s3://bucket", opts, BLOBIO_STATUS_INVALID_ARGUMENT, "account_name");
    CHECK(last_error_has("S3"));
    opts = refusing_s3_options();
    SET_OPTION(opts, "azure_storage_account_name", "acct"); /* named as the key */
    open_fails("s3://bucket", opts, BLOBIO_STATUS_INVALID_ARGUMENT, "account_name");
    opts = refusing_s3_options();
    SET_OPTION(opts, "container", "c");
    open_fails("s3a://bucket", opts, BLOBIO_STATUS_INVALID_ARGUMENT, "container");
    opts = refusing_azure_options();
    SET_OPTION(opts, "region", "us-east-1");
    open_fails("az://container", opts, BLOBIO_STATUS_INVALID_ARGUMENT, "region");
    opts = refusing_azure_options();
    SET_OPTION(opts, "url_style", "path");
    open_fails("az://container", opts, BLOBIO_STATUS_INVALID_ARGUMENT, "url_style");
    opts = new_options();
    SET_OPTION(opts, "part_size", "8MiB");
    open_fails(dir, opts, BLOBIO_STATUS_INVALID_ARGUMENT, "part_size");
    CHECK(last_error_has("local"));
    opts = new_options();
    SET_OPTION(opts, "endpoint", refusing_endpoint);
    open_fails(dir, opts, BLOBIO_STATUS_INVALID_ARGUMENT, "endpoint");
    opts = refusing_s3_options();
    SET_OPTION(opts, "base_path", dir);
    open_fails("s3://bucket", opts, BLOBIO_STATUS_INVALID_ARGUMENT, "base_path");
    /* The breaker's settings need resilient=true. */
    opts = new_options();
    SET_OPTION(opts, "circuit_open_timeout_ms", "10");
    open_fails(dir, opts, BLOBIO_STATUS_INVALID_ARGUMENT, "resilient");
    /* Keys of every store apply to each. */
    opts = new_options();
    SET_OPTION(opts, "max_retries", "1");
    SET_OPTION(opts, "retry_timeout_ms", "1000");
    blobio_store *store = open_url(dir, opts);
    blobio_store_free(store);
}

static void test_store_option_reads_settings_back_but_never_a_secret(void) {
    /* Local. */
    blobio_store *local = open_url(dir, NULL);
    if (local) {
        CHECK(option_is(local, "base_path", dir));
        CHECK(option_refused(local, "secret_access_key", BLOBIO_STATUS_PERMISSION_DENIED));
        CHECK(option_refused(local, "account_key", BLOBIO_STATUS_PERMISSION_DENIED));
        CHECK(option_refused(local, "bucket", BLOBIO_STATUS_INVALID_ARGUMENT));
        CHECK(option_refused(local, "no_such_key", BLOBIO_STATUS_INVALID_ARGUMENT));
        CHECK(last_error_has("no_such_key"));
    }
    blobio_store_free(local);

    /* S3. */
    struct blobio_options *opts = refusing_s3_options();
    SET_OPTION(opts, "region", "ap-south-1");
    SET_OPTION(opts, "session_token", "c-fake-session-token");
    blobio_store *s3 = open_url("s3://read-back/some/prefix", opts);
    if (s3) {
        CHECK(strcmp(blobio_store_kind(s3), "s3") == 0);
        CHECK(option_is(s3, "bucket", "read-back"));
        CHECK(option_is(s3, "prefix", "some/prefix/"));
        CHECK(option_is(s3, "region", "ap-south-1"));
        CHECK(option_is(s3, "endpoint", refusing_endpoint));
        CHECK(option_is(s3, "max_retries", "0"));
        const char *secrets[] = {"secret_access_key", "access_key_id", "session_token",
                                 "aws_session_token"};
        for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++) {
            CHECK(option_refused(s3, secrets[i], BLOBIO_STATUS_PERMISSION_DENIED));
            CHECK(!last_error_has(FAKE_SECRET) && !last_error_has("c-fake-session-token"));
        }
        CHECK(option_refused(s3, "container", BLOBIO_STATUS_INVALID_ARGUMENT));
        char *json = NULL;
        CHECK_OK(blobio_store_config_json(s3, &json));
        CHECK(json && !strstr(json, FAKE_SECRET) && !strstr(json, "c-fake-session-token"));
        CHECK(json && !strstr(json, "c-fake-access-key"));
        blobio_string_free(json);
    }
    blobio_store_free(s3);

    /* Azure, by account key and by SAS token. */
    blobio_store *az = open_url("az://read-back/pre", refusing_azure_options());
    if (az) {
        CHECK(option_is(az, "container", "read-back"));
        CHECK(option_is(az, "account_name", "acct"));
        CHECK(option_is(az, "prefix", "pre/"));
        CHECK(option_is(az, "endpoint", refusing_azure_endpoint));
        CHECK(option_refused(az, "account_key", BLOBIO_STATUS_PERMISSION_DENIED));
        CHECK(option_refused(az, "sas_token", BLOBIO_STATUS_PERMISSION_DENIED));
        CHECK(option_refused(az, "connection_string", BLOBIO_STATUS_PERMISSION_DENIED));
        CHECK(option_refused(az, "bucket", BLOBIO_STATUS_INVALID_ARGUMENT));
        char *json = NULL;
        CHECK_OK(blobio_store_config_json(az, &json));
        CHECK(json && !strstr(json, FAKE_ACCOUNT_KEY));
        blobio_string_free(json);
    }
    blobio_store_free(az);
    opts = new_options();
    SET_OPTION(opts, "endpoint", refusing_azure_endpoint);
    SET_OPTION(opts, "account_name", "acct");
    SET_OPTION(opts, "sas_token", "?sv=2020-02-10&sig=c-fake-sas-signature");
    SET_OPTION(opts, "max_retries", "0");
    az = open_url("az://sas-container", opts);
    if (az) {
        char *json = NULL;
        CHECK_OK(blobio_store_config_json(az, &json));
        CHECK(json && !strstr(json, "c-fake-sas-signature"));
        blobio_string_free(json);
        CHECK(option_refused(az, "sas_token", BLOBIO_STATUS_PERMISSION_DENIED));
        CHECK(!last_error_has("c-fake-sas-signature"));
    }
    blobio_store_free(az);
}

/* blobio_open_config in this process; across processes in
 * test_open_config.c. */
static void test_open_config_rebuilds_a_store_and_refuses_what_it_cannot_read(void) {
    struct blobio_options *opts = new_options();
    SET_OPTION(opts, "resilient", "true");
    SET_OPTION(opts, "circuit_max_failures", "7");
    blobio_store *store = open_url(dir, opts);
    if (!store) return;
    CHECK_OK(blobio_write(store, "cfg/k", (const uint8_t *)"config", 6));
    char *json = NULL;
    CHECK_OK(blobio_store_config_json(store, &json));
    blobio_store *again = NULL;
    CHECK_OK(blobio_open_config(blobio_store_kind(store), json ? json : "", NULL, &again));
    if (again) {
        blobio_buffer buf = {0};
        CHECK_OK(blobio_read(again, "cfg/k", &buf));
        CHECK(buf.len == 6 && memcmp(buf.data, "config", 6) == 0);
        blobio_buffer_free(&buf);
        CHECK(option_is(again, "resilient", "true"));
        CHECK(option_is(again, "circuit_max_failures", "7"));
        char *json2 = NULL;
        CHECK_OK(blobio_store_config_json(again, &json2));
        CHECK(json && json2 && strcmp(json, json2) == 0);
        blobio_string_free(json2);
    }
    blobio_store_free(again);
    /* Options change what the JSON says. */
    opts = new_options();
    SET_OPTION(opts, "circuit_max_failures", "3");
    again = NULL;
    CHECK_OK(blobio_open_config("local", json ? json : "", opts, &again));
    if (again) CHECK(option_is(again, "circuit_max_failures", "3"));
    blobio_store_free(again);
    blobio_options_free(opts);
    blobio_string_free(json);

    static const struct {
        const char *kind, *json, *why;
    } bad[] = {
        {"gcs", "{}", "kind"},
        {"local", "not json", "JSON"},
        {"local", "[1, 2]", "object"},
        {"local", "{}", "base_path"},
        {"s3", "{\"region\":\"us-east-1\"}", "bucket"},
        {"azure", "{\"account_name\":\"acct\"}", "container"},
        {"local", "{\"base_path\":\"/tmp\",\"max_retries\":1000}", "max_retries"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        blobio_store *s = NULL;
        blobio_status st = blobio_open_config(bad[i].kind, bad[i].json, NULL, &s);
        if (st != BLOBIO_STATUS_INVALID_ARGUMENT || !last_error_has(bad[i].why)) {
            fprintf(stderr, "  [%s] blobio_open_config(\"%s\", %s) gave %s: %s (expected "
                            "invalid_argument naming %s)\n",
                    current_test, bad[i].kind, bad[i].json, blobio_status_str(st),
                    blobio_last_error_message(), bad[i].why);
            atomic_fetch_add(&failed_checks, 1);
        }
        CHECK(s == NULL);
        blobio_store_free(s);
    }
    CHECK_OK(blobio_delete(store, "cfg/k"));
    CHECK_OK(blobio_remove_directory(store, "cfg"));
    blobio_store_free(store);
}

/* Every non-secret setting reads back, under its name and under each
 * alias (an inverted alias inverted), and survives blobio_open_config:
 * what a store printed of itself is all a child process gets. */
static void test_every_setting_reads_back_and_survives_open_config(void) {
    struct blobio_options *opts = new_options();
    SET_OPTION(opts, "endpoint", refusing_endpoint);
    SET_OPTION(opts, "skip_signature", "true");
    SET_OPTION(opts, "connect_timeout_ms", "3001");
    SET_OPTION(opts, "request_timeout_ms", "7002");
    SET_OPTION(opts, "stall_timeout_ms", "4003");
    SET_OPTION(opts, "max_retries", "0");
    SET_OPTION(opts, "retry_delay_ms", "21");
    SET_OPTION(opts, "retry_max_delay_ms", "2100");
    SET_OPTION(opts, "use_ssl", "false");
    blobio_store *store = open_url("s3://every-setting", opts);
    if (!store) return;
    static const struct {
        const char *key, *value;
    } settings[] = {
        {"allow_http", "true"},
        {"use_ssl", "false"}, /* the inverted alias, inverted */
        {"url_style", "path"},
        {"aws_virtual_hosted_style_request", "false"},
        {"skip_signature", "true"},
        {"connect_timeout_ms", "3001"},
        {"request_timeout_ms", "7002"},
        {"stall_timeout_ms", "4003"},
        {"retry_delay_ms", "21"},
        {"retry_max_delay_ms", "2100"},
    };
    char *json = NULL;
    CHECK_OK(blobio_store_config_json(store, &json));
    blobio_store *again = NULL;
    CHECK_OK(blobio_open_config("s3", json ? json : "", NULL, &again));
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++) {
        CHECK(option_is(store, settings[i].key, settings[i].value));
        if (again) CHECK(option_is(again, settings[i].key, settings[i].value));
    }
    blobio_string_free(json);
    blobio_store_free(again);
    blobio_store_free(store);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/blobio-c-options-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 2;
    }
    make_refusing_endpoint();
    static const struct test_case tests[] = {
        {"null_arguments_are_refused_and_free_of_null_is_a_no_op",
         test_null_arguments_are_refused_and_free_of_null_is_a_no_op},
        {"unknown_keys_and_bad_values_name_the_key", test_unknown_keys_and_bad_values_name_the_key},
        {"a_secrets_value_is_never_shown", test_a_secrets_value_is_never_shown},
        {"keys_are_case_insensitive_and_the_last_value_wins",
         test_keys_are_case_insensitive_and_the_last_value_wins},
        {"aliases_reach_their_keys", test_aliases_reach_their_keys},
        {"local_url_forms_open_the_same_directory", test_local_url_forms_open_the_same_directory},
        {"bad_urls_are_invalid_argument_naming_what_is_wrong",
         test_bad_urls_are_invalid_argument_naming_what_is_wrong},
        {"a_key_that_does_not_apply_to_the_urls_kind_is_refused",
         test_a_key_that_does_not_apply_to_the_urls_kind_is_refused},
        {"store_option_reads_settings_back_but_never_a_secret",
         test_store_option_reads_settings_back_but_never_a_secret},
        {"open_config_rebuilds_a_store_and_refuses_what_it_cannot_read",
         test_open_config_rebuilds_a_store_and_refuses_what_it_cannot_read},
        {"every_setting_reads_back_and_survives_open_config",
         test_every_setting_reads_back_and_survives_open_config},
    };
    int passed = 0, failed = 0;
    run_tests(tests, sizeof tests / sizeof tests[0], &passed, &failed);
    close(refusing_fd);
    if (rmdir(dir) != 0) perror(dir);
    printf("\n%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
