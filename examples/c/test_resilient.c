/*
 * C tests of blobio's resilient stores (retries behind a circuit breaker,
 * blobio_open with resilient=true): an S3 store on s3s-fs, reached through
 * the fault-injecting proxy of the Rust tests (examples/fault_proxy.rs),
 * which this test programs over its control socket. Built and run under ASan+UBSan by `make -C examples/c
 * test-servers`, which starts the proxy. Needs BLOBIO_TEST_S3S_ACCESS_KEY,
 * _SECRET_KEY, BLOBIO_TEST_S3_BUCKET (an existing bucket),
 * BLOBIO_TEST_PROXY_PORT and BLOBIO_TEST_PROXY_CONTROL_PORT.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "proxy_control.h"
#include "store_checks.h"
#include "test_open.h"

static const char *access_key, *secret_key, *bucket;
static char proxy_endpoint[64];
static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Requests and connections the proxy has seen. */
static void proxy_counts(long *requests, long *connections) {
    char reply[128];
    *requests = *connections = -1;
    if (proxy_control("count", reply, sizeof reply)) sscanf(reply, "%ld %ld", requests, connections);
}

/* The options of a resilient S3 store through the proxy: s3s-fs's keys,
 * path-style URLs, a 5 s request timeout, resilient=true. Tests add the
 * breaker's and the retries' settings. */
static struct blobio_options *resilient_options(void) {
    struct blobio_options *opts = new_options();
    SET_OPTION(opts, "endpoint", proxy_endpoint);
    SET_OPTION(opts, "region", "us-east-1");
    SET_OPTION(opts, "access_key_id", access_key);
    SET_OPTION(opts, "secret_access_key", secret_key);
    SET_OPTION(opts, "url_style", "path");
    SET_OPTION(opts, "request_timeout_ms", "5000");
    SET_OPTION(opts, "resilient", "true");
    return opts;
}

/* resilient_options() with quick retries and a breaker that stays closed. */
static struct blobio_options *quick_options(void) {
    struct blobio_options *opts = resilient_options();
    SET_OPTION(opts, "circuit_max_failures", "100");
    SET_OPTION(opts, "retry_delay_ms", "1");
    SET_OPTION(opts, "retry_max_delay_ms", "5");
    return opts;
}

/* The S3 store under `prefix` through the proxy, opened with `opts`
 * (freed). */
static blobio_store *open_resilient(const char *prefix, struct blobio_options *opts) {
    char url[512];
    snprintf(url, sizeof url, "s3://%s/%s", bucket, prefix);
    blobio_store *store = open_url(url, opts);
    int32_t state = -1;
    if (store) CHECK_OK(blobio_circuit_state(store, &state));
    return store;
}

/* An upload source that can start over: the counting pattern from byte 0
 * (its counter comes first, so counter_read reads it). */
struct rewindable_src {
    struct counter_src counter;
    size_t total;
    int rewinds;
    int32_t rewind_answer; /* what the rewind callback returns */
};

static struct rewindable_src rewindable(size_t total, int32_t rewind_answer) {
    return (struct rewindable_src){{total, 0}, total, 0, rewind_answer};
}

static int32_t rewindable_rewind(void *user) {
    struct rewindable_src *src = user;
    src->rewinds++;
    if (src->rewind_answer == 0) src->counter = (struct counter_src){src->total, 0};
    return src->rewind_answer;
}

/* Whether the object at `path` is exactly the first `total` pattern bytes. */
static bool holds_pattern(blobio_store *store, const char *path, size_t total) {
    struct check_sink sink = {0, true};
    uint64_t written = 0;
    blobio_status st = blobio_read_to(store, path, check_write, &sink, &written);
    return st == BLOBIO_STATUS_OK && written == total && sink.seen == total && sink.ok;
}

/* ------------------------------------------------------------------ tests */

static void test_resilient_option_wraps_a_store_and_checks_its_settings(void) {
    char dir[] = "/tmp/blobio-c-resilient-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    blobio_store *out = NULL;

    /* A first delay above the cap is refused; so are the breaker's
     * settings on a store that is not resilient. */
    struct blobio_options *bad = new_options();
    SET_OPTION(bad, "resilient", "true");
    SET_OPTION(bad, "retry_delay_ms", "10000");
    SET_OPTION(bad, "retry_max_delay_ms", "10");
    CHECK_STATUS(blobio_open(dir, bad, &out), BLOBIO_STATUS_INVALID_ARGUMENT);
    CHECK(out == NULL);
    SET_OPTION(bad, "resilient", "false");
    SET_OPTION(bad, "retry_delay_ms", "1");
    SET_OPTION(bad, "circuit_max_failures", "3");
    CHECK_STATUS(blobio_open(dir, bad, &out), BLOBIO_STATUS_INVALID_ARGUMENT);
    CHECK(last_error_has("circuit_max_failures") && last_error_has("resilient"));
    CHECK(out == NULL);
    blobio_options_free(bad);

    /* A plain store has no circuit. */
    blobio_store *inner = open_url(dir, NULL);
    int32_t state = -1;
    CHECK_STATUS(blobio_circuit_state(inner, &state), BLOBIO_STATUS_UNSUPPORTED);
    CHECK(state == -1);
    CHECK_STATUS(blobio_circuit_reset(inner), BLOBIO_STATUS_UNSUPPORTED);
    char *json = NULL;
    CHECK_STATUS(blobio_circuit_stats_json(inner, &json), BLOBIO_STATUS_UNSUPPORTED);
    CHECK(json == NULL);
    CHECK_STATUS(blobio_circuit_state(NULL, &state), BLOBIO_STATUS_NULL_ARGUMENT);

    /* resilient=true alone: the defaults; kind and data pass through. */
    struct blobio_options *opts = new_options();
    SET_OPTION(opts, "resilient", "true");
    out = open_url(dir, opts);
    CHECK(out && strcmp(blobio_store_kind(out), "local") == 0);
    CHECK_OK(blobio_circuit_state(out, &state));
    CHECK(state == BLOBIO_CIRCUIT_CLOSED);
    CHECK_STATUS(blobio_circuit_state(out, NULL), BLOBIO_STATUS_NULL_ARGUMENT);
    CHECK_OK(blobio_write(out, "k", (const uint8_t *)"v", 1));
    CHECK_OK(blobio_store_config_json(out, &json));
    CHECK(json && strstr(json, "\"resilient\":{") && strstr(json, "\"max_retries\":3"));
    blobio_string_free(json);
    CHECK(option_is(out, "resilient", "true"));
    CHECK(option_is(out, "circuit_max_failures", "5"));
    CHECK_OK(blobio_delete(out, "k"));
    blobio_store_free(out);

    /* A plain store makes one attempt and never rewinds. */
    struct rewindable_src src = rewindable(1000, 0);
    CHECK_OK(blobio_write_from_rewindable(inner, "r", counter_read, rewindable_rewind, &src, 1000));
    CHECK(src.rewinds == 0);
    CHECK(holds_pattern(inner, "r", 1000));
    CHECK_OK(blobio_delete(inner, "r"));
    blobio_store_free(inner);
    rmdir(dir);
}

static void test_transient_503s_are_retried_invisibly(void) {
    blobio_store *store = open_resilient("c-retry", quick_options());
    const char *text = "written through two 503s";
    program("fail 2 503");
    CHECK_OK(blobio_write(store, "a.txt", (const uint8_t *)text, strlen(text)));
    program("slowdown 3");
    blobio_buffer buf = {0};
    CHECK_OK(blobio_read(store, "a.txt", &buf));
    CHECK(buf.len == strlen(text) && memcmp(buf.data, text, buf.len) == 0);
    blobio_buffer_free(&buf);
    char *json = NULL;
    CHECK_OK(blobio_circuit_stats_json(store, &json));
    CHECK(json && strstr(json, "\"retries\":5") && strstr(json, "\"failures\":5"));
    CHECK(json && strstr(json, "\"state\":\"closed\""));
    blobio_string_free(json);
    CHECK_OK(blobio_delete(store, "a.txt"));
    blobio_store_free(store);
}

static void test_read_to_resumes_after_a_cut_body_without_repeating_a_byte(void) {
    blobio_store *store = open_resilient("c-resume", quick_options());
    size_t total = (1u << 20) + 333u;
    struct counter_src src = {total, 0};
    CHECK_OK(blobio_write_from(store, "big.bin", counter_read, &src, (int64_t)total));
    long before, after, conns;
    proxy_counts(&before, &conns);
    program("cut 1 40 GET");
    struct check_sink sink = {0, true};
    uint64_t written = 0;
    CHECK_OK(blobio_read_to(store, "big.bin", check_write, &sink, &written));
    CHECK(written == total && sink.seen == total && sink.ok);
    proxy_counts(&after, &conns);
    CHECK(after - before == 2); /* the cut GET and the ranged resume */
    CHECK_OK(blobio_delete(store, "big.bin"));
    blobio_store_free(store);
}

static void test_max_retries_0_turns_retries_off_and_unset_keeps_the_default(void) {
    struct blobio_options *opts = quick_options();
    SET_OPTION(opts, "max_retries", "5");
    SET_OPTION(opts, "MAX_RETRIES", "0"); /* the last value wins */
    blobio_store *store = open_resilient("c-no-retries", opts);
    char *json = NULL;
    CHECK_OK(blobio_store_config_json(store, &json));
    CHECK(json && strstr(json, "\"max_retries\":0"));
    blobio_string_free(json);
    CHECK_OK(blobio_write(store, "k", (const uint8_t *)"v", 1));

    long before, after, conns;
    proxy_counts(&before, &conns);
    program("fail 1 503");
    blobio_buffer buf = {0};
    CHECK_STATUS(blobio_read(store, "k", &buf), BLOBIO_STATUS_SERVER);
    CHECK(blobio_last_error_http_status() == 503);
    proxy_counts(&after, &conns);
    CHECK(after - before == 1); /* one attempt, no retry */
    CHECK(buf.data == NULL && buf.len == 0);
    CHECK_OK(blobio_read(store, "k", &buf)); /* the fault is spent */
    CHECK(buf.len == 1 && buf.data[0] == 'v');
    blobio_buffer_free(&buf);
    CHECK_OK(blobio_delete(store, "k"));
    blobio_store_free(store);

    /* No max_retries: the default (3), retried. */
    store = open_resilient("c-no-retries", quick_options());
    CHECK_OK(blobio_store_config_json(store, &json));
    CHECK(json && strstr(json, "\"max_retries\":3"));
    blobio_string_free(json);
    CHECK_OK(blobio_write(store, "k", (const uint8_t *)"w", 1));
    proxy_counts(&before, &conns);
    program("fail 1 503");
    CHECK_OK(blobio_read(store, "k", &buf));
    CHECK(buf.len == 1 && buf.data[0] == 'w');
    blobio_buffer_free(&buf);
    proxy_counts(&after, &conns);
    CHECK(after - before == 2);
    CHECK_OK(blobio_delete(store, "k"));
    blobio_store_free(store);
}

static void test_a_rewindable_upload_survives_a_503_byte_exact(void) {
    blobio_store *store = open_resilient("c-rewind", quick_options());
    size_t total = (1u << 20) + 77u;
    struct rewindable_src src = rewindable(total, 0);
    long before, after, conns;
    proxy_counts(&before, &conns);
    program("fail 1 503");
    CHECK_OK(blobio_write_from_rewindable(store, "up.bin", counter_read, rewindable_rewind,
                                          &src, (int64_t)total));
    proxy_counts(&after, &conns);
    CHECK(after - before == 2); /* the refused PUT and the replayed one */
    CHECK(src.rewinds == 1);
    CHECK(holds_pattern(store, "up.bin", total));

    /* Unknown size: the same. */
    src = rewindable(total, 0);
    program("fail 1 503");
    CHECK_OK(blobio_write_from_rewindable(store, "up2.bin", counter_read, rewindable_rewind,
                                          &src, -1));
    CHECK(src.rewinds == 1);
    CHECK(holds_pattern(store, "up2.bin", total));

    CHECK_STATUS(blobio_write_from_rewindable(store, "up.bin", counter_read, NULL, &src, -1),
                 BLOBIO_STATUS_NULL_ARGUMENT);
    CHECK(last_error_has("rewind"));
    CHECK_OK(blobio_delete(store, "up.bin"));
    CHECK_OK(blobio_delete(store, "up2.bin"));
    blobio_store_free(store);
}

static void test_an_upload_that_cannot_be_replayed_fails_and_leaves_the_old_object(void) {
    blobio_store *store = open_resilient("c-no-rewind", quick_options());
    CHECK_OK(blobio_write(store, "up.bin", (const uint8_t *)"old", 3));
    size_t total = 300000u;

    /* A plain callback: attempted once; the 503 is the answer. */
    struct rewindable_src src = rewindable(total, 0);
    long before, after, conns;
    proxy_counts(&before, &conns);
    program("fail 1 503");
    CHECK_STATUS(blobio_write_from(store, "up.bin", counter_read, &src, (int64_t)total),
                 BLOBIO_STATUS_SERVER);
    CHECK(blobio_last_error_http_status() == 503);
    proxy_counts(&after, &conns);
    CHECK(after - before == 1);

    /* A rewind callback that refuses: no second attempt. */
    src = rewindable(total, 7);
    program("fail 1 503");
    CHECK_STATUS(blobio_write_from_rewindable(store, "up.bin", counter_read,
                                              rewindable_rewind, &src, (int64_t)total),
                 BLOBIO_STATUS_CALLBACK_ABORTED);
    CHECK(last_error_has("rewind"));
    CHECK(src.rewinds == 1);

    /* Neither replaced the object with a part of the stream. */
    blobio_buffer buf = {0};
    CHECK_OK(blobio_read(store, "up.bin", &buf));
    CHECK(buf.len == 3 && memcmp(buf.data, "old", 3) == 0);
    blobio_buffer_free(&buf);
    CHECK_OK(blobio_delete(store, "up.bin"));
    blobio_store_free(store);
}

static double seconds_since(const struct timespec *t0) {
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void test_stall_timeout_ms_ends_a_silent_body(void) {
    struct blobio_options *opts = quick_options();
    SET_OPTION(opts, "max_retries", "0");
    /* The default stall timeout is 30 s: ending within 10 s shows that
     * the 300 ms given here was used. */
    SET_OPTION(opts, "stall_timeout_ms", "300");
    blobio_store *store = open_resilient("c-stall", opts);
    size_t total = 200000u;
    struct counter_src src = {total, 0};
    CHECK_OK(blobio_write_from(store, "stalled.bin", counter_read, &src, (int64_t)total));
    program("stall 1 50 GET");
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    blobio_buffer buf = {0};
    CHECK_STATUS(blobio_read(store, "stalled.bin", &buf), BLOBIO_STATUS_TIMEOUT);
    double took = seconds_since(&t0);
    CHECK(took >= 0.3 && took < 10.0);
    CHECK(buf.data == NULL);
    CHECK_OK(blobio_delete(store, "stalled.bin"));
    blobio_store_free(store);
}

static void test_five_503s_open_the_circuit_and_probes_close_it(void) {
    struct blobio_options *opts = resilient_options();
    SET_OPTION(opts, "circuit_max_failures", "5");
    SET_OPTION(opts, "circuit_open_timeout_ms", "300");
    SET_OPTION(opts, "circuit_half_open_requests", "3");
    SET_OPTION(opts, "max_retries", "4");
    SET_OPTION(opts, "retry_delay_ms", "1");
    SET_OPTION(opts, "retry_max_delay_ms", "5");
    blobio_store *store = open_resilient("c-breaker", opts);
    CHECK_OK(blobio_write(store, "k", (const uint8_t *)"v", 1));

    program("fail 5 503");
    blobio_buffer buf = {0};
    CHECK_STATUS(blobio_read(store, "k", &buf), BLOBIO_STATUS_SERVER);
    CHECK(blobio_last_error_http_status() == 503);
    int32_t state = -1;
    CHECK_OK(blobio_circuit_state(store, &state));
    CHECK(state == BLOBIO_CIRCUIT_OPEN);

    /* Open: fails at once, nothing reaches the proxy. */
    long requests, connections, requests2, connections2;
    proxy_counts(&requests, &connections);
    bool exists = false;
    CHECK_STATUS(blobio_exists(store, "k", &exists), BLOBIO_STATUS_CIRCUIT_OPEN);
    CHECK(last_error_has("circuit breaker is open"));
    CHECK_STATUS(blobio_write(store, "k", (const uint8_t *)"w", 1), BLOBIO_STATUS_CIRCUIT_OPEN);
    proxy_counts(&requests2, &connections2);
    CHECK(requests2 == requests && connections2 == connections);

    /* After the timeout: half-open; three successes close it. */
    sleep_ms(350);
    CHECK_OK(blobio_circuit_state(store, &state));
    CHECK(state == BLOBIO_CIRCUIT_HALF_OPEN);
    for (int i = 0; i < 3; i++) {
        CHECK_OK(blobio_exists(store, "k", &exists));
        CHECK(exists);
    }
    CHECK_OK(blobio_circuit_state(store, &state));
    CHECK(state == BLOBIO_CIRCUIT_CLOSED);

    /* Open again, then reset by hand. */
    program("fail 5 503");
    CHECK_STATUS(blobio_read(store, "k", &buf), BLOBIO_STATUS_SERVER);
    CHECK_OK(blobio_circuit_state(store, &state));
    CHECK(state == BLOBIO_CIRCUIT_OPEN);
    CHECK_OK(blobio_circuit_reset(store));
    CHECK_OK(blobio_circuit_state(store, &state));
    CHECK(state == BLOBIO_CIRCUIT_CLOSED);
    CHECK_OK(blobio_read(store, "k", &buf));
    CHECK(buf.len == 1 && buf.data[0] == 'v');
    blobio_buffer_free(&buf);

    char *json = NULL;
    CHECK_OK(blobio_circuit_stats_json(store, &json));
    CHECK(json && strstr(json, "\"times_opened\":2") && strstr(json, "\"rejected\":2"));
    CHECK(json && strstr(json, "\"last_failure_unix_ms\":1"));
    blobio_string_free(json);
    CHECK_OK(blobio_delete(store, "k"));
    blobio_store_free(store);
}

static void test_not_found_answers_leave_the_circuit_closed(void) {
    struct blobio_options *opts = resilient_options();
    SET_OPTION(opts, "circuit_max_failures", "5");
    blobio_store *store = open_resilient("c-misses", opts);
    long before, after, conns;
    proxy_counts(&before, &conns);
    blobio_buffer buf = {0};
    for (int i = 0; i < 50; i++) {
        CHECK_STATUS(blobio_read(store, "missing", &buf), BLOBIO_STATUS_NOT_FOUND);
    }
    proxy_counts(&after, &conns);
    CHECK(after - before == 50);
    int32_t state = -1;
    CHECK_OK(blobio_circuit_state(store, &state));
    CHECK(state == BLOBIO_CIRCUIT_CLOSED);
    blobio_store_free(store);
}

int main(void) {
    access_key = need_env("BLOBIO_TEST_S3S_ACCESS_KEY");
    secret_key = need_env("BLOBIO_TEST_S3S_SECRET_KEY");
    bucket = need_env("BLOBIO_TEST_S3_BUCKET");
    snprintf(proxy_endpoint, sizeof proxy_endpoint, "http://127.0.0.1:%s",
             need_env("BLOBIO_TEST_PROXY_PORT"));
    proxy_control_port = atoi(need_env("BLOBIO_TEST_PROXY_CONTROL_PORT"));
    static const struct test_case tests[] = {
        {"resilient_option_wraps_a_store_and_checks_its_settings",
         test_resilient_option_wraps_a_store_and_checks_its_settings},
        {"transient_503s_are_retried_invisibly", test_transient_503s_are_retried_invisibly},
        {"read_to_resumes_after_a_cut_body_without_repeating_a_byte",
         test_read_to_resumes_after_a_cut_body_without_repeating_a_byte},
        {"max_retries_0_turns_retries_off_and_unset_keeps_the_default",
         test_max_retries_0_turns_retries_off_and_unset_keeps_the_default},
        {"a_rewindable_upload_survives_a_503_byte_exact",
         test_a_rewindable_upload_survives_a_503_byte_exact},
        {"an_upload_that_cannot_be_replayed_fails_and_leaves_the_old_object",
         test_an_upload_that_cannot_be_replayed_fails_and_leaves_the_old_object},
        {"stall_timeout_ms_ends_a_silent_body", test_stall_timeout_ms_ends_a_silent_body},
        {"five_503s_open_the_circuit_and_probes_close_it",
         test_five_503s_open_the_circuit_and_probes_close_it},
        {"not_found_answers_leave_the_circuit_closed", test_not_found_answers_leave_the_circuit_closed},
    };
    int passed = 0, failed = 0;
    run_tests(tests, sizeof tests / sizeof tests[0], &passed, &failed);
    program("quit");
    printf("\n%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
