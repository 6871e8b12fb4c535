#include "proxy/admin/connections.hpp"

#include <chrono>

#include "proxy/base/log.hpp"
#include "proxy/admin/tap.hpp"

namespace wsproxy {

namespace {

const char* phase_name(rules::phase p) {
    switch (p) {
        case rules::phase::upgraded: return "upgraded";
        case rules::phase::established: return "established";
        case rules::phase::ready: return "ready";
        case rules::phase::closed: return "closed";
    }
    return "unknown";
}

const char* join_state_name(rules::join_state s) {
    switch (s) {
        case rules::join_state::requested: return "requested";
        case rules::join_state::acknowledged: return "acknowledged";
        case rules::join_state::failed: return "failed";
    }
    return "unknown";
}

}  // namespace

nlohmann::json connection_snapshot(std::uint64_t id, const std::string& remote,
                                   std::int64_t opened_ms, bool established,
                                   const rules::connection_state& st) {
    using namespace std::chrono;
    const std::int64_t steady_now =
        duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
    const std::int64_t wall_now =
        duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
    auto wall = [&](std::int64_t steady_ms) { return log::iso_time(wall_now - (steady_now - steady_ms)); };

    nlohmann::json by_client = nlohmann::json::array();
    nlohmann::json by_us = nlohmann::json::array();
    bool join_sent = false;
    bool acknowledged = false;
    for (const auto& c : st.chats) {
        nlohmann::json entry = {{"chat_id", c.chat_id}, {"state", join_state_name(c.state)}};
        if (c.by_client) by_client.push_back(entry);
        if (c.by_us) by_us.push_back(entry);
        join_sent = join_sent || c.by_client || c.by_us;
        acknowledged = acknowledged || c.state == rules::join_state::acknowledged;
    }
    const std::uint64_t frames = st.frames_in[0] + st.frames_in[1];
    return {
        {"id", id},
        {"remote", remote},
        {"started", wall(opened_ms)},
        {"opened", wall(opened_ms)},
        {"phase", established ? phase_name(st.current) : "connecting"},
        {"client_id", st.client_id.empty() ? nlohmann::json(nullptr) : nlohmann::json(st.client_id)},
        {"chats", {{"by_client", by_client}, {"by_us", by_us}}},
        {"registered", st.registered},
        {"frames", {{"client_to_server", st.frames_in[0]}, {"server_to_client", st.frames_in[1]}}},
        {"bytes", {{"client_to_server", st.bytes_in[0]}, {"server_to_client", st.bytes_in[1]}}},
        {"last_frame", frames ? nlohmann::json(wall(st.last_frame_at)) : nlohmann::json(nullptr)},
        // The seed's five signals: A client_id captured, B chat joined (by the client or by us; docs/signals.md),
        // C registered (a chat_joined success), D answers delivered, E isolation kept.
        {"signals",
         {{"A", !st.client_id.empty()},
          {"B", join_sent},
          {"C", acknowledged || !st.registered.empty()},
          {"D", st.answers_delivered},
          {"E", !st.isolation_violated}}},
    };
}

const char* close_reason_name(metrics::close_reason why) {
    using r = metrics::close_reason;
    switch (why) {
        case r::client_close: return "client_close";
        case r::server_close: return "backend_close";
        case r::client_gone: return "client_gone";
        case r::server_gone: return "backend_gone";
        case r::idle_timeout: return "idle_timeout";
        case r::too_big: return "limit";
        case r::slow_consumer: return "slow_consumer";
        case r::drain: return "drain";
        case r::error: return "error";
    }
    return "error";
}

tap::closed_connection closed_record(std::uint64_t id, nlohmann::json snapshot,
                                     std::int64_t duration_ms, int client_code, int server_code,
                                     metrics::close_reason why) {
    using namespace std::chrono;
    tap::closed_connection c;
    c.id = id;
    c.closed_ms = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
    auto code = [](int v) { return v ? nlohmann::json(v) : nlohmann::json(nullptr); };
    c.record = std::move(snapshot);
    c.record["closed"] = log::iso_time(c.closed_ms);
    c.record["duration_ms"] = duration_ms;
    c.record["close_code_client"] = code(client_code);
    c.record["close_code_server"] = code(server_code);
    c.record["close_reason"] = close_reason_name(why);
    return c;
}

}  // namespace wsproxy
