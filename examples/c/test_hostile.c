/*
 * C tests of blobio against hostile servers and extreme settings: a GET that
 * announces 10^14 (or 2^63 - 1) bytes and sends 3, listings that never end,
 * a 400 whose provider detail must reach the caller, settings far out of
 * bounds, and (on the real servers) a read callback that gives more bytes
 * than the size announced for it.
 *
 * Built and run under ASan+UBSan by `make -C examples/c test-hostile`
 * (part of `test-servers`, which scripts/test runs with the servers up). The
 * Makefile starts examples/hostile_server.rs and passes
 *   BLOBIO_TEST_HOSTILE_PORT   its port on 127.0.0.1
 *   BLOBIO_TEST_HOSTILE_LOG    the file it appends "METHOD TARGET" lines to
 * and, for the real servers, BLOBIO_TEST_S3S_ENDPOINT, _ACCESS_KEY,
 * _SECRET_KEY, BLOBIO_TEST_MOTO_ENDPOINT, BLOBIO_TEST_AZURITE_ENDPOINT,
 * _ACCOUNT, _KEY and the buckets (container) it made for this run:
 * BLOBIO_TEST_HOSTILE_S3S_BUCKET, _MOTO_BUCKET, _AZURE_CONTAINER. A missing
 * variable fails the run.
 *
 * Tests that could abort the process on a broken engine (an allocation of
 * 10^14 bytes aborts) run in a forked child, so that the abort fails that
 * test and the others still run.
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store_checks.h"
#include "test_open.h"

/* The well-known development key of Azurite's devstoreaccount1, published
 * in Microsoft's Azurite documentation (not a secret). */
#define AZURITE_DEV_KEY \
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

/* Listing pages allowed when every page repeats the previous token (the
 * first page, the repeat, one to spare); and consecutive empty pages with
 * fresh tokens allowed before a listing must stop. As in tests/hostile.rs. */
#define REPEATED_TOKEN_PAGE_BOUND 3
#define EMPTY_PAGE_BOUND 1000
/* Bytes a blobio_read_to of a lying object may hand over before it fails
 * (the 3 sent, and those of a few resumed requests). As in tests/hostile.rs. */
#define LYING_READ_TO_BOUND 1024

/* The cap on every concurrency setting the engine is to enforce (as in
 * tests/settings_bounds.rs). */
#define MAX_CONCURRENCY 256

static char hostile_url[64];
static char hostile_azure[128];
static const char *log_path;
/* The real servers, for the longer-source tests. */
static const char *s3s_endpoint, *s3s_access_key, *s3s_secret_key, *s3s_bucket;
static const char *moto_endpoint, *moto_bucket;
static const char *azurite_endpoint, *azurite_account, *azurite_key, *azurite_container;

/* ------------------------------------------------------------ helpers */

/* The options of an S3 store on the hostile server. */
static struct blobio_options *hostile_s3_options(void) {
    struct blobio_options *opts = new_options();
    SET_OPTION(opts, "endpoint", hostile_url);
    SET_OPTION(opts, "region", "us-east-1");
    SET_OPTION(opts, "access_key_id", "hostile-access-key");
    SET_OPTION(opts, "secret_access_key", "hostile-secret-key");
    SET_OPTION(opts, "url_style", "path");
    SET_OPTION(opts, "connect_timeout_ms", "5000");
    SET_OPTION(opts, "request_timeout_ms", "10000");
    SET_OPTION(opts, "stall_timeout_ms", "10000");
    return opts;
}

/* A URL naming `name` (a bucket or container) after `scheme`. */
static const char *url_of(const char *scheme, const char *name) {
    static char url[256];
    snprintf(url, sizeof url, "%s://%s", scheme, name);
    return url;
}

static blobio_store *open_hostile_s3(const char *bucket) {
    return open_url(url_of("s3", bucket), hostile_s3_options());
}

/* An Azure store on a container of the hostile server, by connection string. */
static char connection_string[512];

static struct blobio_options *hostile_azure_options(void) {
    snprintf(connection_string, sizeof connection_string,
             "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=%s;"
             "BlobEndpoint=%s;",
             AZURITE_DEV_KEY, hostile_azure);
    struct blobio_options *opts = new_options();
    SET_OPTION(opts, "connection_string", connection_string);
    SET_OPTION(opts, "connect_timeout_ms", "5000");
    SET_OPTION(opts, "request_timeout_ms", "10000");
    SET_OPTION(opts, "stall_timeout_ms", "10000");
    return opts;
}

static blobio_store *open_hostile_azure(const char *container) {
    return open_url(url_of("az", container), hostile_azure_options());
}

/* Lines of the server's log that contain both `a` and `b`. */
static size_t count_log(const char *a, const char *b) {
    FILE *f = fopen(log_path, "r");
    if (!f) {
        fprintf(stderr, "  cannot open the hostile server's log %s\n", log_path);
        atomic_fetch_add(&failed_checks, 1);
        return 0;
    }
    char line[8192];
    size_t n = 0;
    while (fgets(line, sizeof line, f)) {
        if (strstr(line, a) && strstr(line, b)) n++;
    }
    fclose(f);
    return n;
}

/* Runs `fn(arg)` in a forked child: an abort or a signal there fails the
 * check (naming the signal) instead of ending this program. */
static void in_child(const char *what, void (*fn)(const void *), const void *arg) {
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        atomic_fetch_add(&failed_checks, 1);
        return;
    }
    if (pid == 0) {
        int before = atomic_load(&failed_checks);
        fn(arg);
        fflush(stdout);
        fflush(stderr);
        _exit(atomic_load(&failed_checks) == before ? 0 : 1);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) < 0) {
        perror("waitpid");
        atomic_fetch_add(&failed_checks, 1);
        return;
    }
    if (WIFSIGNALED(status)) {
        fprintf(stderr, "  [%s] %s: the child process died of signal %d%s\n", current_test, what,
                WTERMSIG(status), WTERMSIG(status) == 6 ? " (SIGABRT: it aborted)" : "");
        atomic_fetch_add(&failed_checks, 1);
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "  [%s] %s: checks failed in the child process\n", current_test, what);
        atomic_fetch_add(&failed_checks, 1);
    }
}

/* Whether the last error message names `setting` (as `part_size` or
 * `part size`). */
static bool last_error_names(const char *setting) {
    char words[64];
    snprintf(words, sizeof words, "%s", setting);
    for (char *p = words; *p; p++) {
        if (*p == '_') *p = ' ';
    }
    return last_error_has(setting) || last_error_has(words);
}

/* ------------------------------------- 1. a Content-Length that lies */

/* One store of the hostile server: which backend, which scenario. */
struct target {
    bool azure;
    const char *scenario;
};

static blobio_store *open_target(const struct target *t) {
    return t->azure ? open_hostile_azure(t->scenario) : open_hostile_s3(t->scenario);
}

static void read_lying(const void *arg) {
    const struct target *t = arg;
    blobio_store *store = open_target(t);
    blobio_buffer buf = {0};
    blobio_status st = blobio_read(store, "obj", &buf);
    if (st != BLOBIO_STATUS_NETWORK && st != BLOBIO_STATUS_INVALID_ARGUMENT) {
        fprintf(stderr, "  [%s] %s %s: blobio_read gave %s, expected NETWORK (or INVALID_ARGUMENT): %s\n",
                current_test, t->azure ? "Azure" : "S3", t->scenario, blobio_status_str(st),
                blobio_last_error_message());
        atomic_fetch_add(&failed_checks, 1);
    }
    CHECK(buf.data == NULL && buf.len == 0);
    if (st == BLOBIO_STATUS_OK) blobio_buffer_free(&buf);
    blobio_store_free(store);
}

static const struct target s3_lying[] = {{false, "huge-length"}, {false, "max-length"}};
static const struct target azure_lying[] = {{true, "huge-length"}, {true, "max-length"}};

static void test_s3_read_of_a_lying_length_fails_without_aborting(void) {
    in_child("S3 blobio_read of Content-Length 10^14", read_lying, &s3_lying[0]);
    in_child("S3 blobio_read of Content-Length 2^63-1", read_lying, &s3_lying[1]);
}

static void test_azure_read_of_a_lying_length_fails_without_aborting(void) {
    in_child("Azure blobio_read of Content-Length 10^14", read_lying, &azure_lying[0]);
    in_child("Azure blobio_read of Content-Length 2^63-1", read_lying, &azure_lying[1]);
}

struct collected {
    uint8_t data[64];
    size_t len;
};

static int32_t collect(void *user, const uint8_t *data, size_t len) {
    struct collected *c = user;
    for (size_t i = 0; i < len; i++) {
        if (c->len < sizeof c->data) c->data[c->len] = data[i];
        c->len++;
    }
    return 0;
}

static void read_to_lying(const void *arg) {
    const struct target *t = arg;
    blobio_store *store = open_target(t);
    struct collected got = {{0}, 0};
    uint64_t written = 12345;
    blobio_status st = blobio_read_to(store, "obj", collect, &got, &written);
    if (st != BLOBIO_STATUS_NETWORK) {
        fprintf(stderr, "  [%s] %s %s: blobio_read_to gave %s, expected NETWORK: %s\n", current_test,
                t->azure ? "Azure" : "S3", t->scenario, blobio_status_str(st),
                blobio_last_error_message());
        atomic_fetch_add(&failed_checks, 1);
    }
    CHECK(written == 12345); /* out-params only on success */
    /* 3 bytes (a few more if the read was resumed), each the object's byte
     * at its place: 'a' to 'z' over and over. */
    CHECK(got.len <= LYING_READ_TO_BOUND);
    for (size_t i = 0; i < got.len && i < sizeof got.data; i++) {
        if (got.data[i] != (uint8_t)('a' + i % 26)) {
            fprintf(stderr, "  [%s] byte %zu is out of place\n", current_test, i);
            atomic_fetch_add(&failed_checks, 1);
            break;
        }
    }
    blobio_store_free(store);
}

static void test_read_to_of_a_lying_length_fails_after_3_bytes(void) {
    for (size_t i = 0; i < 2; i++) {
        in_child("S3 blobio_read_to of a lying Content-Length", read_to_lying, &s3_lying[i]);
        in_child("Azure blobio_read_to of a lying Content-Length", read_to_lying, &azure_lying[i]);
    }
}

/* --------------------------------------- 3. listings that never end */

static void check_endless(blobio_store *store, const char *path_needle, const char *list_needle,
                          const char *label) {
    size_t before = count_log(path_needle, list_needle);
    struct blobio_list *list = NULL;
    blobio_status st = blobio_list(store, "", &list);
    size_t pages = count_log(path_needle, list_needle) - before;
    if (st == BLOBIO_STATUS_OK) {
        fprintf(stderr, "  [%s] %s: blobio_list of a repeating token succeeded with %zu keys "
                        "after %zu list requests; expected an error within %d\n",
                current_test, label, blobio_list_len(list), pages, REPEATED_TOKEN_PAGE_BOUND);
        atomic_fetch_add(&failed_checks, 1);
        blobio_list_free(list);
    } else {
        CHECK(list == NULL);
        if (pages > REPEATED_TOKEN_PAGE_BOUND) {
            fprintf(stderr, "  [%s] %s: an error, but after %zu list requests (at most %d)\n",
                    current_test, label, pages, REPEATED_TOKEN_PAGE_BOUND);
            atomic_fetch_add(&failed_checks, 1);
        }
    }
}

static void test_list_with_a_repeating_token_is_an_error(void) {
    blobio_store *s3 = open_hostile_s3("endless-list");
    check_endless(s3, "GET /endless-list", "list-type=2", "S3");
    blobio_store_free(s3);
    blobio_store *az = open_hostile_azure("endless-list");
    check_endless(az, "GET /devstoreaccount1/endless-list?", "comp=list", "Azure");
    blobio_store_free(az);
}

static void check_empty_pages(blobio_store *store, const char *path_needle,
                              const char *list_needle, const char *label) {
    size_t before = count_log(path_needle, list_needle);
    struct blobio_list *list = NULL;
    blobio_status st = blobio_list(store, "", &list);
    size_t pages = count_log(path_needle, list_needle) - before;
    if (pages > EMPTY_PAGE_BOUND) {
        fprintf(stderr, "  [%s] %s: blobio_list followed %zu empty pages (%s); expected it to "
                        "stop within %d\n",
                current_test, label, pages, blobio_status_str(st), EMPTY_PAGE_BOUND);
        atomic_fetch_add(&failed_checks, 1);
    }
    if (st == BLOBIO_STATUS_OK) {
        CHECK(blobio_list_len(list) == 0);
        blobio_list_free(list);
    }
}

static void test_list_of_endless_empty_pages_ends_within_a_bound(void) {
    blobio_store *s3 = open_hostile_s3("empty-pages");
    check_empty_pages(s3, "GET /empty-pages", "list-type=2", "S3");
    blobio_store_free(s3);
    blobio_store *az = open_hostile_azure("empty-pages");
    check_empty_pages(az, "GET /devstoreaccount1/empty-pages?", "comp=list", "Azure");
    blobio_store_free(az);
}

/* ------------------------------------------ 6. a 400 keeps its detail */

static void check_400(blobio_store *store, const char *code, const char *message) {
    CHECK_STATUS(blobio_write(store, "some/key", (const uint8_t *)"hello", 5),
                 BLOBIO_STATUS_INVALID_ARGUMENT);
    CHECK(blobio_last_error_http_status() == 400);
    const char *got = blobio_last_error_code();
    CHECK(got != NULL && strcmp(got, code) == 0);
    CHECK(last_error_has(message));
    CHECK(last_error_has("REQ123"));

    blobio_buffer buf = {0};
    CHECK_STATUS(blobio_read(store, "some/key", &buf), BLOBIO_STATUS_INVALID_ARGUMENT);
    CHECK(blobio_last_error_http_status() == 400);
    got = blobio_last_error_code();
    CHECK(got != NULL && strcmp(got, code) == 0);
    CHECK(buf.data == NULL);
}

static void test_s3_400_keeps_code_and_message(void) {
    blobio_store *s3 = open_hostile_s3("status-400");
    check_400(s3, "KeyTooLongError", "Your key is too long");
    blobio_store_free(s3);
}

static void test_azure_400_keeps_code_and_message(void) {
    blobio_store *az = open_hostile_azure("status-400");
    check_400(az, "InvalidHeaderValue", "The value for one of the HTTP headers is not in the correct format.");
    blobio_store_free(az);
}

/* ------------------------------------------- 5. extreme settings */

/* `setting` = `value` on top of `opts` (freed) must be refused with
 * INVALID_ARGUMENT naming the setting: when it is set (a value outside the
 * key's range) or, at the latest, by blobio_open on `url`. */
static void refused(const char *url, struct blobio_options *opts, const char *setting,
                    const char *value) {
    blobio_status st = blobio_options_set(opts, setting, value);
    const char *where = "blobio_options_set";
    blobio_store *store = NULL;
    if (st == BLOBIO_STATUS_OK) {
        st = blobio_open(url, opts, &store);
        where = "blobio_open";
    }
    blobio_options_free(opts);
    if (st != BLOBIO_STATUS_INVALID_ARGUMENT) {
        fprintf(stderr, "  [%s] %s with an extreme %s (%s) gave %s, expected INVALID_ARGUMENT\n",
                current_test, where, setting, value, blobio_status_str(st));
        atomic_fetch_add(&failed_checks, 1);
        blobio_store_free(store);
        return;
    }
    CHECK(store == NULL);
    if (!last_error_names(setting)) {
        fprintf(stderr, "  [%s] the message does not name %s: %s\n", current_test, setting,
                blobio_last_error_message());
        atomic_fetch_add(&failed_checks, 1);
    }
}

static void s3_refused(const char *setting, const char *value) {
    refused(url_of("s3", "bounds"), hostile_s3_options(), setting, value);
}

static void test_s3_extreme_settings_are_refused(void) {
    s3_refused("part_size", "1125899906842624"); /* 2^50 */
    s3_refused("upload_concurrency", "4294967295");
    s3_refused("upload_concurrency", "257"); /* MAX_CONCURRENCY + 1 */
    s3_refused("download_concurrency", "4294967295");
    s3_refused("download_part_size", "1125899906842624");
    /* At the caps: accepted. */
    struct blobio_options *opts = hostile_s3_options();
    SET_OPTION(opts, "part_size", "5GiB");
    SET_OPTION_U64(opts, "upload_concurrency", MAX_CONCURRENCY);
    SET_OPTION_U64(opts, "download_concurrency", MAX_CONCURRENCY);
    blobio_store *store = open_url(url_of("s3", "bounds"), opts);
    blobio_store_free(store);
}

static void azure_refused(const char *setting, const char *value) {
    refused(url_of("az", "bounds"), hostile_azure_options(), setting, value);
}

static void test_azure_extreme_settings_are_refused(void) {
    azure_refused("block_size", "1125899906842624");
    azure_refused("upload_concurrency", "4294967295");
    azure_refused("download_concurrency", "4294967295");
    azure_refused("download_part_size", "1125899906842624");
}

/* ------------------- 4. a read callback that gives more than its size */

/* Gives `len` bytes of 'x' in chunks of at most `cap`. */
struct source {
    size_t given;
    size_t len;
};

static int32_t give(void *user, uint8_t *buf, size_t cap, size_t *out_n) {
    struct source *s = user;
    size_t n = s->len - s->given;
    if (n > cap) n = cap;
    memset(buf, 'x', n);
    s->given += n;
    *out_n = n;
    return 0;
}

static void check_longer_source(blobio_store *store, const char *label) {
    char fresh[128], old[128], zero[128];
    snprintf(fresh, sizeof fresh, "c-longer/%s/fresh", label);
    snprintf(old, sizeof old, "c-longer/%s/old", label);
    snprintf(zero, sizeof zero, "c-longer/%s/zero", label);

    struct source src = {0, 100};
    CHECK_STATUS(blobio_write_from(store, fresh, give, &src, 50), BLOBIO_STATUS_IO);
    int64_t size = 0;
    CHECK_OK(blobio_stat(store, fresh, &size));
    if (size != -1) {
        fprintf(stderr, "  [%s] %s: %" PRId64 " bytes were stored from a source of 100 "
                        "announced as 50\n", current_test, label, size);
        atomic_fetch_add(&failed_checks, 1);
    }

    CHECK_OK(blobio_write(store, old, (const uint8_t *)"old bytes", 9));
    src = (struct source){0, 100};
    CHECK_STATUS(blobio_write_from(store, old, give, &src, 50), BLOBIO_STATUS_IO);
    blobio_buffer buf = {0};
    CHECK_OK(blobio_read(store, old, &buf));
    CHECK(buf.len == 9 && buf.data && memcmp(buf.data, "old bytes", 9) == 0);
    blobio_buffer_free(&buf);

    src = (struct source){0, 100};
    CHECK_STATUS(blobio_write_from(store, zero, give, &src, 0), BLOBIO_STATUS_IO);
    size = 0;
    CHECK_OK(blobio_stat(store, zero, &size));
    CHECK(size == -1);
}

static blobio_store *real_s3(const char *endpoint, const char *ak, const char *sk,
                             const char *bucket) {
    struct blobio_options *opts = new_options();
    SET_OPTION(opts, "endpoint", endpoint);
    SET_OPTION(opts, "region", "us-east-1");
    SET_OPTION(opts, "access_key_id", ak);
    SET_OPTION(opts, "secret_access_key", sk);
    SET_OPTION(opts, "url_style", "path");
    return open_url(url_of("s3", bucket), opts);
}

static void test_s3s_fs_refuses_a_longer_source(void) {
    blobio_store *store = real_s3(s3s_endpoint, s3s_access_key, s3s_secret_key, s3s_bucket);
    if (store) check_longer_source(store, "s3s");
    blobio_store_free(store);
}

static void test_moto_refuses_a_longer_source(void) {
    blobio_store *store = real_s3(moto_endpoint, "moto-access", "moto-secret", moto_bucket);
    if (store) check_longer_source(store, "moto");
    blobio_store_free(store);
}

static void test_azurite_refuses_a_longer_source(void) {
    struct blobio_options *opts = new_options();
    SET_OPTION(opts, "account_name", azurite_account);
    SET_OPTION(opts, "account_key", azurite_key);
    SET_OPTION(opts, "endpoint", azurite_endpoint);
    blobio_store *store = open_url(url_of("az", azurite_container), opts);
    if (store) check_longer_source(store, "azurite");
    blobio_store_free(store);
}

int main(void) {
    const char *port = need_env("BLOBIO_TEST_HOSTILE_PORT");
    log_path = need_env("BLOBIO_TEST_HOSTILE_LOG");
    s3s_endpoint = need_env("BLOBIO_TEST_S3S_ENDPOINT");
    s3s_access_key = need_env("BLOBIO_TEST_S3S_ACCESS_KEY");
    s3s_secret_key = need_env("BLOBIO_TEST_S3S_SECRET_KEY");
    s3s_bucket = need_env("BLOBIO_TEST_HOSTILE_S3S_BUCKET");
    moto_endpoint = need_env("BLOBIO_TEST_MOTO_ENDPOINT");
    moto_bucket = need_env("BLOBIO_TEST_HOSTILE_MOTO_BUCKET");
    azurite_endpoint = need_env("BLOBIO_TEST_AZURITE_ENDPOINT");
    azurite_account = need_env("BLOBIO_TEST_AZURITE_ACCOUNT");
    azurite_key = need_env("BLOBIO_TEST_AZURITE_KEY");
    azurite_container = need_env("BLOBIO_TEST_HOSTILE_AZURE_CONTAINER");
    snprintf(hostile_url, sizeof hostile_url, "http://127.0.0.1:%s", port);
    snprintf(hostile_azure, sizeof hostile_azure, "http://127.0.0.1:%s/devstoreaccount1", port);
    static const struct test_case tests[] = {
        {"s3_read_of_a_lying_length_fails_without_aborting",
         test_s3_read_of_a_lying_length_fails_without_aborting},
        {"azure_read_of_a_lying_length_fails_without_aborting",
         test_azure_read_of_a_lying_length_fails_without_aborting},
        {"read_to_of_a_lying_length_fails_after_3_bytes",
         test_read_to_of_a_lying_length_fails_after_3_bytes},
        {"list_with_a_repeating_token_is_an_error", test_list_with_a_repeating_token_is_an_error},
        {"list_of_endless_empty_pages_ends_within_a_bound",
         test_list_of_endless_empty_pages_ends_within_a_bound},
        {"s3_400_keeps_code_and_message", test_s3_400_keeps_code_and_message},
        {"azure_400_keeps_code_and_message", test_azure_400_keeps_code_and_message},
        {"s3_extreme_settings_are_refused", test_s3_extreme_settings_are_refused},
        {"azure_extreme_settings_are_refused", test_azure_extreme_settings_are_refused},
        {"s3s_fs_refuses_a_longer_source", test_s3s_fs_refuses_a_longer_source},
        {"moto_refuses_a_longer_source", test_moto_refuses_a_longer_source},
        {"azurite_refuses_a_longer_source", test_azurite_refuses_a_longer_source},
    };
    int passed = 0, failed = 0;
    run_tests(tests, sizeof tests / sizeof tests[0], &passed, &failed);
    printf("\n%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
