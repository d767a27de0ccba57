/*
 * blobio quickstart: a local store opened from a path, a few writes (one
 * streamed through a callback), a listing with sizes, a streamed read, and
 * cleanup.
 *
 *     make -C examples/c run            # builds libblobio and runs this
 *     ./build/quickstart [directory]    # default: ./blobio-demo
 *
 * Every call is checked; a failure prints blobio_last_error_message() and
 * the program exits with status 1.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blobio.h"

/* Prints the failed step and the thread's last error; returns false so a
 * caller can write `if (!check(...)) goto done;`. */
static bool check(blobio_status status, const char *step) {
    if (status == BLOBIO_STATUS_OK) {
        return true;
    }
    fprintf(stderr, "%s failed: %s (%s)\n", step, blobio_status_str(status),
            blobio_last_error_message());
    return false;
}

/* Source of a streamed upload: hands out `remaining` lines of text. */
struct line_source {
    int next_line;
    int lines;
};

static int32_t read_lines(void *user, uint8_t *buf, size_t cap, size_t *out_n) {
    struct line_source *src = user;
    if (src->next_line >= src->lines) {
        *out_n = 0; /* end of data */
        return 0;
    }
    char line[64];
    int n = snprintf(line, sizeof line, "line %d of a streamed object\n", src->next_line);
    if (n < 0 || (size_t)n > cap) {
        return 1; /* abort: cannot happen with blobio's buffers */
    }
    memcpy(buf, line, (size_t)n);
    *out_n = (size_t)n;
    src->next_line++;
    return 0;
}

/* Sink of a streamed download: echoes each chunk to stdout, indented. */
static int32_t print_chunk(void *user, const uint8_t *data, size_t len) {
    size_t *total = user;
    /* Chunks are not NUL-terminated and may be empty. */
    fwrite(data, 1, len, stdout);
    *total += len;
    return 0;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "./blobio-demo";
    static const char *const keys[] = {
        "demo/hello.txt",
        "demo/numbers.csv",
        "demo/logs/streamed.log",
    };
    const size_t n_keys = sizeof keys / sizeof keys[0];
    blobio_store *store = NULL;
    blobio_object_list *objects = NULL;
    int exit_code = 1;

    printf("blobio %s: local store in %s\n", blobio_version(), dir);
    /* A plain path opens the local store in that directory (created when
     * missing); NULL: no options. Any other store is a URL and options:
     *
     *     struct blobio_options *opts = NULL;
     *     blobio_options_new(&opts);
     *     blobio_options_set(opts, "region", "eu-west-1");
     *     blobio_open("s3://my-bucket/some/prefix", opts, &store);
     *     blobio_options_free(opts);   (the store does not need them)
     */
    if (!check(blobio_open(dir, NULL, &store), "open store")) {
        goto done;
    }

    /* 1. Plain writes from memory. */
    const char *hello = "Hello from C through blobio!\n";
    if (!check(blobio_write(store, keys[0], (const uint8_t *)hello, strlen(hello)), "write")) {
        goto done;
    }
    printf("wrote    %s\n", keys[0]);
    const char *csv = "n,square\n1,1\n2,4\n3,9\n";
    if (!check(blobio_write(store, keys[1], (const uint8_t *)csv, strlen(csv)), "write")) {
        goto done;
    }
    printf("wrote    %s\n", keys[1]);

    /* 2. A streamed write of unknown size (-1): blobio pulls from the callback. */
    struct line_source src = {.next_line = 0, .lines = 5};
    if (!check(blobio_write_from(store, keys[2], read_lines, &src, -1), "streamed write")) {
        goto done;
    }
    printf("streamed %s (%d lines through blobio_write_from)\n", keys[2], src.lines);

    /* 3. List what is there, with sizes. */
    if (!check(blobio_list_objects(store, "demo/", &objects), "list")) {
        goto done;
    }
    size_t n_objects = blobio_object_list_len(objects);
    printf("listed   %zu objects under demo/:\n", n_objects);
    for (size_t i = 0; i < n_objects; i++) {
        blobio_object_info info;
        if (!check(blobio_object_list_get(objects, i, &info), "list entry")) {
            goto done;
        }
        printf("  %8" PRIu64 " bytes  %s\n", info.size, info.path);
    }

    /* 4. Read one back through a callback. */
    size_t echoed = 0;
    uint64_t written = 0;
    printf("reading  %s through blobio_read_to:\n", keys[2]);
    if (!check(blobio_read_to(store, keys[2], print_chunk, &echoed, &written), "streamed read")) {
        goto done;
    }
    printf("read     %" PRIu64 " bytes\n", written);

    /* 5. Delete everything, then the directories the writes created. */
    if (!check(blobio_delete_batch(store, keys, n_keys), "delete")) {
        goto done;
    }
    printf("deleted  %zu objects\n", n_keys);
    if (!check(blobio_remove_directory(store, "demo/logs"), "remove directory") ||
        !check(blobio_remove_directory(store, "demo"), "remove directory")) {
        goto done;
    }
    bool exists = true;
    if (!check(blobio_exists(store, keys[0], &exists), "exists")) {
        goto done;
    }
    printf("exists(%s) after delete: %s\n", keys[0], exists ? "true" : "false");
    exit_code = exists ? 1 : 0;

done:
    blobio_object_list_free(objects);
    blobio_store_free(store);
    if (exit_code == 0) {
        printf("done\n");
    }
    return exit_code;
}
