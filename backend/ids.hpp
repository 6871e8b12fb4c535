#pragma once
// Identifiers and timestamps for frames. Thread-safe: each thread has its own
// random engine, so generating an id takes no lock.

#include <cstdint>
#include <string>

namespace chat_backend {

// A random (version 4) UUID in lower-case 8-4-4-4-12 form.
std::string make_uuid();

// Milliseconds since the Unix epoch (system clock), for event_ts / ts.
std::int64_t now_ms();

}  // namespace chat_backend
