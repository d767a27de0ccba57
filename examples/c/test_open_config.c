/*
 * blobio_open_config across processes, as the Go package uses it: a parent
 * opens a store, writes an object, and starts a child process (this very
 * program, through posix_spawn) with the store's kind and config JSON on
 * its command line; the child opens the store with blobio_open_config,
 * checks that it has the parent's settings (the same JSON), reads the
 * object back byte-exact and writes one of its own, which the parent then
 * reads. Credentials never travel in the JSON: the child gets them from
 * its environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY,
 * AZURE_STORAGE_KEY: set in the child's environment only) or sets them as
 * options; a child given none is refused.
 *
 *     test_open_config [local] [s3] [azure]     the stores to test (default: all)
 *
 * `local` needs nothing (`make -C examples/c test`); `s3` needs
 * BLOBIO_TEST_S3S_ENDPOINT, _ACCESS_KEY, _SECRET_KEY and
 * BLOBIO_TEST_S3_BUCKET (an existing bucket); `azure` needs
 * BLOBIO_TEST_AZURITE_ENDPOINT, _ACCOUNT, _KEY and
 * BLOBIO_TEST_AZURE_CONTAINER (an existing container): `make -C examples/c
 * test-open-config`, part of test-servers. Built under ASan+UBSan.
 *
 * The child is started as
 *     test_open_config --child KIND CONFIG_JSON PATH LEN SEED CREDS EXPECT TEST
 * CREDS is `env` (from the environment), `options` (the child sets them
 * from the BLOBIO_TEST_* variables) or `none`; EXPECT is `ok`, or the
 * status (blobio_status_str) that opening or reading must fail with; TEST
 * names the parent's test in the child's messages. The child exits 0 when
 * every check passed.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store_checks.h"
#include "test_open.h"

extern char **environ;

/* Seconds a child may take before it counts as hung. */
#define CHILD_DEADLINE_S 120

/* `len` bytes that depend on `seed` and on the offset of each byte. */
/* A copy of the flat JSON object `json` without its string member `name`
 * (and the comma after it); the caller frees it. */
static char *without_member(const char *json, const char *name) {
    size_t len = strlen(json);
    char *out = malloc(len + 1);
    if (!out) return NULL;
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":\"", name);
    const char *at = strstr(json, pattern);
    if (!at) {
        memcpy(out, json, len + 1);
        return out;
    }
    const char *end = strchr(at + strlen(pattern), '"');
    if (!end) {
        memcpy(out, json, len + 1);
        return out;
    }
    end++;
    if (*end == ',') end++;
    size_t head = (size_t)(at - json);
    memcpy(out, json, head);
    strcpy(out + head, end);
    return out;
}

static uint8_t *pattern(size_t len, uint32_t seed) {
    uint8_t *p = malloc(len ? len : 1);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    uint32_t x = seed * 2654435761u + 1u;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (uint8_t)(x >> 24);
    }
    return p;
}

/* Whether `path` holds exactly pattern(len, seed); says what differs. */
static bool holds(blobio_store *store, const char *path, size_t len, uint32_t seed,
                  const char *who) {
    blobio_buffer buf = {0};
    blobio_status st = blobio_read(store, path, &buf);
    if (st != BLOBIO_STATUS_OK) {
        fprintf(stderr, "  [%s] %s: read %s gave %s: %s\n", current_test, who, path,
                blobio_status_str(st), blobio_last_error_message());
        return false;
    }
    uint8_t *want = pattern(len, seed);
    bool ok = buf.len == len && (len == 0 || memcmp(buf.data, want, len) == 0);
    if (!ok) {
        fprintf(stderr, "  [%s] %s: read %s gave %zu bytes, not the %zu written\n", current_test,
                who, path, buf.len, len);
    }
    free(want);
    blobio_buffer_free(&buf);
    return ok;
}

/* The reply a child writes beside `path`. */
static void reply_path(char *out, size_t cap, const char *path) {
    snprintf(out, cap, "%s.from-child", path);
}

/* ------------------------------------------------------------ the child */

static int child_main(int argc, char **argv) {
    if (argc != 10) {
        fprintf(stderr, "usage: %s --child KIND CONFIG_JSON PATH LEN SEED CREDS EXPECT TEST\n",
                argv[0]);
        return 2;
    }
    const char *kind = argv[2], *json = argv[3], *path = argv[4], *creds = argv[7];
    const char *expect = argv[8];
    size_t len = (size_t)strtoull(argv[5], NULL, 10);
    uint32_t seed = (uint32_t)strtoul(argv[6], NULL, 10);
    current_test = argv[9];

    struct blobio_options *opts = NULL;
    if (strcmp(creds, "options") == 0) {
        opts = new_options();
        if (strcmp(kind, "s3") == 0) {
            SET_OPTION(opts, "aws_access_key_id", need_env("BLOBIO_TEST_S3S_ACCESS_KEY"));
            SET_OPTION(opts, "aws_secret_access_key", need_env("BLOBIO_TEST_S3S_SECRET_KEY"));
        } else if (strcmp(kind, "azure") == 0) {
            SET_OPTION(opts, "account_key", need_env("BLOBIO_TEST_AZURITE_KEY"));
        }
    }
    blobio_store *store = NULL;
    blobio_status st = blobio_open_config(kind, json, opts, &store);
    blobio_options_free(opts);
    if (strcmp(expect, "ok") != 0) {
        /* Opening or reading must fail with `expect`. */
        blobio_buffer buf = {0};
        if (st == BLOBIO_STATUS_OK) st = blobio_read(store, path, &buf);
        if (st == BLOBIO_STATUS_OK) blobio_buffer_free(&buf);
        if (strcmp(blobio_status_str(st), expect) != 0) {
            fprintf(stderr, "  [%s] child: expected %s, got %s: %s\n", current_test, expect,
                    blobio_status_str(st), blobio_last_error_message());
            atomic_fetch_add(&failed_checks, 1);
        }
        blobio_store_free(store);
        return atomic_load(&failed_checks) == 0 ? 0 : 1;
    }
    if (st != BLOBIO_STATUS_OK) {
        fprintf(stderr, "  [%s] child: blobio_open_config(%s, %s) gave %s: %s\n", current_test,
                kind, json, blobio_status_str(st), blobio_last_error_message());
        return 1;
    }
    CHECK(strcmp(blobio_store_kind(store), kind) == 0);
    /* The same settings as the parent's store. */
    char *mine = NULL;
    CHECK_OK(blobio_store_config_json(store, &mine));
    /* Every setting the same; where the credentials came from is this
     * process's own fact (options in the parent, the environment here). */
    char *mine_cmp = mine ? without_member(mine, "credential_source") : NULL;
    char *json_cmp = without_member(json, "credential_source");
    if (mine_cmp && json_cmp && strcmp(mine_cmp, json_cmp) != 0) {
        fprintf(stderr, "  [%s] child: the reopened store's config differs:\n    parent %s\n    child  %s\n",
                current_test, json, mine);
        atomic_fetch_add(&failed_checks, 1);
    }
    free(mine_cmp);
    free(json_cmp);
    blobio_string_free(mine);
    /* A resilient store comes back resilient. */
    int32_t state = -1;
    blobio_status circuit = blobio_circuit_state(store, &state);
    if (strstr(json, "\"resilient\":")) {
        CHECK(circuit == BLOBIO_STATUS_OK && state == BLOBIO_CIRCUIT_CLOSED);
    } else {
        CHECK(circuit == BLOBIO_STATUS_UNSUPPORTED);
    }
    CHECK(holds(store, path, len, seed, "child"));
    char reply[512];
    reply_path(reply, sizeof reply, path);
    size_t reply_len = len / 2 + 1;
    uint8_t *data = pattern(reply_len, seed + 1);
    CHECK_OK(blobio_write(store, reply, data, reply_len));
    free(data);
    blobio_store_free(store);
    return atomic_load(&failed_checks) == 0 ? 0 : 1;
}

/* ----------------------------------------------------------- the parent */

/* Variables the child must not inherit: every credential it could find. */
static bool scrubbed(const char *entry) {
    static const char *const prefixes[] = {"AWS_", "AZURE_"};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        if (strncmp(entry, prefixes[i], strlen(prefixes[i])) == 0) return true;
    }
    return false;
}

/* Waits for `pid` at most `seconds`: its exit status, or -1 when it died
 * of a signal or had to be killed. */
static int wait_child(pid_t pid, int seconds) {
    struct timespec step = {0, 20 * 1000 * 1000};
    for (long waited_ms = 0;; waited_ms += 20) {
        int status = 0;
        pid_t got = waitpid(pid, &status, WNOHANG);
        if (got == pid) {
            if (WIFEXITED(status)) return WEXITSTATUS(status);
            fprintf(stderr, "  [%s] the child died of signal %d\n", current_test,
                    WIFSIGNALED(status) ? WTERMSIG(status) : 0);
            return -1;
        }
        if (got < 0 && errno != EINTR) {
            perror("waitpid");
            return -1;
        }
        if (waited_ms >= (long)seconds * 1000) {
            fprintf(stderr, "  [%s] the child still runs after %d s (hung): killed\n",
                    current_test, seconds);
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        nanosleep(&step, NULL);
    }
}

/* Starts this program as a child with the store's kind and JSON; the
 * child's environment is the parent's without any AWS_* or AZURE_*
 * variable, plus `extra_env` (NULL-terminated "NAME=value" strings). */
static int run_child(const char *kind, const char *json, const char *path, size_t len,
                     uint32_t seed, const char *creds, const char *expect,
                     const char *const *extra_env) {
    char len_text[32], seed_text[32];
    snprintf(len_text, sizeof len_text, "%zu", len);
    snprintf(seed_text, sizeof seed_text, "%u", (unsigned)seed);
    char *argv[] = {"test_open_config", "--child", (char *)kind, (char *)json, (char *)path,
                    len_text, seed_text, (char *)creds, (char *)expect, (char *)current_test,
                    NULL};
    size_t n = 0, extra = 0;
    while (environ[n]) n++;
    while (extra_env && extra_env[extra]) extra++;
    char **envp = calloc(n + extra + 1, sizeof *envp);
    if (!envp) return -1;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!scrubbed(environ[i])) envp[k++] = environ[i];
    }
    for (size_t i = 0; i < extra; i++) envp[k++] = (char *)extra_env[i];
    envp[k] = NULL;
    fflush(NULL);
    pid_t pid = 0;
    int err = posix_spawn(&pid, "/proc/self/exe", NULL, NULL, argv, envp);
    free(envp);
    if (err != 0) {
        fprintf(stderr, "  [%s] posix_spawn: %s\n", current_test, strerror(err));
        return -1;
    }
    return wait_child(pid, CHILD_DEADLINE_S);
}

/* Writes pattern(len, seed) to `path` on `store`, hands the store to a
 * child that must read it back and reply, and reads the reply. `secret`
 * (when not NULL) must not be in the JSON. */
static void check_across_processes(blobio_store *store, const char *path, size_t len,
                                   uint32_t seed, const char *creds,
                                   const char *const *extra_env, const char *secret) {
    if (!store) return;
    uint8_t *data = pattern(len, seed);
    CHECK_OK(blobio_write(store, path, data, len));
    free(data);
    char reply[512];
    reply_path(reply, sizeof reply, path);
    CHECK_OK(blobio_delete(store, reply));
    char *json = NULL;
    CHECK_OK(blobio_store_config_json(store, &json));
    if (!json) return;
    CHECK(!secret || strstr(json, secret) == NULL);
    int status = run_child(blobio_store_kind(store), json, path, len, seed, creds, "ok", extra_env);
    if (status != 0) {
        fprintf(stderr, "  [%s] the child (credentials: %s) exited with %d for %s\n", current_test,
                creds, status, json);
        atomic_fetch_add(&failed_checks, 1);
    }
    CHECK(holds(store, reply, len / 2 + 1, seed + 1, "parent"));
    blobio_string_free(json);
    CHECK_OK(blobio_delete(store, path));
    CHECK_OK(blobio_delete(store, reply));
}

/* A child given no credentials must fail with `expect`. */
static void check_child_refused(blobio_store *store, const char *path, const char *expect) {
    if (!store) return;
    CHECK_OK(blobio_write(store, path, (const uint8_t *)"private", 7));
    char *json = NULL;
    CHECK_OK(blobio_store_config_json(store, &json));
    if (!json) return;
    int status = run_child(blobio_store_kind(store), json, path, 7, 0, "none", expect, NULL);
    if (status != 0) {
        fprintf(stderr, "  [%s] the child without credentials was not refused with %s (exit %d)\n",
                current_test, expect, status);
        atomic_fetch_add(&failed_checks, 1);
    }
    blobio_string_free(json);
    CHECK_OK(blobio_delete(store, path));
}

/* ------------------------------------------------------------ tests */

static char local_dir[64];

static void test_local_store_across_processes(void) {
    /* 1 MiB + 3 bytes; the child gets nothing but the JSON. */
    blobio_store *store = open_url(local_dir, NULL);
    check_across_processes(store, "db/cpu/x.bin", (1u << 20) + 3u, 11, "env", NULL, NULL);
    blobio_store_free(store);

    /* A resilient one: the JSON says so, with its settings. */
    struct blobio_options *opts = new_options();
    SET_OPTION(opts, "resilient", "true");
    SET_OPTION(opts, "circuit_max_failures", "7");
    SET_OPTION(opts, "circuit_open_timeout_ms", "4321");
    SET_OPTION(opts, "max_retries", "1");
    store = open_url(local_dir, opts);
    check_across_processes(store, "resilient/y.bin", 4097, 12, "env", NULL, NULL);
    if (store) {
        CHECK_OK(blobio_remove_directory(store, "resilient"));
        CHECK_OK(blobio_remove_directory(store, "db/cpu"));
        CHECK_OK(blobio_remove_directory(store, "db"));
    }
    blobio_store_free(store);
}

static const char *s3_endpoint, *s3_access_key, *s3_secret_key, *s3_bucket;

/* An S3 store on s3s-fs whose reads of 1 MiB and more go as 1 MiB ranges:
 * settings that the child's store must have too. */
static blobio_store *open_s3(const char *prefix, bool resilient) {
    struct blobio_options *opts = new_options();
    SET_OPTION(opts, "endpoint", s3_endpoint);
    SET_OPTION(opts, "region", "us-east-1");
    SET_OPTION(opts, "access_key_id", s3_access_key);
    SET_OPTION(opts, "secret_access_key", s3_secret_key);
    SET_OPTION(opts, "download_threshold", "1MiB");
    SET_OPTION(opts, "download_part_size", "1MiB");
    SET_OPTION(opts, "download_concurrency", "3");
    SET_OPTION(opts, "part_size", "5MiB");
    if (resilient) {
        SET_OPTION(opts, "resilient", "true");
        SET_OPTION(opts, "circuit_half_open_requests", "2");
    }
    char url[512];
    snprintf(url, sizeof url, "s3://%s/%s", s3_bucket, prefix);
    return open_url(url, opts);
}

static void test_s3_store_across_processes(void) {
    char key_env[256], secret_env[256];
    snprintf(key_env, sizeof key_env, "AWS_ACCESS_KEY_ID=%s", s3_access_key);
    snprintf(secret_env, sizeof secret_env, "AWS_SECRET_ACCESS_KEY=%s", s3_secret_key);
    const char *const creds_env[] = {key_env, secret_env, NULL};

    blobio_store *store = open_s3("c-open-config", false);
    /* 3 MiB + 5: the child reads it as parallel ranges. */
    check_across_processes(store, "env/x.bin", (3u << 20) + 5u, 21, "env", creds_env,
                           s3_secret_key);
    check_across_processes(store, "options/x.bin", 100000, 22, "options", NULL, s3_secret_key);
    /* No credentials: anonymous requests, which s3s-fs refuses. */
    check_child_refused(store, "none/x.bin", "permission_denied");
    blobio_store_free(store);

    store = open_s3("c-open-config-resilient", true);
    check_across_processes(store, "env/y.bin", 2048, 23, "env", creds_env, s3_secret_key);
    blobio_store_free(store);
}

static const char *az_endpoint, *az_account, *az_key, *az_container;

static void test_azure_store_across_processes(void) {
    struct blobio_options *opts = new_options();
    SET_OPTION(opts, "account_name", az_account);
    SET_OPTION(opts, "account_key", az_key);
    SET_OPTION(opts, "endpoint", az_endpoint);
    SET_OPTION(opts, "download_threshold", "1MiB");
    SET_OPTION(opts, "download_part_size", "1MiB");
    SET_OPTION(opts, "block_size", "1MiB");
    SET_OPTION(opts, "list_page_size", "100");
    char url[512];
    snprintf(url, sizeof url, "az://%s/c-open-config", az_container);
    blobio_store *store = open_url(url, opts);

    char key_env[256];
    snprintf(key_env, sizeof key_env, "AZURE_STORAGE_KEY=%s", az_key);
    const char *const creds_env[] = {key_env, NULL};
    check_across_processes(store, "env/x.bin", (3u << 20) + 5u, 31, "env", creds_env, az_key);
    check_across_processes(store, "options/x.bin", 100000, 32, "options", NULL, az_key);
    /* No key anywhere: no Azure credentials found (the chain's token
     * steps have nothing either, and an http endpoint never gets one). */
    check_child_refused(store, "none/x.bin", "permission_denied");
    blobio_store_free(store);
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "--child") == 0) return child_main(argc, argv);

    bool want_local = argc == 1, want_s3 = argc == 1, want_azure = argc == 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "local") == 0) want_local = true;
        else if (strcmp(argv[i], "s3") == 0) want_s3 = true;
        else if (strcmp(argv[i], "azure") == 0) want_azure = true;
        else {
            fprintf(stderr, "usage: %s [local] [s3] [azure]\n", argv[0]);
            return 2;
        }
    }
    struct test_case tests[3];
    size_t n = 0;
    if (want_local) {
        snprintf(local_dir, sizeof local_dir, "/tmp/blobio-c-open-config-XXXXXX");
        if (!mkdtemp(local_dir)) {
            perror("mkdtemp");
            return 2;
        }
        tests[n++] = (struct test_case){"local_store_across_processes",
                                        test_local_store_across_processes};
    }
    if (want_s3) {
        s3_endpoint = need_env("BLOBIO_TEST_S3S_ENDPOINT");
        s3_access_key = need_env("BLOBIO_TEST_S3S_ACCESS_KEY");
        s3_secret_key = need_env("BLOBIO_TEST_S3S_SECRET_KEY");
        s3_bucket = need_env("BLOBIO_TEST_S3_BUCKET");
        tests[n++] = (struct test_case){"s3_store_across_processes", test_s3_store_across_processes};
    }
    if (want_azure) {
        az_endpoint = need_env("BLOBIO_TEST_AZURITE_ENDPOINT");
        az_account = need_env("BLOBIO_TEST_AZURITE_ACCOUNT");
        az_key = need_env("BLOBIO_TEST_AZURITE_KEY");
        az_container = need_env("BLOBIO_TEST_AZURE_CONTAINER");
        tests[n++] = (struct test_case){"azure_store_across_processes",
                                        test_azure_store_across_processes};
    }
    int passed = 0, failed = 0;
    run_tests(tests, n, &passed, &failed);
    if (want_local && rmdir(local_dir) != 0) perror(local_dir);
    printf("\n%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
