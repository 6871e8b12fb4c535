#pragma once
// A thread's event loop that survives a handler that throws.
#include <boost/asio/io_context.hpp>
#include <cstddef>
#include <string_view>

namespace wsproxy {

// Runs `ioc` until it has no more work or is stopped. A handler that throws (std::bad_alloc
// for a message too large for memory, a bug) is logged as "handler_failed" with the
// thread's name, and the loop goes on: one connection's failure must not end every other
// connection with the process. Returns how many handlers threw.
std::size_t run_loop(boost::asio::io_context& ioc, std::string_view thread);

}  // namespace wsproxy
