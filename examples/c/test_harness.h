/*
 * The small test harness shared by blobio's C tests: CHECK macros that count
 * failures without stopping, and a runner printing one line per test.
 * Each test program is one translation unit, so the statics here are its own.
 */
#ifndef BLOBIO_TEST_HARNESS_H
#define BLOBIO_TEST_HARNESS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "blobio.h"

static atomic_int failed_checks;
static const char *current_test = "";

#define CHECK(cond)                                                                           \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            fprintf(stderr, "  %s:%d: [%s] CHECK(%s) failed\n", __FILE__, __LINE__,         \
                    current_test, #cond);                                                     \
            atomic_fetch_add(&failed_checks, 1);                                              \
        }                                                                                     \
    } while (0)

#define CHECK_STATUS(expr, expected)                                                          \
    do {                                                                                      \
        blobio_status got_ = (expr);                                                          \
        blobio_status want_ = (expected);                                                     \
        if (got_ != want_) {                                                                  \
            fprintf(stderr, "  %s:%d: [%s] %s\n    gave %s, expected %s; last error: %s\n",   \
                    __FILE__, __LINE__, current_test, #expr, blobio_status_str(got_),         \
                    blobio_status_str(want_), blobio_last_error_message());                   \
            atomic_fetch_add(&failed_checks, 1);                                              \
        }                                                                                     \
    } while (0)

#define CHECK_OK(expr) CHECK_STATUS(expr, BLOBIO_STATUS_OK)

/* Whether the thread's last error message contains `needle`. */
static bool last_error_has(const char *needle) {
    return strstr(blobio_last_error_message(), needle) != NULL;
}

struct test_case {
    const char *name;
    void (*fn)(void);
};

/* Runs every test, printing "test NAME ok|FAILED", and counts them. */
static void run_tests(const struct test_case *tests, size_t n, int *passed, int *failed) {
    for (size_t i = 0; i < n; i++) {
        current_test = tests[i].name;
        int before = atomic_load(&failed_checks);
        tests[i].fn();
        bool ok = atomic_load(&failed_checks) == before;
        printf("test %-52s %s\n", tests[i].name, ok ? "ok" : "FAILED");
        if (ok) (*passed)++;
        else (*failed)++;
    }
}

#endif
