// A C++17 translation unit using blobio.h, the way a DuckDB extension does:
// the header must compile cleanly as C++ (extern "C", enum type, no C-only
// constructs) and the handles fit RAII wrappers.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <unistd.h>

#include "blobio.h"

namespace {

struct StoreDeleter {
    void operator()(blobio_store *s) const noexcept { blobio_store_free(s); }
};
struct OptionsDeleter {
    void operator()(blobio_options *o) const noexcept { blobio_options_free(o); }
};
struct ListDeleter {
    void operator()(blobio_object_list *l) const noexcept { blobio_object_list_free(l); }
};
using Store = std::unique_ptr<blobio_store, StoreDeleter>;
using Options = std::unique_ptr<blobio_options, OptionsDeleter>;
using ObjectList = std::unique_ptr<blobio_object_list, ListDeleter>;

int failures = 0;

void expect(bool ok, const char *what) {
    if (!ok) {
        std::fprintf(stderr, "  C++ check failed: %s (last error: %s)\n", what,
                     blobio_last_error_message());
        ++failures;
    }
}

void ok(blobio_status st, const char *what) {
    if (st != BLOBIO_STATUS_OK) {
        // Exceptions stay on the C++ side: they never cross a blobio callback.
        throw std::runtime_error(std::string(what) + ": " + blobio_status_str(st) + ": " +
                                 blobio_last_error_message());
    }
}

// A write callback appending to a std::string; `noexcept` because it is
// called from blobio's frames.
int32_t append_to_string(void *user, const uint8_t *data, size_t len) noexcept {
    try {
        static_cast<std::string *>(user)->append(reinterpret_cast<const char *>(data), len);
        return 0;
    } catch (...) {
        return 1;  // aborts the read with BLOBIO_STATUS_CALLBACK_ABORTED
    }
}

}  // namespace

int main() {
    char dir[] = "/tmp/blobio-cxx-XXXXXX";
    if (!mkdtemp(dir)) {
        std::perror("mkdtemp");
        return 2;
    }
    try {
        // Options and the store they open, each owned by a unique_ptr.
        blobio_options *raw_opts = nullptr;
        ok(blobio_options_new(&raw_opts), "blobio_options_new");
        Options opts(raw_opts);
        ok(blobio_options_set(opts.get(), "max_retries", "2"), "blobio_options_set");
        expect(blobio_options_set(opts.get(), "no_such_option", "x") == BLOBIO_STATUS_INVALID_ARGUMENT,
               "an unknown option is refused");
        blobio_store *raw = nullptr;
        ok(blobio_open(dir, opts.get(), &raw), "blobio_open");
        Store store(raw);
        opts.reset();  // the store does not need its options any more
        expect(std::strcmp(blobio_store_kind(store.get()), "local") == 0, "kind is local");

        const std::string body = "column,value\nx,1\n";
        ok(blobio_write(store.get(), "cxx/table.csv", reinterpret_cast<const uint8_t *>(body.data()),
                        body.size()),
           "blobio_write");

        std::string streamed;
        uint64_t written = 0;
        ok(blobio_read_to(store.get(), "cxx/table.csv", append_to_string, &streamed, &written),
           "blobio_read_to");
        expect(streamed == body && written == body.size(), "read_to gives the bytes written");

        std::vector<uint8_t> range(4);
        size_t n = 0;
        ok(blobio_read_range(store.get(), "cxx/table.csv", 7, range.data(), range.size(), &n),
           "blobio_read_range");
        expect(n == 4 && std::memcmp(range.data(), "valu", 4) == 0, "read_range gives the slice");

        blobio_object_list *raw_list = nullptr;
        ok(blobio_list_objects(store.get(), "cxx/", &raw_list), "blobio_list_objects");
        ObjectList list(raw_list);
        expect(blobio_object_list_len(list.get()) == 1, "one object listed");
        blobio_object_info info{};
        ok(blobio_object_list_get(list.get(), 0, &info), "blobio_object_list_get");
        expect(std::string(info.path) == "cxx/table.csv" && info.size == body.size(),
               "listed path and size");

        // The status enum is a real type in C++.
        blobio_status missing = blobio_exists(store.get(), nullptr, nullptr);
        expect(missing == BLOBIO_STATUS_NULL_ARGUMENT, "NULL arguments are refused");

        ok(blobio_delete(store.get(), "cxx/table.csv"), "blobio_delete");
        ok(blobio_remove_directory(store.get(), "cxx"), "blobio_remove_directory");
    } catch (const std::exception &e) {
        std::fprintf(stderr, "  C++ test failed: %s\n", e.what());
        ++failures;
    }
    if (rmdir(dir) != 0) {
        std::perror("rmdir");
        ++failures;
    }
    std::printf("C++ translation unit (blobio %s): %s\n", blobio_version(),
                failures == 0 ? "ok" : "FAILED");
    std::printf("%d passed, %d failed\n", failures == 0 ? 1 : 0, failures == 0 ? 0 : 1);
    return failures == 0 ? 0 : 1;
}
