#include "proxy/relay/remote_joins.hpp"

#include <algorithm>
#include <atomic>
#include <boost/asio/post.hpp>
#include <memory>

#include "proxy/relay/worker.hpp"
#include "proxy/relay/ws_pair.hpp"

namespace wsproxy {

void join_local_sockets(shared_state& shared, const std::string& session, const std::string& chat,
                        const std::string& cause, std::function<void(bool)> reply) {
    auto refs = shared.sessions.sockets(session);
    auto cfg = shared.rules.load();
    if (cfg->rest.sockets == rules::rest_sockets::most_recent && refs.size() > 1)
        refs = {*std::max_element(refs.begin(), refs.end(), [](const auto& a, const auto& b) {
            return a.last_active < b.last_active;
        })};
    if (refs.empty()) return reply(false);
    // The workers answer in any order and on their own threads.
    struct tally {
        std::atomic<std::size_t> left;
        std::atomic<bool> joined{false};
        std::function<void(bool)> reply;
    };
    auto t = std::make_shared<tally>();
    t->left = refs.size();
    t->reply = std::move(reply);
    for (const auto& ref : refs) {
        boost::asio::post(ref.owner->ioc, [owner = ref.owner, id = ref.id, chat, cause, t] {
            auto done = [t](bool joined) {
                if (joined) t->joined = true;
                if (t->left.fetch_sub(1) == 1) t->reply(t->joined.load());
            };
            auto it = owner->pairs.find(id);
            auto pair = it == owner->pairs.end() ? nullptr : it->second.lock();
            if (!pair) return done(false);
            pair->ensure_joined(chat, done, cause);
        });
    }
}

}  // namespace wsproxy
