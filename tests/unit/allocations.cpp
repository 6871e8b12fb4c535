// The unit-test binary's global operator new/delete: malloc and free, plus a
// per-thread count read by allocations(). Every plain and nothrow form is
// replaced so that no allocation made by one allocator is freed by another:
// under AddressSanitizer an unreplaced nothrow new (Catch uses it) would
// allocate through ASan's operator new and be freed here with free(), which
// ASan reports as alloc-dealloc-mismatch. The aligned forms are left to the
// runtime as a matched set.
#include "allocations.hpp"

#include <cstdlib>
#include <new>

#if WSPROXY_COUNTS_ALLOCATIONS
namespace {
thread_local std::size_t count = 0;

void* allocate(std::size_t size) {
    ++count;
    if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
    throw std::bad_alloc();
}
}  // namespace

namespace wsproxy::testing {
std::size_t allocations() { return count; }
}  // namespace wsproxy::testing

void* operator new(std::size_t size) { return allocate(size); }
void* operator new[](std::size_t size) { return allocate(size); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
    ++count;
    return std::malloc(size == 0 ? 1 : size);
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
    ++count;
    return std::malloc(size == 0 ? 1 : size);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
#endif  // WSPROXY_COUNTS_ALLOCATIONS
