/*
 * C tests of cancellation and progress: blobio_cancel_token (new, cancel
 * from another thread, free; installed with blobio_set_thread_cancel_token)
 * and blobio_set_thread_progress_callback.
 *
 *   test_cancel local   the local store only (make test: ASan+UBSan, valgrind)
 *   test_cancel         also an S3 store on s3s-fs behind the fault proxy
 *                       (examples/fault_proxy.rs, programmed over its control
 *                       socket): a GET the proxy stalls is cancelled from
 *                       another thread and returns within 100 ms of the
 *                       cancel (make test-servers). Needs
 *                       BLOBIO_TEST_S3S_ACCESS_KEY, _SECRET_KEY,
 *                       BLOBIO_TEST_S3_BUCKET, BLOBIO_TEST_PROXY_PORT and
 *                       BLOBIO_TEST_PROXY_CONTROL_PORT.
 *
 * BLOBIO_TEST_SLOW=1 (the valgrind runs) allows 1 s instead of 100 ms.
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "proxy_control.h"
#include "store_checks.h"
#include "test_open.h"

static const char *access_key, *secret_key, *bucket;
static char proxy_endpoint[64];
/* How late after its cancel a call may return. */
static long within_ms = 100;

static long long now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Another thread that cancels `tok` after `after_ms`, noting when. */
struct canceller {
    const blobio_cancel_token *tok;
    long after_ms;
    _Atomic long long cancelled_at_us;
    pthread_t thread;
};

static void *canceller_main(void *arg) {
    struct canceller *c = arg;
    sleep_ms(c->after_ms);
    atomic_store(&c->cancelled_at_us, now_us());
    blobio_cancel_token_cancel(c->tok);
    return NULL;
}

static void start_canceller(struct canceller *c, const blobio_cancel_token *tok, long after_ms) {
    c->tok = tok;
    c->after_ms = after_ms;
    atomic_store(&c->cancelled_at_us, 0);
    CHECK(pthread_create(&c->thread, NULL, canceller_main, c) == 0);
}

/* Joins the canceller; how many ms after its cancel `returned_us` was. */
static long late_ms(struct canceller *c, long long returned_us) {
    pthread_join(c->thread, NULL);
    long long at = atomic_load(&c->cancelled_at_us);
    CHECK(at != 0);
    long late = (long)((returned_us - at) / 1000);
    printf("    returned %ld ms after the cancel\n", late);
    return late;
}

/* What a progress callback was told. */
struct progress_log {
    size_t n;
    uint64_t done[4096];
    uint64_t total[4096];
    size_t stop_at; /* answer non-zero on this call (1-based); 0: never */
};

static int record_progress(void *user, uint64_t done, uint64_t total) {
    struct progress_log *log = user;
    if (log->n < sizeof log->done / sizeof log->done[0]) {
        log->done[log->n] = done;
        log->total[log->n] = total;
    }
    log->n++;
    return log->stop_at != 0 && log->n >= log->stop_at;
}

/* Counts never go down nor past `total`, the total given is `total` or
 * unknown, and the last call is (total, total). */
static void check_progress(const struct progress_log *log, uint64_t total) {
    CHECK(log->n >= 1);
    if (log->n == 0) return;
    for (size_t i = 0; i < log->n; i++) {
        CHECK(log->done[i] <= total);
        CHECK(log->total[i] == total || log->total[i] == BLOBIO_PROGRESS_UNKNOWN_TOTAL);
        if (i > 0) CHECK(log->done[i - 1] <= log->done[i]);
    }
    CHECK(log->done[log->n - 1] == total && log->total[log->n - 1] == total);
}

/* A sink that drops what it is given, 2 ms a chunk. */
static int32_t slow_write(void *user, const uint8_t *data, size_t len) {
    (void)user;
    (void)data;
    (void)len;
    sleep_ms(2);
    return 0;
}

/* ------------------------------------------------------------ local store */

static blobio_store *local_store(char *dir) {
    CHECK(mkdtemp(dir) != NULL);
    return open_url(dir, NULL);
}

static void test_token_lifecycle_and_a_cancelled_token_fails_every_call(void) {
    char dir[] = "/tmp/blobio-c-cancel-XXXXXX";
    blobio_store *store = local_store(dir);
    CHECK_OK(blobio_write(store, "k", (const uint8_t *)"v", 1));

    blobio_cancel_token *tok = blobio_cancel_token_new();
    CHECK(tok != NULL);
    CHECK(blobio_cancel_token_is_cancelled(tok) == 0);
    CHECK_OK(blobio_set_thread_cancel_token(tok));
    bool exists = false;
    CHECK_OK(blobio_exists(store, "k", &exists));
    CHECK(exists);

    blobio_cancel_token_cancel(tok);
    blobio_cancel_token_cancel(tok); /* again: fine */
    CHECK(blobio_cancel_token_is_cancelled(tok) == 1);
    CHECK_STATUS(blobio_exists(store, "k", &exists), BLOBIO_STATUS_CANCELLED);
    CHECK_STATUS(blobio_delete(store, "k"), BLOBIO_STATUS_CANCELLED);
    struct blobio_buffer buf = {0};
    CHECK_STATUS(blobio_read(store, "k", &buf), BLOBIO_STATUS_CANCELLED);
    CHECK(buf.data == NULL);
    CHECK(strcmp(blobio_status_str(BLOBIO_STATUS_CANCELLED), "cancelled") == 0);

    /* Freed while installed: the thread keeps its reference, the calls
     * still see the cancel until the token is uninstalled. */
    blobio_cancel_token_free(tok);
    CHECK_STATUS(blobio_write(store, "k", (const uint8_t *)"w", 1), BLOBIO_STATUS_CANCELLED);
    CHECK_OK(blobio_set_thread_cancel_token(NULL));
    CHECK_OK(blobio_read(store, "k", &buf));
    CHECK(buf.len == 1 && buf.data[0] == 'v');
    blobio_buffer_free(&buf);

    /* A new token for new work; freed while installed and not cancelled. */
    blobio_cancel_token *fresh = blobio_cancel_token_new();
    CHECK_OK(blobio_set_thread_cancel_token(fresh));
    blobio_cancel_token_free(fresh);
    CHECK_OK(blobio_delete(store, "k"));
    CHECK_OK(blobio_set_thread_cancel_token(NULL));

    /* NULL everywhere is harmless. */
    blobio_cancel_token_cancel(NULL);
    blobio_cancel_token_free(NULL);
    CHECK(blobio_cancel_token_is_cancelled(NULL) == 0);
    blobio_store_free(store);
    rmdir(dir);
}

static void test_a_local_read_to_is_cancelled_from_another_thread(void) {
    char dir[] = "/tmp/blobio-c-cancel-XXXXXX";
    blobio_store *store = local_store(dir);
    struct counter_src src = {32u << 20, 0};
    CHECK_OK(blobio_write_from(store, "big", counter_read, &src, (int64_t)(32u << 20)));

    blobio_cancel_token *tok = blobio_cancel_token_new();
    CHECK_OK(blobio_set_thread_cancel_token(tok));
    struct canceller c;
    start_canceller(&c, tok, 200);
    uint64_t written = 0;
    CHECK_STATUS(blobio_read_to(store, "big", slow_write, NULL, &written), BLOBIO_STATUS_CANCELLED);
    CHECK(late_ms(&c, now_us()) <= within_ms);
    CHECK(written == 0);
    CHECK_OK(blobio_set_thread_cancel_token(NULL));
    blobio_cancel_token_free(tok);
    CHECK_OK(blobio_delete(store, "big"));
    blobio_store_free(store);
    rmdir(dir);
}

static void check_progress_of(blobio_store *store, const char *path, size_t total) {
    static struct progress_log log;
    memset(&log, 0, sizeof log);
    CHECK_OK(blobio_set_thread_progress_callback(record_progress, &log));
    struct counter_src src = {total, 0};
    CHECK_OK(blobio_write_from(store, path, counter_read, &src, (int64_t)total));
    check_progress(&log, total);

    memset(&log, 0, sizeof log);
    struct check_sink sink = {0, true};
    uint64_t written = 0;
    CHECK_OK(blobio_read_to(store, path, check_write, &sink, &written));
    CHECK(written == total && sink.ok);
    check_progress(&log, total);
    CHECK(log.n >= 2); /* on the way, not only at the end */

    /* A non-zero answer cancels the call. */
    memset(&log, 0, sizeof log);
    log.stop_at = 1;
    CHECK_STATUS(blobio_read_to(store, path, check_write, &sink, &written),
                 BLOBIO_STATUS_CANCELLED);
    CHECK(log.n == 1);

    /* Uninstalled: nothing more is recorded, the calls work. */
    CHECK_OK(blobio_set_thread_progress_callback(NULL, NULL));
    memset(&log, 0, sizeof log);
    struct check_sink again = {0, true};
    CHECK_OK(blobio_read_to(store, path, check_write, &again, &written));
    CHECK(log.n == 0 && written == total && again.ok);
    CHECK_OK(blobio_delete(store, path));
}

static void test_local_progress_counts_up_to_the_total_and_non_zero_cancels(void) {
    char dir[] = "/tmp/blobio-c-cancel-XXXXXX";
    blobio_store *store = local_store(dir);
    check_progress_of(store, "p", 24u << 20);
    blobio_store_free(store);
    rmdir(dir);
}

/* ------------------------------------------------ s3s-fs behind the proxy */

static blobio_store *open_s3(const char *prefix) {
    struct blobio_options *opts = new_options();
    SET_OPTION(opts, "endpoint", proxy_endpoint);
    SET_OPTION(opts, "region", "us-east-1");
    SET_OPTION(opts, "access_key_id", access_key);
    SET_OPTION(opts, "secret_access_key", secret_key);
    SET_OPTION(opts, "url_style", "path");
    SET_OPTION(opts, "part_size", "5242880");
    SET_OPTION(opts, "multipart_threshold", "8388608");
    SET_OPTION(opts, "download_threshold", "4194304");
    SET_OPTION(opts, "download_part_size", "1048576");
    char url[512];
    snprintf(url, sizeof url, "s3://%s/%s", bucket, prefix);
    return open_url(url, opts);
}

static void test_a_stalled_get_is_cancelled_within_100_ms(void) {
    blobio_store *store = open_s3("c-cancel");
    size_t total = 256u << 10;
    struct counter_src src = {total, 0};
    CHECK_OK(blobio_write_from(store, "stalled", counter_read, &src, (int64_t)total));

    blobio_cancel_token *tok = blobio_cancel_token_new();
    CHECK_OK(blobio_set_thread_cancel_token(tok));
    /* Half the body, then silence (the stall timeout is 30 s). */
    program("stall 1 50 GET");
    struct canceller c;
    start_canceller(&c, tok, 200);
    struct blobio_buffer buf = {0};
    CHECK_STATUS(blobio_read(store, "stalled", &buf), BLOBIO_STATUS_CANCELLED);
    CHECK(late_ms(&c, now_us()) <= within_ms);
    CHECK(buf.data == NULL);
    CHECK(last_error_has("cancelled"));
    CHECK_OK(blobio_set_thread_cancel_token(NULL));
    blobio_cancel_token_free(tok);

    /* A parallel download (4 MiB first part, then 1 MiB ranges), every
     * GET stalled after a tenth of its body. */
    size_t big = 12u << 20;
    struct counter_src big_src = {big, 0};
    CHECK_OK(blobio_write_from(store, "big", counter_read, &big_src, (int64_t)big));
    tok = blobio_cancel_token_new();
    CHECK_OK(blobio_set_thread_cancel_token(tok));
    program("stall 100 10 GET");
    start_canceller(&c, tok, 200);
    CHECK_STATUS(blobio_read(store, "big", &buf), BLOBIO_STATUS_CANCELLED);
    CHECK(late_ms(&c, now_us()) <= within_ms);
    program("clear");
    CHECK_OK(blobio_set_thread_cancel_token(NULL));
    blobio_cancel_token_free(tok);

    /* Not poisoned: the same store reads it without a token. */
    CHECK_OK(blobio_read(store, "stalled", &buf));
    CHECK(buf.len == total);
    bool same = buf.len == total;
    for (size_t i = 0; same && i < total; i++) same = buf.data[i] == (uint8_t)(i % 251u);
    CHECK(same);
    blobio_buffer_free(&buf);
    CHECK_OK(blobio_delete(store, "stalled"));
    CHECK_OK(blobio_delete(store, "big"));
    blobio_store_free(store);
}

static void test_s3_progress_counts_up_to_the_total_and_non_zero_cancels(void) {
    blobio_store *store = open_s3("c-progress");
    /* Multipart up (5 MiB parts), parallel ranges down. */
    check_progress_of(store, "p", 24u << 20);

    /* A stop during a multipart upload: cancelled, no object. */
    static struct progress_log log;
    memset(&log, 0, sizeof log);
    log.stop_at = 1;
    CHECK_OK(blobio_set_thread_progress_callback(record_progress, &log));
    struct counter_src src = {24u << 20, 0};
    CHECK_STATUS(blobio_write_from(store, "stopped", counter_read, &src, -1),
                 BLOBIO_STATUS_CANCELLED);
    CHECK_OK(blobio_set_thread_progress_callback(NULL, NULL));
    bool exists = true;
    CHECK_OK(blobio_exists(store, "stopped", &exists));
    CHECK(!exists);
    blobio_store_free(store);
}

int main(int argc, char **argv) {
    bool local_only = argc > 1 && strcmp(argv[1], "local") == 0;
    const char *slow = getenv("BLOBIO_TEST_SLOW");
    if (slow && strcmp(slow, "1") == 0) within_ms = 1000;
    static const struct test_case local_tests[] = {
        {"token_lifecycle_and_a_cancelled_token_fails_every_call",
         test_token_lifecycle_and_a_cancelled_token_fails_every_call},
        {"a_local_read_to_is_cancelled_from_another_thread",
         test_a_local_read_to_is_cancelled_from_another_thread},
        {"local_progress_counts_up_to_the_total_and_non_zero_cancels",
         test_local_progress_counts_up_to_the_total_and_non_zero_cancels},
    };
    static const struct test_case server_tests[] = {
        {"a_stalled_get_is_cancelled_within_100_ms", test_a_stalled_get_is_cancelled_within_100_ms},
        {"s3_progress_counts_up_to_the_total_and_non_zero_cancels",
         test_s3_progress_counts_up_to_the_total_and_non_zero_cancels},
    };
    int passed = 0, failed = 0;
    run_tests(local_tests, sizeof local_tests / sizeof local_tests[0], &passed, &failed);
    if (!local_only) {
        access_key = need_env("BLOBIO_TEST_S3S_ACCESS_KEY");
        secret_key = need_env("BLOBIO_TEST_S3S_SECRET_KEY");
        bucket = need_env("BLOBIO_TEST_S3_BUCKET");
        snprintf(proxy_endpoint, sizeof proxy_endpoint, "http://127.0.0.1:%s",
                 need_env("BLOBIO_TEST_PROXY_PORT"));
        proxy_control_port = atoi(need_env("BLOBIO_TEST_PROXY_CONTROL_PORT"));
        run_tests(server_tests, sizeof server_tests / sizeof server_tests[0], &passed, &failed);
        program("quit");
    }
    printf("\n%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
