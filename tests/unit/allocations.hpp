#pragma once
// Counts heap allocations made through operator new on this thread, so that a
// test can assert that a steady-state path allocates nothing.
#include <cstddef>

namespace wsproxy::testing {

// Allocations made by this thread since it started.
std::size_t allocations();

}  // namespace wsproxy::testing
