/*
 * blobio.hpp: a header-only C++17 wrapper over blobio.h.
 *
 * - blobio::Store owns a blobio_store (move-only); blobio::Options a
 *   blobio_options; buffers, lists and strings the library returns are
 *   released before a call returns (or owned by blobio::Buffer).
 * - A failing call throws blobio::Error, carrying the status, the message,
 *   and the HTTP status and provider code when a server answered.
 * - Strings go in as std::string_view (one holding a NUL byte is refused
 *   with BLOBIO_STATUS_INVALID_ARGUMENT: C would cut it there) and come out
 *   as std::string; bytes come out as std::vector<uint8_t> or a Buffer.
 * - Streaming calls take any callable. An exception a callable throws is
 *   caught in the callback blobio calls, which then returns non-zero (so it
 *   never unwinds through blobio's frames), and is rethrown, as itself, once
 *   the C call has returned.
 *
 * Link as for blobio.h: libblobio.a -lpthread -ldl -lm, or -lblobio; with
 * CMake, find_package(blobio) and target_link_libraries(... blobio::blobio).
 */
#ifndef BLOBIO_HPP
#define BLOBIO_HPP

#include <cstddef>
#include <cstdint>
#include <exception>
#include <initializer_list>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "blobio.h"

namespace blobio {

/// A failed blobio call.
class Error : public std::runtime_error {
public:
    Error(blobio_status status, const std::string &message, int32_t http_status = 0,
          std::string code = std::string())
        : std::runtime_error(std::string(blobio_status_str(status)) + ": " + message),
          status_(status), message_(message), http_status_(http_status), code_(std::move(code)) {}

    /// The status the C call returned.
    blobio_status status() const noexcept { return status_; }
    /// Its static name: "not_found", "permission_denied", ...
    const char *status_name() const noexcept { return blobio_status_str(status_); }
    /// What went wrong, naming the function and path.
    const std::string &message() const noexcept { return message_; }
    /// The HTTP status of the answer behind it; 0 when there was none.
    int32_t http_status() const noexcept { return http_status_; }
    /// The provider's code (NoSuchKey, SignatureDoesNotMatch, ...); "" when none.
    const std::string &code() const noexcept { return code_; }

private:
    blobio_status status_;
    std::string message_;
    int32_t http_status_;
    std::string code_;
};

/// One object of Store::list_objects().
struct ObjectInfo {
    std::string path;
    uint64_t size = 0;
    /// Milliseconds since 1970-01-01T00:00:00Z.
    int64_t last_modified_unix_ms = 0;
};

/// What head() reports of an object.
struct ObjectMeta {
    uint64_t size = 0;
    /// The ETag (local: a token of the file); what PutOptions::update takes.
    std::optional<std::string> version;
    /// Milliseconds since 1970-01-01T00:00:00Z, when the store says.
    std::optional<int64_t> last_modified_unix_ms;
    std::optional<std::string> content_type;
    /// User metadata, sorted by name.
    std::vector<std::pair<std::string, std::string>> metadata;
};

/// How a write treats an object already at its key, and what it stores
/// besides the bytes. Move-only (it owns a blobio_put_options).
class PutOptions {
public:
    PutOptions() {
        if (blobio_put_options_new(&p_) != BLOBIO_STATUS_OK) throw std::bad_alloc();
    }
    ~PutOptions() { blobio_put_options_free(p_); }
    PutOptions(PutOptions &&o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
    PutOptions &operator=(PutOptions &&o) noexcept {
        if (this != &o) {
            blobio_put_options_free(p_);
            p_ = std::exchange(o.p_, nullptr);
        }
        return *this;
    }
    PutOptions(const PutOptions &) = delete;
    PutOptions &operator=(const PutOptions &) = delete;

    /// Write only if nothing is at the key (else ALREADY_EXISTS).
    static PutOptions create() {
        PutOptions o;
        o.mode(BLOBIO_PUT_CREATE, nullptr);
        return o;
    }
    /// Write only if the object is still `version` (else PRECONDITION_FAILED).
    static PutOptions update(std::string_view version);

    PutOptions &content_type(std::string_view v);
    PutOptions &metadata(std::string_view name, std::string_view value);
    const blobio_put_options *native() const noexcept { return p_; }

private:
    void mode(int32_t m, const char *version);
    blobio_put_options *p_ = nullptr;
};

/// One range of Store::read_ranges: `length` bytes at `offset` into `data`.
struct Range {
    uint64_t offset = 0;
    size_t length = 0;
    void *data = nullptr;
    /// Set by the call: bytes read (fewer only at the end of the object).
    size_t read = 0;
};

namespace detail {

[[noreturn]] inline void throw_last(blobio_status st) {
    const char *code = blobio_last_error_code();
    throw Error(st, blobio_last_error_message(), blobio_last_error_http_status(),
                code ? std::string(code) : std::string());
}

inline void check(blobio_status st) {
    if (st != BLOBIO_STATUS_OK) throw_last(st);
}

/// A NUL-terminated copy of a string_view for the C API.
class CStr {
public:
    explicit CStr(std::string_view v) : s_(v) {
        if (s_.find('\0') != std::string::npos)
            throw Error(BLOBIO_STATUS_INVALID_ARGUMENT, "a string passed to blobio holds a NUL byte");
    }
    const char *c_str() const noexcept { return s_.c_str(); }

private:
    std::string s_;
};

/// Takes a string blobio allocated: copied out, then released.
inline std::string take_string(char *p) {
    struct Guard {
        char *p;
        ~Guard() { blobio_string_free(p); }
    } guard{p};
    return p ? std::string(p) : std::string();
}

/// Takes a list blobio allocated: copied out, then released.
inline std::vector<std::string> take_list(struct blobio_list *l) {
    struct Guard {
        struct blobio_list *l;
        ~Guard() { blobio_list_free(l); }
    } guard{l};
    std::vector<std::string> out;
    size_t n = blobio_list_len(l);
    out.reserve(n);
    for (size_t i = 0; i < n; ++i) out.emplace_back(blobio_list_get(l, i));
    return out;
}

/// What a callback trampoline carries: the callable and what it threw.
template <class F>
struct Call {
    F &f;
    std::exception_ptr error;
};

/// After a streaming call: the callable's own exception first, as itself.
template <class F>
void finish(blobio_status st, Call<F> &call) {
    if (call.error) std::rethrow_exception(call.error);
    check(st);
}

/// blobio_write_cb: `sink(std::string_view)` or `sink(const uint8_t *, size_t)`,
/// returning void, or bool (false stops the download).
template <class F>
int32_t sink_cb(void *user, const uint8_t *data, size_t len) noexcept {
    auto *call = static_cast<Call<F> *>(user);
    try {
        if constexpr (std::is_invocable_v<F &, const uint8_t *, size_t>) {
            using R = std::invoke_result_t<F &, const uint8_t *, size_t>;
            if constexpr (std::is_same_v<R, bool>) return call->f(data, len) ? 0 : 1;
            else call->f(data, len);
        } else {
            static_assert(std::is_invocable_v<F &, std::string_view>,
                          "a sink takes (std::string_view) or (const uint8_t *, size_t)");
            std::string_view chunk(reinterpret_cast<const char *>(data), len);
            using R = std::invoke_result_t<F &, std::string_view>;
            if constexpr (std::is_same_v<R, bool>) return call->f(chunk) ? 0 : 1;
            else call->f(chunk);
        }
        return 0;
    } catch (...) {
        call->error = std::current_exception();
        return 1;
    }
}

/// blobio_read_cb: `size_t source(uint8_t *buf, size_t cap)`, returning how
/// many bytes it wrote to buf, 0 at the end.
template <class F>
int32_t source_cb(void *user, uint8_t *buf, size_t cap, size_t *out_n) noexcept {
    auto *call = static_cast<Call<F> *>(user);
    try {
        static_assert(std::is_invocable_r_v<size_t, F &, uint8_t *, size_t>,
                      "a source is size_t(uint8_t *buf, size_t cap)");
        *out_n = call->f(buf, cap);
        return 0;
    } catch (...) {
        call->error = std::current_exception();
        return 1;
    }
}

/// A source and its rewind, for write_from_rewindable().
template <class F, class R>
struct Rewindable {
    F &source;
    R &rewind;
};

template <class F, class R>
int32_t rewindable_source_cb(void *user, uint8_t *buf, size_t cap, size_t *out_n) noexcept {
    auto *call = static_cast<Call<Rewindable<F, R>> *>(user);
    try {
        *out_n = call->f.source(buf, cap);
        return 0;
    } catch (...) {
        call->error = std::current_exception();
        return 1;
    }
}

/// `rewind()` returning void, or bool (false: the source cannot start over).
template <class F, class R>
int32_t rewind_cb(void *user) noexcept {
    auto *call = static_cast<Call<Rewindable<F, R>> *>(user);
    try {
        if constexpr (std::is_same_v<std::invoke_result_t<R &>, bool>) {
            return call->f.rewind() ? 0 : 1;
        } else {
            call->f.rewind();
            return 0;
        }
    } catch (...) {
        call->error = std::current_exception();
        return 1;
    }
}

}  // namespace detail

inline void PutOptions::mode(int32_t m, const char *version) {
    detail::check(blobio_put_options_set_mode(p_, m, version));
}
inline PutOptions PutOptions::update(std::string_view version) {
    PutOptions o;
    detail::CStr v(version);
    o.mode(BLOBIO_PUT_UPDATE, v.c_str());
    return o;
}
inline PutOptions &PutOptions::content_type(std::string_view v) {
    detail::CStr c(v);
    detail::check(blobio_put_options_set_content_type(p_, c.c_str()));
    return *this;
}
inline PutOptions &PutOptions::metadata(std::string_view name, std::string_view value) {
    detail::CStr n(name), v(value);
    detail::check(blobio_put_options_set_metadata(p_, n.c_str(), v.c_str()));
    return *this;
}

/// Bytes blobio allocated (Store::read_buffer), released when it goes.
class Buffer {
public:
    Buffer() noexcept : buf_{nullptr, 0} {}
    explicit Buffer(blobio_buffer b) noexcept : buf_(b) {}
    Buffer(Buffer &&o) noexcept : buf_(o.buf_) { o.buf_ = {nullptr, 0}; }
    Buffer &operator=(Buffer &&o) noexcept {
        if (this != &o) {
            blobio_buffer_free(&buf_);
            buf_ = o.buf_;
            o.buf_ = {nullptr, 0};
        }
        return *this;
    }
    Buffer(const Buffer &) = delete;
    Buffer &operator=(const Buffer &) = delete;
    ~Buffer() { blobio_buffer_free(&buf_); }

    const uint8_t *data() const noexcept { return buf_.data; }
    size_t size() const noexcept { return buf_.len; }
    bool empty() const noexcept { return buf_.len == 0; }
    std::string_view view() const noexcept {
        return std::string_view(reinterpret_cast<const char *>(buf_.data), buf_.len);
    }
    std::vector<uint8_t> to_vector() const { return std::vector<uint8_t>(data(), data() + size()); }

private:
    blobio_buffer buf_;
};

/// Options for Store::open(): string keys and values, each checked when set
/// (the README's "Options" table).
class Options {
public:
    Options() { detail::check(blobio_options_new(&p_)); }
    Options(std::initializer_list<std::pair<std::string_view, std::string_view>> kv) : Options() {
        for (const auto &[k, v] : kv) set(k, v);
    }
    Options(Options &&o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
    Options &operator=(Options &&o) noexcept {
        if (this != &o) {
            blobio_options_free(p_);
            p_ = std::exchange(o.p_, nullptr);
        }
        return *this;
    }
    Options(const Options &) = delete;
    Options &operator=(const Options &) = delete;
    ~Options() { blobio_options_free(p_); }

    /// Sets `key` (case-insensitive, aliases too); throws on an unknown key or a bad value.
    Options &set(std::string_view key, std::string_view value) {
        detail::CStr k(key), v(value);
        detail::check(blobio_options_set(p_, k.c_str(), v.c_str()));
        return *this;
    }

    const blobio_options *native() const noexcept { return p_; }

private:
    blobio_options *p_ = nullptr;
};

/// A store: a local folder, an S3 bucket (and prefix) or an Azure container.
/// Thread-safe like blobio_store: const methods may run on many threads.
class Store {
public:
    /// Opens what `url` names (a path, file://, s3://, az://, ...).
    static Store open(std::string_view url, const Options &opts) {
        detail::CStr u(url);
        blobio_store *s = nullptr;
        detail::check(blobio_open(u.c_str(), opts.native(), &s));
        return Store(s);
    }
    static Store open(std::string_view url) {
        detail::CStr u(url);
        blobio_store *s = nullptr;
        detail::check(blobio_open(u.c_str(), nullptr, &s));
        return Store(s);
    }
    /// Opens a store again from its kind() and config_json().
    static Store open_config(std::string_view kind, std::string_view config_json,
                             const Options *opts = nullptr) {
        detail::CStr k(kind), j(config_json);
        blobio_store *s = nullptr;
        detail::check(blobio_open_config(k.c_str(), j.c_str(), opts ? opts->native() : nullptr, &s));
        return Store(s);
    }
    /// The local store of `base_path` (created when missing).
    static Store local(std::string_view base_path) {
        detail::CStr p(base_path);
        blobio_store *s = nullptr;
        detail::check(blobio_local_new(p.c_str(), &s));
        return Store(s);
    }

    /// Takes ownership of a store opened through the C API.
    explicit Store(blobio_store *owned) noexcept : s_(owned) {}
    Store(Store &&o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
    Store &operator=(Store &&o) noexcept {
        if (this != &o) {
            blobio_store_free(s_);
            s_ = std::exchange(o.s_, nullptr);
        }
        return *this;
    }
    Store(const Store &) = delete;
    Store &operator=(const Store &) = delete;
    ~Store() { blobio_store_free(s_); }

    explicit operator bool() const noexcept { return s_ != nullptr; }
    blobio_store *native() const noexcept { return s_; }
    /// Gives the store up to the caller (to blobio_store_free).
    blobio_store *release() noexcept { return std::exchange(s_, nullptr); }

private:
    static std::optional<std::string> take_optional(char *s) {
        if (!s) return std::nullopt;
        return detail::take_string(s);
    }

public:

    /// "local", "s3" or "azure".
    std::string kind() const {
        const char *k = blobio_store_kind(s_);
        if (!k) throw Error(BLOBIO_STATUS_NULL_ARGUMENT, "kind of a moved-from or empty Store");
        return k;
    }
    /// The configuration as JSON, never with a secret.
    std::string config_json() const {
        char *out = nullptr;
        detail::check(blobio_store_config_json(s_, &out));
        return detail::take_string(out);
    }
    /// A non-secret setting read back (bucket, prefix, region, ...).
    std::string option(std::string_view key) const {
        detail::CStr k(key);
        char *out = nullptr;
        detail::check(blobio_store_option(s_, k.c_str(), &out));
        return detail::take_string(out);
    }

    void write(std::string_view path, const void *data, size_t len) const {
        detail::CStr p(path);
        detail::check(blobio_write(s_, p.c_str(), static_cast<const uint8_t *>(data), len));
    }
    void write(std::string_view path, std::string_view data) const { write(path, data.data(), data.size()); }
    void write(std::string_view path, const std::vector<uint8_t> &data) const {
        write(path, data.data(), data.size());
    }

    /// Streams an upload from `source(uint8_t *buf, size_t cap) -> size_t`
    /// (0 = end); `size` is the exact total when known.
    template <class F>
    void write_from(std::string_view path, F &&source, std::optional<uint64_t> size = std::nullopt) const {
        detail::CStr p(path);
        detail::Call<std::remove_reference_t<F>> call{source, nullptr};
        blobio_status st = blobio_write_from(s_, p.c_str(), &detail::source_cb<std::remove_reference_t<F>>,
                                             &call, size ? static_cast<int64_t>(*size) : -1);
        detail::finish(st, call);
    }

    /// write_from() with `rewind()` (void, or bool: false = cannot), so a
    /// resilient store can retry the whole upload.
    template <class F, class R>
    void write_from_rewindable(std::string_view path, F &&source, R &&rewind,
                               std::optional<uint64_t> size = std::nullopt) const {
        using FS = std::remove_reference_t<F>;
        using RW = std::remove_reference_t<R>;
        detail::CStr p(path);
        detail::Rewindable<FS, RW> both{source, rewind};
        detail::Call<detail::Rewindable<FS, RW>> call{both, nullptr};
        blobio_status st = blobio_write_from_rewindable(
            s_, p.c_str(), &detail::rewindable_source_cb<FS, RW>, &detail::rewind_cb<FS, RW>, &call,
            size ? static_cast<int64_t>(*size) : -1);
        detail::finish(st, call);
    }

    /// Completes an interrupted write_from() with `append_size` more bytes (local store only).
    template <class F>
    void append_from(std::string_view path, F &&source, uint64_t append_size) const {
        detail::CStr p(path);
        detail::Call<std::remove_reference_t<F>> call{source, nullptr};
        blobio_status st = blobio_append_from(s_, p.c_str(), &detail::source_cb<std::remove_reference_t<F>>,
                                              &call, append_size);
        detail::finish(st, call);
    }

    /// The whole object, in blobio's own buffer (no copy).
    Buffer read_buffer(std::string_view path) const {
        detail::CStr p(path);
        blobio_buffer b{nullptr, 0};
        detail::check(blobio_read(s_, p.c_str(), &b));
        return Buffer(b);
    }
    std::vector<uint8_t> read(std::string_view path) const { return read_buffer(path).to_vector(); }
    std::string read_string(std::string_view path) const { return std::string(read_buffer(path).view()); }

    /// Streams the object to `sink` (std::string_view or (const uint8_t *, size_t);
    /// returning bool false stops it); the number of bytes delivered.
    template <class F>
    uint64_t read_to(std::string_view path, F &&sink) const {
        detail::CStr p(path);
        detail::Call<std::remove_reference_t<F>> call{sink, nullptr};
        uint64_t n = 0;
        blobio_status st = blobio_read_to(s_, p.c_str(), &detail::sink_cb<std::remove_reference_t<F>>, &call, &n);
        detail::finish(st, call);
        return n;
    }
    /// read_to() from byte `offset` to the end.
    template <class F>
    uint64_t read_to_at(std::string_view path, uint64_t offset, F &&sink) const {
        detail::CStr p(path);
        detail::Call<std::remove_reference_t<F>> call{sink, nullptr};
        uint64_t n = 0;
        blobio_status st = blobio_read_to_at(s_, p.c_str(), offset,
                                             &detail::sink_cb<std::remove_reference_t<F>>, &call, &n);
        detail::finish(st, call);
        return n;
    }

    /// Up to `len` bytes from `offset` into `dst`; how many (fewer only at the end).
    size_t read_range(std::string_view path, uint64_t offset, void *dst, size_t len) const {
        detail::CStr p(path);
        size_t n = 0;
        detail::check(blobio_read_range(s_, p.c_str(), offset, static_cast<uint8_t *>(dst), len, &n));
        return n;
    }
    std::vector<uint8_t> read_range(std::string_view path, uint64_t offset, size_t len) const {
        std::vector<uint8_t> out(len);
        out.resize(read_range(path, offset, out.data(), len));
        return out;
    }

    /// Many ranges of one object in one call (see blobio_read_ranges): each
    /// range's `read` is set; merged, parallel requests of one version.
    void read_ranges(std::string_view path, std::vector<Range> &ranges) const {
        detail::CStr p(path);
        std::vector<blobio_range> c(ranges.size());
        for (size_t i = 0; i < ranges.size(); ++i)
            c[i] = blobio_range{ranges[i].offset, ranges[i].length, static_cast<uint8_t *>(ranges[i].data), 0};
        detail::check(blobio_read_ranges(s_, p.c_str(), c.empty() ? nullptr : c.data(), c.size()));
        for (size_t i = 0; i < ranges.size(); ++i) ranges[i].read = c[i].read;
    }

    /// Writes `data` as `opts` says; the new version (ETag), if the store names one.
    std::optional<std::string> write(std::string_view path, std::string_view data, const PutOptions &opts) const {
        detail::CStr p(path);
        char *version = nullptr;
        detail::check(blobio_write_ex(s_, p.c_str(), reinterpret_cast<const uint8_t *>(data.data()), data.size(),
                                      opts.native(), &version));
        return take_optional(version);
    }
    /// A server-side copy (a local copy_file_range); the new version.
    std::optional<std::string> copy(std::string_view from, std::string_view to,
                                    const PutOptions *opts = nullptr) const {
        detail::CStr f(from), t(to);
        char *version = nullptr;
        detail::check(blobio_copy(s_, f.c_str(), t.c_str(), opts ? opts->native() : nullptr, &version));
        return take_optional(version);
    }
    /// Moves an object: atomic on the local store, copy then delete remotely.
    std::optional<std::string> rename(std::string_view from, std::string_view to,
                                      const PutOptions *opts = nullptr) const {
        detail::CStr f(from), t(to);
        char *version = nullptr;
        detail::check(blobio_rename(s_, f.c_str(), t.c_str(), opts ? opts->native() : nullptr, &version));
        return take_optional(version);
    }
    /// Size, version, time, content type and metadata; throws NOT_FOUND for a missing object.
    ObjectMeta head(std::string_view path) const {
        detail::CStr p(path);
        blobio_object_meta *m = nullptr;
        detail::check(blobio_head(s_, p.c_str(), &m));
        struct Guard {
            blobio_object_meta *m;
            ~Guard() { blobio_object_meta_free(m); }
        } guard{m};
        ObjectMeta out;
        out.size = blobio_object_meta_size(m);
        if (const char *v = blobio_object_meta_version(m)) out.version = v;
        int64_t ms = 0;
        if (blobio_object_meta_last_modified(m, &ms)) out.last_modified_unix_ms = ms;
        if (const char *ct = blobio_object_meta_content_type(m)) out.content_type = ct;
        size_t n = blobio_object_meta_metadata_len(m);
        for (size_t i = 0; i < n; ++i)
            out.metadata.emplace_back(blobio_object_meta_metadata_name(m, i), blobio_object_meta_metadata_value(m, i));
        return out;
    }
    /// A URL granting one GET, PUT or HEAD of `path` for `expires_seconds`, no credentials needed.
    std::string presign(std::string_view method, std::string_view path, uint64_t expires_seconds) const {
        detail::CStr m(method), p(path);
        char *out = nullptr;
        detail::check(blobio_presign(s_, m.c_str(), p.c_str(), expires_seconds, &out));
        return detail::take_string(out);
    }

    /// The size, or nullopt when there is no such object.
    std::optional<uint64_t> stat(std::string_view path) const {
        detail::CStr p(path);
        int64_t size = -1;
        detail::check(blobio_stat(s_, p.c_str(), &size));
        if (size < 0) return std::nullopt;
        return static_cast<uint64_t>(size);
    }
    bool exists(std::string_view path) const {
        detail::CStr p(path);
        bool out = false;
        detail::check(blobio_exists(s_, p.c_str(), &out));
        return out;
    }
    /// Deletes an object (a missing one is fine). `delete` is a C++ keyword.
    void remove(std::string_view path) const {
        detail::CStr p(path);
        detail::check(blobio_delete(s_, p.c_str()));
    }
    /// Deletes many objects in as few requests as the store allows.
    void remove_batch(const std::vector<std::string> &paths) const {
        std::vector<const char *> ptrs;
        ptrs.reserve(paths.size());
        for (const auto &p : paths) {
            if (p.find('\0') != std::string::npos)
                throw Error(BLOBIO_STATUS_INVALID_ARGUMENT, "a string passed to blobio holds a NUL byte");
            ptrs.push_back(p.c_str());
        }
        detail::check(blobio_delete_batch(s_, ptrs.empty() ? nullptr : ptrs.data(), ptrs.size()));
    }
    void remove_directory(std::string_view path) const {
        detail::CStr p(path);
        detail::check(blobio_remove_directory(s_, p.c_str()));
    }

    /// Every key starting with `prefix`, recursively, sorted.
    std::vector<std::string> list(std::string_view prefix = {}) const {
        detail::CStr p(prefix);
        struct blobio_list *l = nullptr;
        detail::check(blobio_list(s_, p.c_str(), &l));
        return detail::take_list(l);
    }
    /// Names of the child folders of `prefix`.
    std::vector<std::string> list_directories(std::string_view prefix = {}) const {
        detail::CStr p(prefix);
        struct blobio_list *l = nullptr;
        detail::check(blobio_list_directories(s_, p.c_str(), &l));
        return detail::take_list(l);
    }
    /// list() with sizes and times.
    std::vector<ObjectInfo> list_objects(std::string_view prefix = {}) const {
        detail::CStr p(prefix);
        blobio_object_list *l = nullptr;
        detail::check(blobio_list_objects(s_, p.c_str(), &l));
        struct Guard {
            blobio_object_list *l;
            ~Guard() { blobio_object_list_free(l); }
        } guard{l};
        std::vector<ObjectInfo> out;
        size_t n = blobio_object_list_len(l);
        out.reserve(n);
        for (size_t i = 0; i < n; ++i) {
            blobio_object_info info{};
            detail::check(blobio_object_list_get(l, i, &info));
            out.push_back(ObjectInfo{info.path, info.size, info.last_modified_unix_ms});
        }
        return out;
    }

    /// The DuckDB glob of one database and measurement.
    std::string storage_path(std::string_view database, std::string_view measurement) const {
        detail::CStr d(database), m(measurement);
        char *out = nullptr;
        detail::check(blobio_storage_path(s_, d.c_str(), m.c_str(), &out));
        return detail::take_string(out);
    }
    std::string local_base_path(std::string_view feature, std::string_view fallback) const {
        detail::CStr f(feature), fb(fallback);
        char *out = nullptr;
        detail::check(blobio_local_base_path(s_, f.c_str(), fb.c_str(), &out));
        return detail::take_string(out);
    }
    /// s3://bucket/prefix/path (S3 stores).
    std::string s3_path(std::string_view path) const {
        detail::CStr p(path);
        char *out = nullptr;
        detail::check(blobio_s3_path(s_, p.c_str(), &out));
        return detail::take_string(out);
    }
    /// The DuckDB glob of a year, month, day or hour (-1: any) (S3 stores).
    std::string s3_query_path(std::string_view database, std::string_view measurement, int32_t year,
                              int32_t month = -1, int32_t day = -1, int32_t hour = -1) const {
        detail::CStr d(database), m(measurement);
        char *out = nullptr;
        detail::check(blobio_s3_query_path(s_, d.c_str(), m.c_str(), year, month, day, hour, &out));
        return detail::take_string(out);
    }
    /// One day-level glob per UTC day from `start_unix` to `end_unix` (S3 stores).
    std::vector<std::string> s3_query_path_range(std::string_view database, std::string_view measurement,
                                                 int64_t start_unix, int64_t end_unix) const {
        detail::CStr d(database), m(measurement);
        struct blobio_list *l = nullptr;
        detail::check(blobio_s3_query_path_range(s_, d.c_str(), m.c_str(), start_unix, end_unix, &l));
        return detail::take_list(l);
    }

    /// BLOBIO_CIRCUIT_CLOSED, _OPEN or _HALF_OPEN (stores opened with resilient=true).
    int32_t circuit_state() const {
        int32_t state = 0;
        detail::check(blobio_circuit_state(s_, &state));
        return state;
    }
    void circuit_reset() const { detail::check(blobio_circuit_reset(s_)); }
    std::string circuit_stats_json() const {
        char *out = nullptr;
        detail::check(blobio_circuit_stats_json(s_, &out));
        return detail::take_string(out);
    }

private:
    blobio_store *s_ = nullptr;
};

/// A cancel switch for blobio calls (blobio_cancel_token; move-only).
/// Install it on the thread that makes the calls with ScopedCancel; call
/// cancel() from any other thread: the calls throw Error with
/// BLOBIO_STATUS_CANCELLED. Cancelling is final: use a new token for new
/// work.
class CancelToken {
public:
    CancelToken() : t_(blobio_cancel_token_new()) {
        if (!t_) throw std::bad_alloc();
    }
    CancelToken(CancelToken &&o) noexcept : t_(std::exchange(o.t_, nullptr)) {}
    CancelToken &operator=(CancelToken &&o) noexcept {
        if (this != &o) {
            blobio_cancel_token_free(t_);
            t_ = std::exchange(o.t_, nullptr);
        }
        return *this;
    }
    CancelToken(const CancelToken &) = delete;
    CancelToken &operator=(const CancelToken &) = delete;
    ~CancelToken() { blobio_cancel_token_free(t_); }

    /// Thread-safe; any number of times.
    void cancel() const noexcept { blobio_cancel_token_cancel(t_); }
    bool is_cancelled() const noexcept { return blobio_cancel_token_is_cancelled(t_) != 0; }
    const blobio_cancel_token *get() const noexcept { return t_; }

private:
    blobio_cancel_token *t_;
};

/// Installs `token` for the calls this thread makes while it lives;
/// uninstalls (leaves the thread with no token) when destroyed.
class ScopedCancel {
public:
    explicit ScopedCancel(const CancelToken &token) {
        detail::check(blobio_set_thread_cancel_token(token.get()));
    }
    ScopedCancel(const ScopedCancel &) = delete;
    ScopedCancel &operator=(const ScopedCancel &) = delete;
    ~ScopedCancel() { blobio_set_thread_cancel_token(nullptr); }
};

/// Installs `progress` as this thread's progress callback while it lives
/// (see blobio_progress_cb for when it is called): `bool(uint64_t done,
/// std::optional<uint64_t> total)`, false cancels the call. An exception
/// it throws cancels the call too; the call then throws that exception
/// instead of the Cancelled error only if you ask: see rethrow().
template <class F>
class ScopedProgress {
public:
    explicit ScopedProgress(F progress) : f_(std::move(progress)) {
        detail::check(blobio_set_thread_progress_callback(&ScopedProgress::cb, this));
    }
    ScopedProgress(const ScopedProgress &) = delete;
    ScopedProgress &operator=(const ScopedProgress &) = delete;
    ~ScopedProgress() { blobio_set_thread_progress_callback(nullptr, nullptr); }

    /// Rethrows what the callable threw, if it did.
    void rethrow() const {
        if (error_) std::rethrow_exception(error_);
    }

private:
    static int cb(void *user, uint64_t done, uint64_t total) noexcept {
        auto *self = static_cast<ScopedProgress *>(user);
        try {
            std::optional<uint64_t> t;
            if (total != BLOBIO_PROGRESS_UNKNOWN_TOTAL) t = total;
            return self->f_(done, t) ? 0 : 1;
        } catch (...) {
            self->error_ = std::current_exception();
            return 1;
        }
    }
    F f_;
    std::exception_ptr error_;
};

/// sanitize_s3_prefix: trims, ends with one `/`; an unsafe prefix becomes "".
inline std::string sanitize_s3_prefix(std::string_view prefix) {
    detail::CStr p(prefix);
    char *out = nullptr;
    detail::check(blobio_sanitize_s3_prefix(p.c_str(), &out));
    return detail::take_string(out);
}

/// The linked library's version ("0.2.0").
inline std::string_view version() noexcept { return blobio_version(); }

}  // namespace blobio

#endif  // BLOBIO_HPP
