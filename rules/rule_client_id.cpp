// Rule 2: the connection's phase and its client_id (server frames only).
//
//   server frame           | condition                                  | actions                          | phase
//   -----------------------+--------------------------------------------+----------------------------------+------------
//   connection_established | a client_id path holds a string            | capture: log client_id_captured  | established
//                          |                                            | {client_id, source}; count       |
//                          |                                            | client_id{captured}              |
//                          | repair_client_id, found only on a nested   | fix: replace with the frame plus |
//                          | path, a top-level client_id path is absent | a top-level client_id, count     |
//                          |                                            | client_id_repaired; observe: log |
//                          |                                            | client_id_would_repair           |
//                          | no client_id                               | - (missing is decided at ready)  | established
//   connection_ready       | none captured yet, one in this frame       | capture (as above)               | ready
//                          | none captured yet, none in this frame      | log warn client_id_missing;      | ready
//                          |                                            | count client_id{missing}         |
//                          | already captured                           | -                                | ready
//
// connection_ready also sets ready_at = now (the grace timer is rule_join_inject's).
#include "rules/detail.hpp"

namespace wsproxy::rules::detail {
namespace {

void capture(frame_ctx& c) {
    c.st.client_id = c.fi.client_id;
    c.st.client_id_source = join_path(c.cfg.client_id_paths[c.fi.client_id_path]);
    emit_log(c.out, log_level::info, "client_id_captured",
             {{"client_id", c.st.client_id}, {"source", c.st.client_id_source}});
    emit_count(c.out, stat::client_id, 0);
}

// The top-level client_id path (one component) that this frame lacks, or -1.
int missing_top_level_path(const frame_ctx& c) {
    const auto& paths = c.cfg.client_id_paths;
    if (c.fi.client_id_path < 0 || paths[c.fi.client_id_path].size() < 2) return -1;
    for (std::size_t i = 0; i < paths.size(); ++i) {
        if (paths[i].size() == 1 && !(c.fi.client_id_found >> i & 1)) return static_cast<int>(i);
    }
    return -1;
}

void repair(frame_ctx& c) {
    const int top = missing_top_level_path(c);
    if (top < 0) return;
    if (!c.fix()) {
        emit_log(c.out, log_level::info, "client_id_would_repair",
                 {{"client_id", std::string(c.fi.client_id)}});
        return;
    }
    // Insert right after the opening brace: cheap, and the rest stays byte for byte.
    const std::size_t brace = c.payload.find('{');
    std::string key = json_quote(c.cfg.client_id_paths[top][0]);
    std::string value = json_quote(c.fi.client_id);
    c.replacement.clear();
    c.replacement.reserve(c.payload.size() + key.size() + value.size() + 2);
    c.replacement.append(c.payload.substr(0, brace + 1));
    c.replacement.append(key).append(":").append(value).append(",");
    c.replacement.append(c.payload.substr(brace + 1));
    c.verdict = action::kind::replace;
    emit_count(c.out, stat::client_id_repaired, 0);
}

}  // namespace

void rule_client_id(frame_ctx& c) {
    if (c.from_client()) return;
    if (c.is_type(c.cfg.connection_established)) {
        if (c.st.current == phase::upgraded) c.st.current = phase::established;
        if (c.fi.client_id_path >= 0) {
            capture(c);
            if (c.cfg.repair_client_id) repair(c);
        }
    } else if (c.is_type(c.cfg.connection_ready)) {
        c.st.current = phase::ready;
        c.st.ready_at = c.now;
        if (!c.st.client_id.empty()) return;
        if (c.fi.client_id_path >= 0) {
            capture(c);
        } else {
            emit_log(c.out, log_level::warn, "client_id_missing", nlohmann::json::object());
            emit_count(c.out, stat::client_id, 1);
        }
    }
}

}  // namespace wsproxy::rules::detail
