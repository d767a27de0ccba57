/*
 * Per-call cost of blobio_exists and a 4 KiB blobio_read_range, called from
 * C through libblobio.a: the numbers a C engine sees. Compare with the
 * "C ABI" and "Rust" columns of `cargo bench --bench ffi_overhead`.
 *
 *     make -C examples/c bench         (BLOBIO_BENCH_ITERS=N to change the count)
 */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blobio.h"

enum { OBJECT_LEN = 64 * 1024, RANGE_LEN = 4096, ROUNDS = 7 };
static const char *const PATH = "bench/object.bin";

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void fail(const char *what, blobio_status st) {
    fprintf(stderr, "%s: %s: %s\n", what, blobio_status_str(st), blobio_last_error_message());
    exit(1);
}

int main(void) {
    const char *env = getenv("BLOBIO_BENCH_ITERS");
    long iters = env ? atol(env) : 50000;
    if (iters <= 0) iters = 50000;
    char dir[] = "/tmp/blobio-ffi-cbench-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    blobio_store *store = NULL;
    blobio_status st = blobio_open(dir, NULL, &store);
    if (st) fail("blobio_open", st);
    static uint8_t data[OBJECT_LEN], buf[RANGE_LEN];
    for (size_t i = 0; i < OBJECT_LEN; i++) data[i] = (uint8_t)(i * 31 % 251);
    if ((st = blobio_write(store, PATH, data, sizeof data))) fail("blobio_write", st);

    double exists_ns[ROUNDS], range_ns[ROUNDS];
    const uint64_t max_offset = OBJECT_LEN - RANGE_LEN;
    for (int r = -1; r < ROUNDS; r++) { /* round -1 warms up */
        double t0 = now_ns();
        for (long i = 0; i < iters; i++) {
            bool out = false;
            if ((st = blobio_exists(store, PATH, &out)) || !out) fail("blobio_exists", st);
        }
        double t1 = now_ns();
        for (long i = 0; i < iters; i++) {
            size_t n = 0;
            uint64_t offset = ((uint64_t)i * 4096) % max_offset;
            if ((st = blobio_read_range(store, PATH, offset, buf, RANGE_LEN, &n)) || n != RANGE_LEN)
                fail("blobio_read_range", st);
        }
        double t2 = now_ns();
        if (r >= 0) {
            exists_ns[r] = (t1 - t0) / (double)iters;
            range_ns[r] = (t2 - t1) / (double)iters;
        }
    }
    qsort(exists_ns, ROUNDS, sizeof(double), cmp_double);
    qsort(range_ns, ROUNDS, sizeof(double), cmp_double);

    printf("blobio C ABI from C, local store, %ld calls x %d rounds (median round)\n", iters, ROUNDS);
    printf("%-24s %14s\n", "operation", "C ns/call");
    printf("%-24s %14.0f\n", "exists", exists_ns[ROUNDS / 2]);
    printf("%-24s %14.0f\n", "read_range (4 KiB)", range_ns[ROUNDS / 2]);

    blobio_store_free(store);
    nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    return 0;
}
