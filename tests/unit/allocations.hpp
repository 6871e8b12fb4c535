#pragma once
// Counts heap allocations made through operator new on this thread, so that a
// test can assert that a steady-state path allocates nothing.
#include <cstddef>

// ThreadSanitizer's runtime defines operator new and delete itself, strongly, so a
// replacement does not link there: no counting in that build.
#if defined(__SANITIZE_THREAD__)
#define WSPROXY_COUNTS_ALLOCATIONS 0
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WSPROXY_COUNTS_ALLOCATIONS 0
#endif
#endif
#ifndef WSPROXY_COUNTS_ALLOCATIONS
#define WSPROXY_COUNTS_ALLOCATIONS 1
#endif

namespace wsproxy::testing {

// Allocations made by this thread since it started.
std::size_t allocations();

}  // namespace wsproxy::testing
