#pragma once
// An in-process chat-backend started as in the seed's bug report
// (--no-auto-register), with its log lines captured for assertions.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "backend/chat_backend.hpp"
#include "ws_test_client.hpp"

namespace backend_test {

struct backend_fixture {
    explicit backend_fixture(unsigned threads = 1,
                             chat_backend::dialect_kind d = chat_backend::dialect_kind::standard,
                             std::vector<std::string> refuse_joins = {},
                             std::vector<std::pair<std::string, int>> join_delays = {}) {
        chat_backend::options o;
        o.refuse_joins = std::move(refuse_joins);
        o.join_delays = std::move(join_delays);
        o.auto_register = false;
        o.threads = threads;
        o.chunk_delay_ms = 1;
        o.dialect = d;
        o.log = log.sink();
        server = std::make_unique<chat_backend::server>(o);
        server->start();
    }
    ws_test::line_log log;
    std::unique_ptr<chat_backend::server> server;
};

// A distinct, valid chat id per test number; `group` keeps test files apart.
inline std::string chat_uuid(int i, int group = 8000) {
    char buf[48];
    std::snprintf(buf, sizeof buf, "00000000-0000-4000-%04d-%012d", group, i);
    return buf;
}

}  // namespace backend_test
