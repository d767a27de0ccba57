/*
 * C tests of a blobio store that survives fork(), against s3s-fs: the worker
 * pool and the pooled connections belong to the process that made them, a
 * child builds fresh ones and never touches an inherited socket. Built and
 * run under ASan+UBSan by `make -C examples/c test-fork` (part of
 * test-servers, which scripts/test runs with the servers up). Needs
 * BLOBIO_TEST_S3S_ENDPOINT, _ACCESS_KEY, _SECRET_KEY and BLOBIO_TEST_S3_BUCKET
 * (an existing bucket); a missing variable fails the run.
 *
 * A child reports through its exit status: 0 when every check passed. It
 * ends with _exit(), so it neither flushes stdio buffers it inherited nor
 * runs the leak check at exit: a child leaks, by design, what it inherited
 * (the parent's connections and worker threads are not its to close).
 * A child that does not finish in time is killed and fails the test.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store_checks.h"
#include "test_open.h"

static const char *endpoint, *access_key, *secret_key, *bucket;

/* Seconds a child may take before it counts as hung. */
#define CHILD_DEADLINE_S 120

/* s3s-fs's endpoint and keys, path-style URLs; plus `extra` key/value
 * pairs (NULL-terminated). */
static blobio_store *open_s3(const char *prefix, const char *const *extra) {
    struct blobio_options *opts = new_options();
    SET_OPTION(opts, "endpoint", endpoint);
    SET_OPTION(opts, "region", "us-east-1");
    SET_OPTION(opts, "access_key_id", access_key);
    SET_OPTION(opts, "secret_access_key", secret_key);
    SET_OPTION(opts, "url_style", "path");
    /* A failure should show as a failure, not as a long wait. */
    SET_OPTION(opts, "request_timeout_ms", "20000");
    SET_OPTION(opts, "stall_timeout_ms", "10000");
    for (size_t i = 0; extra && extra[i]; i += 2) SET_OPTION(opts, extra[i], extra[i + 1]);
    char url[512];
    snprintf(url, sizeof url, "s3://%s/%s", bucket, prefix);
    return open_url(url, opts);
}

/* `len` bytes that depend on `seed` and on the offset of each byte. */
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

/* Reads `path` and checks it is exactly `want`. */
static bool read_matches(blobio_store *store, const char *path, const uint8_t *want, size_t len) {
    blobio_buffer buf = {0};
    blobio_status st = blobio_read(store, path, &buf);
    if (st != BLOBIO_STATUS_OK) {
        fprintf(stderr, "  [%s] pid %ld: read %s gave %s: %s\n", current_test, (long)getpid(), path,
                blobio_status_str(st), blobio_last_error_message());
        return false;
    }
    bool ok = buf.len == len && (len == 0 || memcmp(buf.data, want, len) == 0);
    if (!ok) {
        fprintf(stderr, "  [%s] pid %ld: read %s gave OK with the wrong bytes (%zu, expected %zu)\n",
                current_test, (long)getpid(), path, buf.len, len);
    }
    blobio_buffer_free(&buf);
    return ok;
}

/* fork(), after flushing stdio so that nothing is printed twice. */
static pid_t fork_flushed(void) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(2);
    }
    return pid;
}

/*
 * blobio_store_free() in a child, checked: it returns nothing, and a panic
 * inside it (caught at the boundary) only shows on stderr, so stderr goes to
 * a file meanwhile, which must not mention a panic.
 */
static bool free_in_child(blobio_store *store) {
    FILE *log = tmpfile();
    int saved = dup(2);
    if (!log || saved < 0) {
        perror("tmpfile/dup");
        return false;
    }
    fflush(stderr);
    dup2(fileno(log), 2);
    blobio_store_free(store);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    char text[4096] = {0};
    rewind(log);
    size_t n = fread(text, 1, sizeof text - 1, log);
    fclose(log);
    if (strstr(text, "panicked") != NULL) {
        fprintf(stderr, "  [%s] pid %ld: blobio_store_free panicked:\n%.*s\n", current_test,
                (long)getpid(), (int)n, text);
        return false;
    }
    return true;
}

/* Ends a child: 0 when no CHECK failed in it since `before`. */
static void child_exit(int before) {
    _exit(atomic_load(&failed_checks) == before ? 0 : 1);
}

/*
 * Waits for `pid` at most `seconds`. Returns its exit status, or -1 when it
 * was killed by a signal or had to be killed because it ran past the
 * deadline (a hung child).
 */
static int wait_child(pid_t pid, int seconds, const char *what) {
    struct timespec step = {0, 20 * 1000 * 1000};
    for (long waited_ms = 0;; waited_ms += 20) {
        int status = 0;
        pid_t got = waitpid(pid, &status, WNOHANG);
        if (got == pid) {
            if (WIFEXITED(status)) return WEXITSTATUS(status);
            fprintf(stderr, "  [%s] %s: child killed by signal %d\n", current_test, what,
                    WIFSIGNALED(status) ? WTERMSIG(status) : 0);
            return -1;
        }
        if (got < 0 && errno != EINTR) {
            perror("waitpid");
            return -1;
        }
        if (waited_ms >= (long)seconds * 1000) {
            fprintf(stderr, "  [%s] %s: child still running after %d s (hung): killed\n",
                    current_test, what, seconds);
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        nanosleep(&step, NULL);
    }
}

/* ------------------------------------------------------------------ tests */

#define BIG_LEN ((size_t)64 << 20)
#define CHILD_LEN (((size_t)24 << 20) + 12345u)

/* A store whose reads of 1 MiB and more go as parallel 1 MiB ranges, 4 in
 * flight, and whose writes of 8 MiB and more go multipart, 5 MiB a part:
 * both on the store's worker pool. */
static blobio_store *open_parallel(void) {
    static const char *const parallel[] = {
        "download_threshold", "1MiB", "download_part_size", "1MiB", "download_concurrency", "4",
        "part_size", "5MiB", "multipart_threshold", "8MiB", "upload_concurrency", "3", NULL,
    };
    return open_s3("c-fork-big", parallel);
}

/*
 * The parent reads a 64 MiB object as a parallel download (its worker pool
 * starts), then forks. The child reads it again (its own pool), writes an
 * object with a parallel upload, forks a grandchild that reads the big one
 * too, and frees the store; the parent then reads both objects.
 */
static void test_child_reads_big_object_after_parent_started_the_pool(void) {
    blobio_store *store = open_parallel();
    if (!store) return;
    uint8_t *big = pattern(BIG_LEN, 1);
    uint8_t *child_data = pattern(CHILD_LEN, 2);
    CHECK_OK(blobio_write(store, "big.bin", big, BIG_LEN));
    CHECK(read_matches(store, "big.bin", big, BIG_LEN));
    CHECK_OK(blobio_delete(store, "from-child.bin"));

    pid_t pid = fork_flushed();
    if (pid == 0) {
        int before = atomic_load(&failed_checks);
        alarm(CHILD_DEADLINE_S + 30); /* the parent kills it first: a backstop */
        CHECK(read_matches(store, "big.bin", big, BIG_LEN));
        CHECK_OK(blobio_write(store, "from-child.bin", child_data, CHILD_LEN));
        pid_t grandchild = fork_flushed();
        if (grandchild == 0) {
            int gbefore = atomic_load(&failed_checks);
            CHECK(read_matches(store, "big.bin", big, BIG_LEN));
            CHECK(free_in_child(store)); /* must not wait for workers it has not got */
            child_exit(gbefore);
        }
        CHECK(wait_child(grandchild, CHILD_DEADLINE_S / 2, "grandchild reading 64 MiB") == 0);
        CHECK(read_matches(store, "from-child.bin", child_data, CHILD_LEN));
        CHECK(free_in_child(store));
        child_exit(before);
    }
    CHECK(wait_child(pid, CHILD_DEADLINE_S, "child reading 64 MiB") == 0);
    /* The parent's pool and connections still work. */
    CHECK(read_matches(store, "big.bin", big, BIG_LEN));
    CHECK(read_matches(store, "from-child.bin", child_data, CHILD_LEN));
    CHECK_OK(blobio_delete(store, "from-child.bin"));
    blobio_store_free(store);
    free(child_data);
    free(big);
}

/*
 * The child frees a store whose pool the parent started, without using it:
 * dropping the store must not wait for worker threads the child has not got.
 */
static void test_child_frees_a_store_with_a_started_pool(void) {
    blobio_store *store = open_parallel();
    if (!store) return;
    uint8_t *big = pattern(BIG_LEN, 1);
    CHECK(read_matches(store, "big.bin", big, BIG_LEN));
    pid_t pid = fork_flushed();
    if (pid == 0) {
        int before = atomic_load(&failed_checks);
        alarm(CHILD_DEADLINE_S + 30);
        CHECK(free_in_child(store));
        child_exit(before);
    }
    CHECK(wait_child(pid, 30, "child freeing the store") == 0);
    CHECK(read_matches(store, "big.bin", big, BIG_LEN));
    blobio_store_free(store);
    free(big);
}

#define SMALL_OBJECTS 8
#define SMALL_READS 200

static size_t small_len(int i) { return 1000u + (size_t)i * 7919u; }

/* Reads the small objects `SMALL_READS` times in turn; returns the failures. */
static int read_small_objects(blobio_store *store, uint8_t *const *data, int offset) {
    int failures = 0;
    char path[32];
    for (int n = 0; n < SMALL_READS; n++) {
        int i = (n + offset) % SMALL_OBJECTS;
        snprintf(path, sizeof path, "small-%d", i);
        if (!read_matches(store, path, data[i], small_len(i))) failures++;
    }
    return failures;
}

/*
 * After fork, parent and child read small objects at the same time (one
 * request each, no pool), 200 reads each. Before the fork the parent's
 * agent holds a pooled connection: sharing it would mix the two processes'
 * requests and answers on one socket.
 */
static void test_parent_and_child_read_small_objects_at_once(void) {
    blobio_store *store = open_s3("c-fork-small", NULL);
    if (!store) return;
    uint8_t *data[SMALL_OBJECTS];
    char path[32];
    for (int i = 0; i < SMALL_OBJECTS; i++) {
        data[i] = pattern(small_len(i), 100u + (uint32_t)i);
        snprintf(path, sizeof path, "small-%d", i);
        CHECK_OK(blobio_write(store, path, data[i], small_len(i)));
    }
    /* A connection now idles in the parent's pool. */
    CHECK(read_matches(store, "small-0", data[0], small_len(0)));

    /* Both start reading when the parent writes a byte to `go`. */
    int go[2];
    if (pipe(go) != 0) {
        perror("pipe");
        exit(2);
    }
    pid_t pid = fork_flushed();
    if (pid == 0) {
        int before = atomic_load(&failed_checks);
        alarm(CHILD_DEADLINE_S + 30);
        close(go[1]);
        char byte;
        if (read(go[0], &byte, 1) != 1) _exit(3);
        int failures = read_small_objects(store, data, 3);
        if (failures) fprintf(stderr, "  [%s] child: %d of %d reads failed\n", current_test,
                              failures, SMALL_READS);
        CHECK(failures == 0);
        CHECK(free_in_child(store));
        child_exit(before);
    }
    close(go[0]);
    CHECK(write(go[1], "g", 1) == 1);
    close(go[1]);
    int failures = read_small_objects(store, data, 0);
    if (failures) fprintf(stderr, "  [%s] parent: %d of %d reads failed\n", current_test,
                          failures, SMALL_READS);
    CHECK(failures == 0);
    CHECK(wait_child(pid, CHILD_DEADLINE_S, "child reading small objects") == 0);
    /* The parent still works once the child is gone (its copies of the
     * sockets closed with it). */
    for (int i = 0; i < SMALL_OBJECTS; i++) {
        snprintf(path, sizeof path, "small-%d", i);
        CHECK(read_matches(store, path, data[i], small_len(i)));
    }
    blobio_store_free(store);
    for (int i = 0; i < SMALL_OBJECTS; i++) free(data[i]);
}

int main(void) {
    endpoint = need_env("BLOBIO_TEST_S3S_ENDPOINT");
    access_key = need_env("BLOBIO_TEST_S3S_ACCESS_KEY");
    secret_key = need_env("BLOBIO_TEST_S3S_SECRET_KEY");
    bucket = need_env("BLOBIO_TEST_S3_BUCKET");
    (void)last_error_has; /* a harness helper these tests do not need */
    static const struct test_case tests[] = {
        {"child_reads_big_object_after_parent_started_the_pool",
         test_child_reads_big_object_after_parent_started_the_pool},
        {"child_frees_a_store_with_a_started_pool", test_child_frees_a_store_with_a_started_pool},
        {"parent_and_child_read_small_objects_at_once",
         test_parent_and_child_read_small_objects_at_once},
    };
    int passed = 0, failed = 0;
    run_tests(tests, sizeof tests / sizeof tests[0], &passed, &failed);
    printf("\n%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
