#pragma once
// The answer to another pod's join request (--shared-state): a REST message for a session
// whose sockets live here reached that pod, which asks this one to join them to the chat.
#include <functional>
#include <string>

namespace wsproxy {

struct shared_state;

// Joins this pod's sockets of `session` to `chat` exactly as a REST message received here
// would (rest.sockets: all of them, or the most recently active one), each on its own
// worker, and calls `reply(joined)` once, from one of those workers (or at once when the
// session has no socket here): `joined` when any acknowledged. Any thread.
void join_local_sockets(shared_state& shared, const std::string& session, const std::string& chat,
                        const std::string& cause, std::function<void(bool)> reply);

}  // namespace wsproxy
