/*
 * The AWS credential chain from C: every provider opens an S3 store through
 * blobio_open and signs for a real server with what it found.
 *
 *   environment, profile, credential_process   s3s-fs (checks SigV4 with its keys)
 *   container (ECS) and instance metadata       the second s3s-fs, which knows only the
 *                                               keys moto's IMDS hands out (test-key)
 *   AssumeRole (source_profile), web identity   moto's STS, then moto's S3
 *
 * Each test runs in a forked child that sets its own environment (the
 * parent never opens a store, so it has no threads to fork); the files a
 * test needs (credentials, config, a token, a credential_process script)
 * are written to a fresh temp directory. No case may show a secret in the
 * store's config JSON or in an error message.
 *
 * Needs BLOBIO_TEST_S3S_ENDPOINT, _ACCESS_KEY, _SECRET_KEY,
 * BLOBIO_TEST_S3_BUCKET (an s3s-fs bucket), BLOBIO_TEST_S3S_IMDS_ENDPOINT,
 * BLOBIO_TEST_S3S_IMDS_BUCKET, BLOBIO_TEST_MOTO_ENDPOINT and
 * BLOBIO_TEST_MOTO_BUCKET: `make -C examples/c test-credentials`, part of
 * test-servers. Built under ASan+UBSan.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store_checks.h"
#include "test_open.h"

static char dir[256];
static const char *s3s_endpoint, *s3s_key, *s3s_secret, *s3s_bucket;
static const char *imds_s3s_endpoint, *imds_s3s_bucket;
static const char *moto_endpoint, *moto_bucket;

/* Every variable the chain reads: a child starts from none of them. */
static const char *const chain_vars[] = {
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT", "AWS_REGION", "AWS_DEFAULT_REGION",
};

static void set_env(const char *name, const char *value) {
    CHECK(setenv(name, value, 1) == 0);
}

/* A file in the test's directory, `mode` its permissions. */
static void write_file(const char *name, const char *text, mode_t mode, char *path, size_t cap) {
    snprintf(path, cap, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    fputs(text, f);
    CHECK(fclose(f) == 0);
    CHECK(chmod(path, mode) == 0);
}

/* The child's environment: nothing of the chain but empty shared files,
 * IMDS off (tests that want it turn it on), then the test's own. */
static void clean_env(void) {
    for (size_t i = 0; i < sizeof chain_vars / sizeof *chain_vars; i++) unsetenv(chain_vars[i]);
    char path[512];
    write_file("empty-credentials", "", 0600, path, sizeof path);
    set_env("AWS_SHARED_CREDENTIALS_FILE", path);
    write_file("empty-config", "", 0600, path, sizeof path);
    set_env("AWS_CONFIG_FILE", path);
    set_env("AWS_EC2_METADATA_DISABLED", "true");
}

/* Options of an S3 store at `endpoint` (path-style, us-east-1), no keys. */
static struct blobio_options *s3_options(const char *endpoint) {
    struct blobio_options *opts = new_options();
    SET_OPTION(opts, "endpoint", endpoint);
    SET_OPTION(opts, "region", "us-east-1");
    SET_OPTION(opts, "url_style", "path");
    return opts;
}

static blobio_store *open_bucket(const char *bucket, struct blobio_options *opts) {
    char url[512];
    snprintf(url, sizeof url, "s3://%s/c-credentials/%ld", bucket, (long)getpid());
    return open_url(url, opts);
}

/* Writes, reads back, lists and deletes one object. */
static void round_trip(blobio_store *store) {
    const char *text = "signed with what the chain found";
    CHECK_OK(blobio_write(store, "x.txt", (const uint8_t *)text, strlen(text)));
    blobio_buffer buf = {0};
    CHECK_OK(blobio_read(store, "x.txt", &buf));
    CHECK(buf.len == strlen(text) && buf.data && memcmp(buf.data, text, buf.len) == 0);
    blobio_buffer_free(&buf);
    struct blobio_list *keys = NULL;
    CHECK_OK(blobio_list(store, "", &keys));
    CHECK(keys && blobio_list_len(keys) == 1);
    blobio_list_free(keys);
    CHECK_OK(blobio_delete(store, "x.txt"));
    bool there = true;
    CHECK_OK(blobio_exists(store, "x.txt", &there));
    CHECK(!there);
}

/* The store says where its credentials came from, and shows no secret. */
static void check_source(blobio_store *store, const char *want, const char *secret) {
    char *source = NULL;
    CHECK_OK(blobio_store_option(store, "credential_source", &source));
    if (source && strcmp(source, want) != 0) {
        fprintf(stderr, "  [%s] credential_source is \"%s\", expected \"%s\"\n", current_test,
                source, want);
        atomic_fetch_add(&failed_checks, 1);
    }
    blobio_string_free(source);
    char *json = NULL;
    CHECK_OK(blobio_store_config_json(store, &json));
    CHECK(json && strstr(json, "\"credential_source\"") != NULL);
    CHECK(json && strstr(json, secret) == NULL);
    blobio_string_free(json);
}

/* Opens a store whose keys the chain must find, round trips, checks the
 * source; the options are freed. */
static void works_with(const char *bucket, struct blobio_options *opts, const char *source,
                       const char *secret) {
    blobio_store *store = open_bucket(bucket, opts);
    if (!store) return;
    round_trip(store);
    check_source(store, source, secret);
    blobio_store_free(store);
}

/* ---- the providers -------------------------------------------------------- */

static void environment(void) {
    set_env("AWS_ACCESS_KEY_ID", s3s_key);
    set_env("AWS_SECRET_ACCESS_KEY", s3s_secret);
    works_with(s3s_bucket, s3_options(s3s_endpoint), "env", s3s_secret);
}

static void profile_static_keys(void) {
    char text[1024], path[512];
    snprintf(text, sizeof text, "[other]\naws_access_key_id = wrong\naws_secret_access_key = wrong\n\n"
                                "[c-static]\naws_access_key_id = %s\naws_secret_access_key = %s\n",
             s3s_key, s3s_secret);
    write_file("credentials", text, 0600, path, sizeof path);
    set_env("AWS_SHARED_CREDENTIALS_FILE", path);
    struct blobio_options *opts = s3_options(s3s_endpoint);
    SET_OPTION(opts, "profile", "c-static");
    works_with(s3s_bucket, opts, "profile:c-static", s3s_secret);

    /* AWS_PROFILE chooses it too. */
    set_env("AWS_PROFILE", "c-static");
    works_with(s3s_bucket, s3_options(s3s_endpoint), "profile:c-static", s3s_secret);
}

static void credential_process(void) {
    char script[1024], path[512], config[1024], cfg_path[512];
    snprintf(script, sizeof script,
             "#!/bin/sh\nprintf '{\"Version\": 1, \"AccessKeyId\": \"%s\", "
             "\"SecretAccessKey\": \"%s\"}'\n",
             s3s_key, s3s_secret);
    write_file("creds.sh", script, 0700, path, sizeof path);
    snprintf(config, sizeof config, "[profile c-proc]\ncredential_process = %s\n", path);
    write_file("config", config, 0600, cfg_path, sizeof cfg_path);
    set_env("AWS_CONFIG_FILE", cfg_path);
    struct blobio_options *opts = s3_options(s3s_endpoint);
    SET_OPTION(opts, "profile", "c-proc");
    works_with(s3s_bucket, opts, "profile:c-proc", s3s_secret);

    /* A process that fails: its exit and stderr are in the error, and no
     * bytes are stored. */
    write_file("fails.sh", "#!/bin/sh\necho 'sso session expired' >&2\nexit 3\n", 0700, path,
               sizeof path);
    snprintf(config, sizeof config, "[profile c-fails]\ncredential_process = %s\n", path);
    write_file("config", config, 0600, cfg_path, sizeof cfg_path);
    opts = s3_options(s3s_endpoint);
    SET_OPTION(opts, "profile", "c-fails");
    char url[512];
    snprintf(url, sizeof url, "s3://%s/c-credentials/%ld", s3s_bucket, (long)getpid());
    blobio_store *store = NULL;
    blobio_status st = blobio_open(url, opts, &store);
    blobio_options_free(opts);
    if (st == BLOBIO_STATUS_OK) {
        st = blobio_write(store, "never.txt", (const uint8_t *)"x", 1);
        blobio_store_free(store);
    }
    CHECK(st != BLOBIO_STATUS_OK);
    CHECK(last_error_has("credential_process"));
    CHECK(last_error_has("sso session expired"));
}

static void assume_role_from_a_source_profile(void) {
    char text[1024], path[512];
    write_file("credentials", "[c-base]\naws_access_key_id = AKIDBASE\naws_secret_access_key = base-secret\n",
               0600, path, sizeof path);
    set_env("AWS_SHARED_CREDENTIALS_FILE", path);
    snprintf(text, sizeof text,
             "[profile c-role]\nrole_arn = arn:aws:iam::123456789012:role/c-test\n"
             "source_profile = c-base\nrole_session_name = c-session\n");
    write_file("config", text, 0600, path, sizeof path);
    set_env("AWS_CONFIG_FILE", path);
    struct blobio_options *opts = s3_options(moto_endpoint);
    SET_OPTION(opts, "profile", "c-role");
    SET_OPTION(opts, "sts_endpoint", moto_endpoint);
    works_with(moto_bucket, opts, "profile:c-role", "base-secret");
}

static void a_profile_loop_is_named(void) {
    char path[512];
    write_file("config",
               "[profile c-a]\nrole_arn = arn:aws:iam::123456789012:role/a\nsource_profile = c-b\n\n"
               "[profile c-b]\nrole_arn = arn:aws:iam::123456789012:role/b\nsource_profile = c-a\n",
               0600, path, sizeof path);
    set_env("AWS_CONFIG_FILE", path);
    struct blobio_options *opts = s3_options(moto_endpoint);
    SET_OPTION(opts, "profile", "c-a");
    SET_OPTION(opts, "sts_endpoint", moto_endpoint);
    char url[512];
    snprintf(url, sizeof url, "s3://%s/x", moto_bucket);
    open_fails(url, opts, BLOBIO_STATUS_INVALID_ARGUMENT, "c-a");
    CHECK(last_error_has("c-b"));
}

static void web_identity(void) {
    char path[512];
    write_file("token", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJjLXRlc3QifQ.", 0600, path, sizeof path);
    set_env("AWS_WEB_IDENTITY_TOKEN_FILE", path);
    set_env("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/c-web");
    set_env("AWS_ROLE_SESSION_NAME", "c-web-session");
    struct blobio_options *opts = s3_options(moto_endpoint);
    SET_OPTION(opts, "sts_endpoint", moto_endpoint);
    works_with(moto_bucket, opts, "web_identity", "eyJzdWIiOiJjLXRlc3QifQ");
}

/* moto's instance-metadata credentials document has the container
 * endpoint's fields (AccessKeyId, SecretAccessKey, Token, Expiration): as a
 * full URI on loopback it serves as the container endpoint. */
static void container_credentials(void) {
    char uri[512];
    snprintf(uri, sizeof uri, "%s/latest/meta-data/iam/security-credentials/default-role",
             moto_endpoint);
    set_env("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri);
    set_env("AWS_CONTAINER_AUTHORIZATION_TOKEN", "c-container-token");
    works_with(imds_s3s_bucket, s3_options(imds_s3s_endpoint), "ecs", "test-secret-key");
}

static void instance_metadata(void) {
    unsetenv("AWS_EC2_METADATA_DISABLED");
    set_env("AWS_EC2_METADATA_SERVICE_ENDPOINT", moto_endpoint);
    works_with(imds_s3s_bucket, s3_options(imds_s3s_endpoint), "imds", "test-secret-key");
}

/* A profile with keys and IMDS both present: the profile wins. */
static void a_profile_wins_over_imds(void) {
    char text[512], path[512];
    unsetenv("AWS_EC2_METADATA_DISABLED");
    set_env("AWS_EC2_METADATA_SERVICE_ENDPOINT", moto_endpoint);
    snprintf(text, sizeof text, "[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n",
             s3s_key, s3s_secret);
    write_file("credentials", text, 0600, path, sizeof path);
    set_env("AWS_SHARED_CREDENTIALS_FILE", path);
    works_with(s3s_bucket, s3_options(s3s_endpoint), "profile:default", s3s_secret);
}

static void nothing_found(void) {
    char url[512];
    snprintf(url, sizeof url, "s3://%s/x", s3s_bucket);
    open_fails(url, s3_options(s3s_endpoint), BLOBIO_STATUS_PERMISSION_DENIED,
               "no AWS credentials found");
    CHECK(last_error_has("environment"));
    CHECK(last_error_has("profile"));
    CHECK(last_error_has("container"));
    CHECK(last_error_has("instance metadata"));
}

/* Runs `fn` in a child with a clean chain environment; the child's checks
 * count here through its exit status. */
static void in_child(void (*fn)(void)) {
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        clean_env();
        fn();
        fflush(NULL);
        _exit(atomic_load(&failed_checks) == 0 ? 0 : 1);
    }
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

#define CHILD_TEST(name)                                                                     \
    static void name##_test(void) { in_child(name); }

CHILD_TEST(environment)
CHILD_TEST(profile_static_keys)
CHILD_TEST(credential_process)
CHILD_TEST(assume_role_from_a_source_profile)
CHILD_TEST(a_profile_loop_is_named)
CHILD_TEST(web_identity)
CHILD_TEST(container_credentials)
CHILD_TEST(instance_metadata)
CHILD_TEST(a_profile_wins_over_imds)
CHILD_TEST(nothing_found)

int main(void) {
    s3s_endpoint = need_env("BLOBIO_TEST_S3S_ENDPOINT");
    s3s_key = need_env("BLOBIO_TEST_S3S_ACCESS_KEY");
    s3s_secret = need_env("BLOBIO_TEST_S3S_SECRET_KEY");
    s3s_bucket = need_env("BLOBIO_TEST_S3_BUCKET");
    imds_s3s_endpoint = need_env("BLOBIO_TEST_S3S_IMDS_ENDPOINT");
    imds_s3s_bucket = need_env("BLOBIO_TEST_S3S_IMDS_BUCKET");
    moto_endpoint = need_env("BLOBIO_TEST_MOTO_ENDPOINT");
    moto_bucket = need_env("BLOBIO_TEST_MOTO_BUCKET");

    snprintf(dir, sizeof dir, "%s/blobio-c-credentials-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 2;
    }

    static const struct test_case tests[] = {
        {"environment_keys_sign_for_s3s", environment_test},
        {"a_profile_gives_static_keys", profile_static_keys_test},
        {"credential_process_keys_and_failure", credential_process_test},
        {"assume_role_from_a_source_profile_at_moto_sts", assume_role_from_a_source_profile_test},
        {"a_profile_loop_is_named", a_profile_loop_is_named_test},
        {"web_identity_at_moto_sts", web_identity_test},
        {"container_credentials_sign_for_s3s", container_credentials_test},
        {"instance_metadata_signs_for_s3s", instance_metadata_test},
        {"a_profile_wins_over_imds", a_profile_wins_over_imds_test},
        {"nothing_found_is_permission_denied", nothing_found_test},
    };
    int passed = 0, failed = 0;
    run_tests(tests, sizeof tests / sizeof *tests, &passed, &failed);

    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
