#pragma once
// --shared-state's URL: redis://[USER@]HOST[:PORT][/DB] or rediss://... (TLS). Plain data,
// parsed once at start.
#include <string>

namespace wsproxy::cluster {

struct redis_url {
    bool tls{false};
    std::string host;
    unsigned short port{6379};
    std::string user;  // AUTH user (Redis 6 ACL); empty: the default user
    int db{0};         // SELECT, when not 0
    std::string text;  // as given without a password, for logs
};

// Throws startup_error naming --shared-state with what to write instead. A password in the
// URL is refused: it would show in `ps` and the logs (--shared-state-password-file).
redis_url parse_redis_url(const std::string& text);

}  // namespace wsproxy::cluster
