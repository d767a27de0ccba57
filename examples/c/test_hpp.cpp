// Tests of include/blobio.hpp, the C++17 wrapper, run under AddressSanitizer
// and UndefinedBehaviorSanitizer: every operation on a local store (and,
// with `s3` as argument, on s3s-fs), RAII and moves, errors carrying status,
// message and HTTP details, and exceptions thrown by callbacks coming out
// as themselves, never unwinding through blobio's frames.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include <unistd.h>

#include "blobio.hpp"

namespace {

int failures = 0;
int checks = 0;

#define CHECK(cond)                                                                   \
    do {                                                                              \
        ++checks;                                                                     \
        if (!(cond)) {                                                                \
            std::fprintf(stderr, "  FAILED %s:%d: %s\n", __FILE__, __LINE__, #cond); \
            ++failures;                                                               \
        }                                                                             \
    } while (0)

// Runs `f`, expecting a blobio::Error with `status`; returns it.
template <class F>
blobio::Error expect_error(blobio_status status, F &&f) {
    try {
        f();
    } catch (const blobio::Error &e) {
        if (e.status() != status)
            std::fprintf(stderr, "  got %s (%s), wanted %s\n", e.status_name(), e.what(),
                         blobio_status_str(status));
        CHECK(e.status() == status);
        return e;
    }
    std::fprintf(stderr, "  no exception, wanted %s\n", blobio_status_str(status));
    CHECK(false);
    return blobio::Error(BLOBIO_STATUS_OK, "none");
}

struct Thrown {
    int value;
};

static_assert(!std::is_copy_constructible_v<blobio::Store>, "Store is move-only");
static_assert(std::is_nothrow_move_constructible_v<blobio::Store>, "Store moves");
static_assert(!std::is_copy_constructible_v<blobio::Options>, "Options is move-only");
static_assert(!std::is_copy_constructible_v<blobio::Buffer>, "Buffer is move-only");

// Every operation every store has.
void common(const blobio::Store &s, const std::string &root) {
    // write / read in every form
    s.write(root + "a.txt", std::string_view("hello"));
    s.write(root + "b.bin", std::vector<uint8_t>{0, 1, 2, 255});
    s.write(root + "empty", nullptr, 0);
    CHECK(s.read_string(root + "a.txt") == "hello");
    CHECK((s.read(root + "b.bin") == std::vector<uint8_t>{0, 1, 2, 255}));
    CHECK(s.read(root + "empty").empty());
    {
        blobio::Buffer b = s.read_buffer(root + "a.txt");
        blobio::Buffer moved = std::move(b);
        CHECK(b.empty() && moved.view() == "hello");
        b = std::move(moved);
        CHECK(b.size() == 5);
    }

    // streaming upload of known and unknown size from a lambda
    std::string big(300000, 'x');
    for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
    size_t pos = 0;
    auto source = [&](uint8_t *buf, size_t cap) {
        size_t n = std::min(cap, big.size() - pos);
        std::memcpy(buf, big.data() + pos, n);
        pos += n;
        return n;
    };
    s.write_from(root + "big", source, big.size());
    pos = 0;
    s.write_from(root + "big2", source);
    CHECK(s.read_string(root + "big") == big && s.read_string(root + "big2") == big);
    pos = 0;
    int rewinds = 0;
    s.write_from_rewindable(root + "big3", source, [&] { ++rewinds; pos = 0; return true; }, big.size());
    CHECK(s.read_string(root + "big3") == big && rewinds == 0);

    // streaming download to both sink shapes, with and without an offset
    std::string got;
    uint64_t n = s.read_to(root + "big", [&](std::string_view chunk) { got.append(chunk); });
    CHECK(n == big.size() && got == big);
    std::vector<uint8_t> bytes;
    n = s.read_to_at(root + "big", 1000, [&](const uint8_t *d, size_t len) { bytes.insert(bytes.end(), d, d + len); });
    CHECK(n == big.size() - 1000 && bytes.size() == n && bytes[0] == static_cast<uint8_t>(big[1000]));
    // a sink returning false stops the download: CALLBACK_ABORTED
    expect_error(BLOBIO_STATUS_CALLBACK_ABORTED, [&] { s.read_to(root + "big", [](std::string_view) { return false; }); });

    // positional reads
    char buf[4];
    CHECK(s.read_range(root + "a.txt", 1, buf, sizeof buf) == 4 && std::memcmp(buf, "ello", 4) == 0);
    CHECK((s.read_range(root + "a.txt", 3, 10) == std::vector<uint8_t>{'l', 'o'}));
    expect_error(BLOBIO_STATUS_INVALID_ARGUMENT, [&] { s.read_range(root + "a.txt", 5, 1); });

    // stat, exists, lists
    CHECK(s.stat(root + "a.txt") == std::optional<uint64_t>(5));
    CHECK(!s.stat(root + "nope").has_value());
    CHECK(s.exists(root + "a.txt") && !s.exists(root + "nope"));
    s.write(root + "dir/x", std::string_view("1"));
    s.write(root + "dir/sub/y", std::string_view("22"));
    std::vector<std::string> keys = s.list(root + "dir/");
    CHECK((keys == std::vector<std::string>{root + "dir/sub/y", root + "dir/x"}));
    std::vector<blobio::ObjectInfo> objs = s.list_objects(root + "dir/");
    CHECK(objs.size() == 2 && objs[0].path == root + "dir/sub/y" && objs[0].size == 2 &&
          objs[0].last_modified_unix_ms > 1600000000000LL);
    std::vector<std::string> dirs = s.list_directories(root + "dir");
    CHECK((dirs == std::vector<std::string>{"sub"}));

    // deletes
    s.remove(root + "dir/x");
    s.remove(root + "dir/x");  // missing: fine
    s.remove_batch({root + "dir/sub/y", root + "big2", root + "never-was"});
    s.remove_batch({});
    CHECK(s.list(root + "dir/").empty() && !s.exists(root + "big2"));
    s.remove_directory(root + "dir");

    // errors: status, message naming the path
    blobio::Error e = expect_error(BLOBIO_STATUS_NOT_FOUND, [&] { s.read(root + "nope"); });
    CHECK(e.message().find("nope") != std::string::npos);
    CHECK(std::string(e.what()).rfind("not_found: ", 0) == 0);
    expect_error(BLOBIO_STATUS_INVALID_PATH, [&] { s.write("../escape", std::string_view("x")); });
    // a string_view holding a NUL is refused before C could cut it short
    expect_error(BLOBIO_STATUS_INVALID_ARGUMENT, [&] { s.write(std::string_view("a\0b", 3), std::string_view("x")); });

    // An exception from a callback comes out as itself: caught in blobio's
    // callback, the call abandoned, rethrown after the C frames returned.
    for (int which = 0; which < 3; ++which) {
        bool caught = false;
        try {
            if (which == 0) {
                s.read_to(root + "big", [](std::string_view) { throw Thrown{42}; });
            } else if (which == 1) {
                s.write_from(root + "thrown", [](uint8_t *, size_t) -> size_t { throw Thrown{43}; });
            } else {
                size_t calls = 0;
                s.write_from(root + "thrown", [&](uint8_t *b, size_t cap) -> size_t {
                    if (++calls == 3) throw std::runtime_error("source broke");
                    std::memset(b, 'z', cap);
                    return cap;
                });
            }
        } catch (const Thrown &t) {
            caught = t.value == 42 + which;
        } catch (const std::runtime_error &r) {
            caught = which == 2 && std::string(r.what()) == "source broke";
        }
        CHECK(caught);
        CHECK(!s.exists(root + "thrown"));
    }

    // read_ranges: unordered and overlapping, one short at the end
    {
        char r1[4], r2[3], r3[10];
        std::vector<blobio::Range> rs{{3, 4, r1, 0}, {0, 3, r2, 0}, {big.size() - 5, 10, r3, 0}};
        s.read_ranges(root + "big", rs);
        CHECK(rs[0].read == 4 && std::memcmp(r1, big.data() + 3, 4) == 0);
        CHECK(rs[1].read == 3 && std::memcmp(r2, big.data(), 3) == 0);
        CHECK(rs[2].read == 5 && std::memcmp(r3, big.data() + big.size() - 5, 5) == 0);
        std::vector<blobio::Range> past{{big.size() + 1, 1, r1, 0}};
        expect_error(BLOBIO_STATUS_INVALID_ARGUMENT, [&] { s.read_ranges(root + "big", past); });
    }

    // conditional writes, head with metadata, copy and rename
    {
        auto v1 = s.write(root + "cond", std::string_view("one"),
                          blobio::PutOptions::create().content_type("text/plain").metadata("owner", "hpp"));
        CHECK(v1.has_value());
        expect_error(BLOBIO_STATUS_ALREADY_EXISTS,
                     [&] { s.write(root + "cond", std::string_view("two"), blobio::PutOptions::create()); });
        blobio::ObjectMeta m = s.head(root + "cond");
        CHECK(m.size == 3 && m.version == v1 && m.content_type == std::optional<std::string>("text/plain"));
        CHECK((m.metadata == std::vector<std::pair<std::string, std::string>>{{"owner", "hpp"}}));
        auto v2 = s.write(root + "cond", std::string_view("two"), blobio::PutOptions::update(*v1).metadata("owner", "two"));
        CHECK(v2.has_value() && v2 != v1 && s.read_string(root + "cond") == "two");
        // (s3s-fs ignores If-Match: a stale update is refused on the local store here.)
        if (s.kind() == "local") {
            expect_error(BLOBIO_STATUS_PRECONDITION_FAILED,
                         [&] { s.write(root + "cond", std::string_view("three"), blobio::PutOptions::update(*v1)); });
        }
        CHECK(s.read_string(root + "cond") == "two");
        s.copy(root + "cond", root + "cond-copy");
        CHECK(s.read_string(root + "cond-copy") == "two");
        CHECK((s.head(root + "cond-copy").metadata == std::vector<std::pair<std::string, std::string>>{{"owner", "two"}}));
        s.rename(root + "cond-copy", root + "cond-moved");
        CHECK(!s.exists(root + "cond-copy") && s.read_string(root + "cond-moved") == "two");
        expect_error(BLOBIO_STATUS_NOT_FOUND, [&] { s.head(root + "nope"); });
        s.remove_batch({root + "cond", root + "cond-moved"});
    }

    // presign: a URL from a remote store, none from the local one
    if (s.kind() == "local") {
        expect_error(BLOBIO_STATUS_UNSUPPORTED, [&] { s.presign("GET", root + "big", 60); });
    } else {
        std::string url = s.presign("GET", root + "big", 60);
        CHECK(url.rfind("http", 0) == 0 && url.find("X-Amz-Signature=") != std::string::npos);
        expect_error(BLOBIO_STATUS_INVALID_ARGUMENT, [&] { s.presign("POST", root + "big", 60); });
    }

    s.remove_batch({root + "a.txt", root + "b.bin", root + "empty", root + "big", root + "big3"});
}

// Cancel tokens and progress through the wrapper.
void cancel_and_progress(const blobio::Store &s) {
    std::string big(3u << 20, 'x');
    s.write("cancel/big", big);
    {
        std::vector<std::pair<uint64_t, std::optional<uint64_t>>> seen;
        blobio::ScopedProgress progress([&](uint64_t done, std::optional<uint64_t> total) {
            seen.emplace_back(done, total);
            return true;
        });
        CHECK(s.read_string("cancel/big") == big);
        CHECK(!seen.empty() && seen.back().first == big.size() && seen.back().second == big.size());
    }
    {
        blobio::ScopedProgress stop([](uint64_t, std::optional<uint64_t>) { return false; });
        expect_error(BLOBIO_STATUS_CANCELLED, [&] { s.read_to("cancel/big", [](std::string_view) {}); });
    }
    blobio::CancelToken token;
    CHECK(!token.is_cancelled());
    {
        blobio::ScopedCancel installed(token);
        CHECK(s.exists("cancel/big"));
        token.cancel();
        CHECK(token.is_cancelled());
        expect_error(BLOBIO_STATUS_CANCELLED, [&] { s.exists("cancel/big"); });
    }
    CHECK(s.exists("cancel/big"));  // uninstalled
    blobio::CancelToken moved = std::move(token);
    CHECK(moved.is_cancelled());
    s.remove("cancel/big");
}

void local_tests() {
    char dir[] = "/tmp/blobio-hpp-XXXXXX";
    if (!mkdtemp(dir)) {
        std::perror("mkdtemp");
        std::exit(2);
    }
    std::string base = dir;
    {
        blobio::Store s = blobio::Store::local(base + "/plain");
        CHECK(s.kind() == "local");
        common(s, "");
        cancel_and_progress(s);
        CHECK(s.option("base_path").find("/plain") != std::string::npos);
        CHECK(s.local_base_path("feature", "fallback").find("/plain") != std::string::npos);
        CHECK(s.storage_path("db", "cpu").find("db/cpu/") != std::string::npos);
        expect_error(BLOBIO_STATUS_UNSUPPORTED, [&] { s.s3_path("k"); });
        expect_error(BLOBIO_STATUS_UNSUPPORTED, [&] { s.circuit_state(); });

        // append_from completes an interrupted write_from (local only)
        size_t calls = 0;
        try {
            s.write_from("partial", [&](uint8_t *b, size_t cap) -> size_t {
                if (++calls > 1) throw Thrown{1};
                size_t n = std::min<size_t>(cap, 3);
                std::memcpy(b, "abc", n);
                return n;
            }, 6);
        } catch (const Thrown &) {
        }
        bool given = false;
        s.append_from("partial", [&](uint8_t *b, size_t cap) -> size_t {
            if (std::exchange(given, true)) return 0;
            size_t n = std::min<size_t>(cap, 3);
            std::memcpy(b, "def", n);
            return n;
        }, 3);
        CHECK(s.read_string("partial") == "abcdef");

        // move: the moved-from store is empty, the other works
        blobio::Store t = std::move(s);
        CHECK(!s && t);
        expect_error(BLOBIO_STATUS_NULL_ARGUMENT, [&] { s.exists("partial"); });
        CHECK(t.exists("partial"));
        // open_config rebuilds it
        blobio::Store again = blobio::Store::open_config(t.kind(), t.config_json());
        CHECK(again.read_string("partial") == "abcdef");
        blobio_store *raw = again.release();
        CHECK(!again);
        blobio_store_free(raw);
    }
    {
        // open with options; a bad option is an exception naming it
        blobio::Options opts{{"durable", "false"}, {"resilient", "true"}};
        blobio::Store s = blobio::Store::open(base + "/opened", opts);
        common(s, "p/");
        CHECK(s.circuit_state() == BLOBIO_CIRCUIT_CLOSED);
        s.circuit_reset();
        CHECK(s.circuit_stats_json().find("\"state\":\"closed\"") != std::string::npos);
        blobio::Error e = expect_error(BLOBIO_STATUS_INVALID_ARGUMENT, [&] { opts.set("no_such_option", "1"); });
        CHECK(e.message().find("no_such_option") != std::string::npos && e.http_status() == 0 && e.code().empty());
        expect_error(BLOBIO_STATUS_INVALID_ARGUMENT, [&] { blobio::Store::open("ftp://x/y"); });
        blobio::Options moved = std::move(opts);
        CHECK(moved.native() != nullptr && opts.native() == nullptr);
    }
    CHECK(blobio::sanitize_s3_prefix(" /a/b ") == "a/b/");
    CHECK(blobio::version() == blobio_version());
    std::string rm = "rm -rf '" + base + "'";
    CHECK(std::system(rm.c_str()) == 0);
}

void s3_tests() {
    const char *endpoint = std::getenv("BLOBIO_TEST_S3S_ENDPOINT");
    const char *key = std::getenv("BLOBIO_TEST_S3S_ACCESS_KEY");
    const char *secret = std::getenv("BLOBIO_TEST_S3S_SECRET_KEY");
    const char *bucket = std::getenv("BLOBIO_TEST_S3_BUCKET");
    if (!endpoint || !key || !secret || !bucket) {
        std::fprintf(stderr, "s3: BLOBIO_TEST_S3S_* and BLOBIO_TEST_S3_BUCKET must be set\n");
        std::exit(2);
    }
    std::string url = std::string("s3://") + bucket + "/hpp";
    blobio::Options opts{{"endpoint", endpoint}, {"access_key_id", key}, {"secret_access_key", secret}};
    blobio::Store s = blobio::Store::open(url, opts);
    CHECK(s.kind() == "s3" && s.option("bucket") == bucket);
    common(s, "");
    CHECK(s.s3_path("k") == std::string("s3://") + bucket + "/hpp/k");
    CHECK(s.s3_query_path("db", "cpu", 2025, 11).find("/db/cpu/2025/11/") != std::string::npos);
    CHECK(s.s3_query_path_range("db", "cpu", 0, 86400).size() == 2);
    expect_error(BLOBIO_STATUS_INVALID_ARGUMENT, [&] { s.s3_query_path("db", "cpu", 2025, 13); });
    // A missing object: 404 and the provider's code.
    blobio::Error nf = expect_error(BLOBIO_STATUS_NOT_FOUND, [&] { s.read("missing"); });
    CHECK(nf.http_status() == 404 && nf.code() == "NoSuchKey");
    // Refused credentials: 403, SignatureDoesNotMatch, the key never in the message.
    blobio::Options bad{{"endpoint", endpoint}, {"access_key_id", key}, {"secret_access_key", "wrong-secret"}};
    blobio::Store refused = blobio::Store::open(url, bad);
    blobio::Error pd = expect_error(BLOBIO_STATUS_PERMISSION_DENIED, [&] { refused.write("k", std::string_view("v")); });
    CHECK(pd.http_status() == 403 && pd.code() == "SignatureDoesNotMatch");
    CHECK(pd.message().find("wrong-secret") == std::string::npos);
}

}  // namespace

int main(int argc, char **argv) {
    bool s3 = argc > 1 && std::strcmp(argv[1], "s3") == 0;
    try {
        local_tests();
        if (s3) s3_tests();
    } catch (const std::exception &e) {
        std::fprintf(stderr, "  unexpected exception: %s\n", e.what());
        ++failures;
    }
    std::printf("blobio.hpp: %d checks, %d failed%s\n", checks, failures, s3 ? " (local and s3s-fs)" : " (local)");
    return failures ? 1 : 0;
}
