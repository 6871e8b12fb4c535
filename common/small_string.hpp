#pragma once
// A string that keeps up to N characters inside itself and only longer ones on the heap.
// For short identifying fields copied per relayed frame (the tap's client_id and chat_id are
// 36-character UUIDs, past std::string's 15-character inline buffer): filling, copying and
// destroying one of N characters or fewer never allocates nor frees.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

namespace wsproxy {

template <std::size_t N>
class small_string {
    static_assert(N > 0 && N < 0xffff'ffffu, "small_string: inline capacity out of range");

public:
    small_string() noexcept = default;
    explicit small_string(std::string_view s) { assign(s); }
    small_string(const small_string& o) { assign(o.view()); }
    small_string(small_string&& o) noexcept { take(o); }
    small_string& operator=(const small_string& o) {
        if (this != &o) assign(o.view());
        return *this;
    }
    small_string& operator=(small_string&& o) noexcept {
        if (this != &o) {
            release();
            take(o);
        }
        return *this;
    }
    small_string& operator=(std::string_view s) {
        assign(s);
        return *this;
    }
    ~small_string() { release(); }

    // Text longer than N goes to the heap; a heap buffer already large enough is reused
    // (a ring slot overwritten by values of similar length allocates once).
    void assign(std::string_view s) {
        // An empty view may carry a null pointer, which memmove must not be given.
        if (s.empty()) return clear();
        if (s.size() <= N) {
            // `s` may point into this string's own heap buffer: copy before releasing it.
            std::memmove(inline_, s.data(), s.size());
            release();
        } else {
            if (s.size() > heap_capacity_) {
                char* fresh = new char[s.size()];
                std::memcpy(fresh, s.data(), s.size());
                release();
                heap_ = fresh;
                heap_capacity_ = static_cast<std::uint32_t>(s.size());
            } else {
                std::memmove(heap_, s.data(), s.size());
            }
        }
        size_ = static_cast<std::uint32_t>(s.size());
    }
    void clear() noexcept {
        release();
        size_ = 0;
    }

    const char* data() const noexcept { return size_ <= N ? inline_ : heap_; }
    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    std::string_view view() const noexcept { return {data(), size_}; }
    operator std::string_view() const noexcept { return view(); }
    std::string str() const { return std::string(view()); }

    friend bool operator==(const small_string& a, std::string_view b) noexcept {
        return a.view() == b;
    }
    friend bool operator==(const small_string& a, const small_string& b) noexcept {
        return a.view() == b.view();
    }

private:
    void release() noexcept {
        delete[] heap_;
        heap_ = nullptr;
        heap_capacity_ = 0;
    }
    // `this` holds no heap buffer.
    void take(small_string& o) noexcept {
        size_ = o.size_;
        heap_ = std::exchange(o.heap_, nullptr);
        heap_capacity_ = std::exchange(o.heap_capacity_, 0);
        if (size_ <= N) std::memcpy(inline_, o.inline_, size_);
        o.size_ = 0;
    }

    char* heap_{nullptr};  // the text when size_ > N, else nullptr
    std::uint32_t size_{0};
    std::uint32_t heap_capacity_{0};
    char inline_[N];
};

}  // namespace wsproxy
