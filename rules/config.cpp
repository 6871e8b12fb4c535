// Loading the rules configuration from YAML on top of the built-in defaults.
//
// The format is small: a mapping of sections (paths, messages, policy, limits, rest, rejoin,
// answers) plus `mode`.
// Every key is checked: an unknown key, a wrong type or a bad value is a config_error whose
// message reads `<file>:<line>: key "<section.key>": expected <what>, got <value>`.
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <cstdio>
#include <functional>
#include <initializer_list>
#include <string_view>
#include <utility>

#include "rules/config.hpp"
#include "rules/rest.hpp"

namespace wsproxy::rules {

json_path split_path(const std::string& dotted) {
    json_path out;
    std::size_t start = 0;
    for (;;) {
        const std::size_t dot = dotted.find('.', start);
        out.push_back(dotted.substr(start, dot - start));
        if (dot == std::string::npos) break;
        start = dot + 1;
    }
    return out;
}

std::string join_path(const json_path& path) {
    std::string out;
    for (const auto& c : path) {
        if (!out.empty()) out.push_back('.');
        out += c;
    }
    return out;
}

namespace {

class loader {
public:
    explicit loader(std::string source) : source_(std::move(source)) {}

    config load(const std::string& text) {
        config cfg;
        YAML::Node root;
        try {
            root = YAML::Load(text);
        } catch (const YAML::Exception& e) {
            throw config_error(where(e.mark) + "invalid YAML: " + e.msg);
        }
        if (!root || root.IsNull()) return cfg;  // an empty file: the defaults
        if (!root.IsMap()) fail(root, "", "a mapping of sections (mode, paths, messages, ...)");

        using field = std::pair<const char*, std::function<void(const YAML::Node&, const std::string&)>>;
        const auto section = [this](std::initializer_list<field> fields) {
            std::vector<field> fs(fields);
            return [this, fs](const YAML::Node& node, const std::string& key) {
                if (node.IsNull()) return;  // an empty section keeps the defaults
                if (!node.IsMap()) fail(node, key, "a mapping");
                walk(node, key, fs);
            };
        };
        const auto str = [this](std::string& dst) {
            return [this, &dst](const YAML::Node& n, const std::string& k) { dst = name(n, k); };
        };
        const auto path = [this](json_path& dst) {
            return [this, &dst](const YAML::Node& n, const std::string& k) { dst = one_path(n, k); };
        };
        const auto paths = [this](std::vector<json_path>& dst) {
            return [this, &dst](const YAML::Node& n, const std::string& k) { dst = path_list(n, k); };
        };
        const auto names = [this](std::vector<std::string>& dst, std::size_t max) {
            return [this, &dst, max](const YAML::Node& n, const std::string& k) {
                dst = name_list(n, k, max);
            };
        };
        const auto flag = [this](bool& dst) {
            return [this, &dst](const YAML::Node& n, const std::string& k) { dst = boolean(n, k); };
        };

        std::vector<field> top{
            {"mode",
             [&](const YAML::Node& n, const std::string& k) {
                 const std::string v = scalar(n, k, "fix or observe");
                 if (v == "fix") cfg.run_mode = mode::fix;
                 else if (v == "observe") cfg.run_mode = mode::observe;
                 else fail(n, k, "fix or observe");
             }},
            {"paths", section({
                          {"type", path(cfg.type_path)},
                          {"chat_id", paths(cfg.chat_id_paths)},
                          {"client_id", paths(cfg.client_id_paths)},
                          {"success", path(cfg.success_path)},
                          {"error", path(cfg.error_path)},
                          {"join_chat_id", path(cfg.join_chat_id_path)},
                      })},
            {"messages", section({
                             {"connection_established", str(cfg.connection_established)},
                             {"connection_ready", str(cfg.connection_ready)},
                             {"join_chat", str(cfg.join_chat)},
                             {"chat_joined", str(cfg.chat_joined)},
                             {"leave_chat", str(cfg.leave_chat)},
                             {"chat_left", str(cfg.chat_left)},
                             {"user_message_types", names(cfg.user_message_types, 1000)},
                             {"broadcast_types", names(cfg.broadcast_types, 1000)},
                             {"message_types", names(cfg.message_types, max_message_types)},
                         })},
            {"policy", section({
                           {"query_chat_key", str(cfg.query_chat_key)},
                           {"path_chat_pattern",
                            [&](const YAML::Node& n, const std::string& k) {
                                const char* what =
                                    "\"\" (off) or a path with one {chat_id} segment, such as "
                                    "\"/rt/rooms/{chat_id}\"";
                                std::string v = scalar(n, k, what);
                                if (!v.empty() && !valid_chat_path_pattern(v)) fail(n, k, what);
                                cfg.path_chat_pattern = std::move(v);
                            }},
                           {"grace_ms",
                            [&](const YAML::Node& n, const std::string& k) {
                                cfg.grace_ms = integer(
                                    n, k, 0, 86'400'000,
                                    "a non-negative integer (milliseconds, at most 86400000)");
                            }},
                           {"hide_injected_replies", flag(cfg.hide_injected_replies)},
                           {"repair_client_id", flag(cfg.repair_client_id)},
                           {"isolation_enforce", flag(cfg.isolation_enforce)},
                           {"single_chat", flag(cfg.single_chat)},
                       })},
            {"limits", section({
                           {"max_depth",
                            [&](const YAML::Node& n, const std::string& k) {
                                cfg.max_depth = static_cast<std::size_t>(integer(
                                    n, k, 1, max_depth_limit,
                                    "an integer from 1 to " + std::to_string(max_depth_limit)));
                            }},
                           {"max_inspect_bytes",
                            [&](const YAML::Node& n, const std::string& k) {
                                cfg.max_inspect_bytes = static_cast<std::size_t>(integer(
                                    n, k, 1, std::int64_t{1} << 30,
                                    "a positive integer (bytes, at most 1073741824)"));
                            }},
                       })},
            {"rest", section({
                         {"route",
                          [&](const YAML::Node& n, const std::string& k) {
                              const char* what =
                                  "\"<METHOD> <path>\" with one {chat_id} path segment, such as "
                                  "\"POST /api/v1/chats/{chat_id}/messages\"";
                              std::string v = scalar(n, k, what);
                              if (!valid_rest_route(v)) fail(n, k, what);
                              cfg.rest.route = std::move(v);
                          }},
                         {"session_cookie",
                          [&](const YAML::Node& n, const std::string& k) {
                              const char* what = "a cookie name (an HTTP token)";
                              std::string v = scalar(n, k, what);
                              if (!token(v)) fail(n, k, what);
                              cfg.rest.session_cookie = std::move(v);
                          }},
                         {"session_header",
                          [&](const YAML::Node& n, const std::string& k) {
                              const char* what = "\"\" (use the cookie) or a header name";
                              std::string v = scalar(n, k, what);
                              if (!v.empty() && !token(v)) fail(n, k, what);
                              for (auto& ch : v)
                                  ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
                              cfg.rest.session_header = std::move(v);
                          }},
                         {"wait_ms",
                          [&](const YAML::Node& n, const std::string& k) {
                              cfg.rest.wait_ms = integer(
                                  n, k, 0, max_rest_wait_ms,
                                  "a non-negative integer (milliseconds, at most " +
                                      std::to_string(max_rest_wait_ms) + ")");
                          }},
                         {"sockets",
                          [&](const YAML::Node& n, const std::string& k) {
                              const std::string v = scalar(n, k, "all or most_recent");
                              if (v == "all") cfg.rest.sockets = rest_sockets::all;
                              else if (v == "most_recent") cfg.rest.sockets = rest_sockets::most_recent;
                              else fail(n, k, "all or most_recent");
                          }},
                     })},
            {"rejoin", section({
                           {"enabled", flag(cfg.rejoin.enabled)},
                           {"policy",
                            [&](const YAML::Node& n, const std::string& k) {
                                const std::string v = scalar(n, k, "most_recent or all");
                                if (v == "most_recent") cfg.rejoin.policy = rejoin_policy::most_recent;
                                else if (v == "all") cfg.rejoin.policy = rejoin_policy::all;
                                else fail(n, k, "most_recent or all");
                            }},
                           {"ttl_s",
                            [&](const YAML::Node& n, const std::string& k) {
                                cfg.rejoin.ttl_s = integer(n, k, 1, max_rejoin_ttl_s,
                                                           "a positive integer (seconds, at most " +
                                                               std::to_string(max_rejoin_ttl_s) + ")");
                            }},
                           {"max_chats",
                            [&](const YAML::Node& n, const std::string& k) {
                                cfg.rejoin.max_chats = static_cast<std::size_t>(integer(
                                    n, k, 1, static_cast<std::int64_t>(max_rejoin_chats),
                                    "an integer from 1 to " + std::to_string(max_rejoin_chats)));
                            }},
                       })},
            {"answers", section({
                            {"first_frame_types", names(cfg.answers.first_frame_types, 1000)},
                            {"complete_type", str(cfg.answers.complete_type)},
                            {"error_types", names(cfg.answers.error_types, 1000)},
                            {"timeout_ms",
                             [&](const YAML::Node& n, const std::string& k) {
                                 cfg.answers.timeout_ms = integer(
                                     n, k, 1, max_answer_timeout_ms,
                                     "a positive integer (milliseconds, at most " +
                                         std::to_string(max_answer_timeout_ms) + ")");
                             }},
                            {"max_pending",
                             [&](const YAML::Node& n, const std::string& k) {
                                 cfg.answers.max_pending = static_cast<std::size_t>(integer(
                                     n, k, 0, static_cast<std::int64_t>(max_pending_answers),
                                     "an integer from 0 (off) to " +
                                         std::to_string(max_pending_answers)));
                             }},
                        })},
        };
        walk(root, "", top);
        return cfg;
    }

private:
    using field_list =
        std::vector<std::pair<const char*, std::function<void(const YAML::Node&, const std::string&)>>>;

    std::string source_;
    int last_line_ = 0;  // the line of the key being read, for nodes without a mark

    std::string where(const YAML::Mark& m) const {
        const int line = m.line >= 0 ? m.line + 1 : last_line_;
        return line > 0 ? source_ + ":" + std::to_string(line) + ": " : source_ + ": ";
    }

    static std::string got(const YAML::Node& n) {
        if (!n || n.IsNull()) return "nothing";
        if (n.IsSequence()) return "a list";
        if (n.IsMap()) return "a mapping";
        std::string v = n.Scalar();
        if (v.size() > 60) v = v.substr(0, 57) + "...";
        return "\"" + v + "\"";
    }

    [[noreturn]] void fail(const YAML::Node& n, const std::string& key, const std::string& what) const {
        // A null value's mark points past it, at the next line: use the key's line.
        std::string msg = where(!n || n.IsNull() ? YAML::Mark::null_mark() : n.Mark());
        if (!key.empty()) msg += "key \"" + key + "\": ";
        throw config_error(msg + "expected " + what + ", got " + got(n));
    }

    void walk(const YAML::Node& map, const std::string& prefix, const field_list& fields) {
        std::vector<std::string> seen;
        for (const auto& kv : map) {
            const YAML::Node& k = kv.first;
            if (k.Mark().line >= 0) last_line_ = k.Mark().line + 1;
            const std::string key = k.IsScalar() ? k.Scalar() : std::string("?");
            const std::string full = prefix.empty() ? key : prefix + "." + key;
            const field* match = nullptr;
            for (const auto& f : fields)
                if (key == f.first) match = &f;
            if (!match) {
                std::string known;
                for (const auto& f : fields) known += (known.empty() ? "" : ", ") + std::string(f.first);
                throw config_error(where(k.Mark()) + "unknown key \"" + full +
                                   "\": expected one of " + known);
            }
            for (const auto& s : seen)
                if (s == key)
                    throw config_error(where(k.Mark()) + "key \"" + full +
                                       "\": given twice, expected it once");
            seen.push_back(key);
            match->second(kv.second, full);
        }
    }
    using field = field_list::value_type;

    std::string scalar(const YAML::Node& n, const std::string& key, const std::string& what) const {
        if (!n.IsScalar()) fail(n, key, what);
        return n.Scalar();
    }

    std::string name(const YAML::Node& n, const std::string& key) const {
        std::string v = scalar(n, key, "a non-empty string");
        if (v.empty()) fail(n, key, "a non-empty string");
        return v;
    }

    // An HTTP token (RFC 9110 tchar), as header and cookie names are.
    static bool token(const std::string& v) {
        if (v.empty() || v.size() > 256) return false;
        for (char c : v) {
            const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
            if (!alnum && std::string_view("!#$%&'*+-.^_`|~").find(c) == std::string_view::npos)
                return false;
        }
        return true;
    }

    bool boolean(const YAML::Node& n, const std::string& key) const {
        const std::string v = scalar(n, key, "true or false");
        if (v == "true" || v == "True" || v == "TRUE") return true;
        if (v == "false" || v == "False" || v == "FALSE") return false;
        fail(n, key, "true or false");
    }

    std::int64_t integer(const YAML::Node& n, const std::string& key, std::int64_t lo,
                         std::int64_t hi, const std::string& what) const {
        const std::string v = scalar(n, key, what);
        std::int64_t out = 0;
        const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
        if (v.empty() || ec != std::errc{} || end != v.data() + v.size() || out < lo || out > hi)
            fail(n, key, what);
        return out;
    }

    json_path one_path(const YAML::Node& n, const std::string& key) const {
        const char* what = "a dotted JSON path such as \"data.chat_id\"";
        const std::string v = scalar(n, key, what);
        json_path p = split_path(v);
        if (v.empty() || p.size() > max_path_components) fail(n, key, what);
        for (const auto& c : p)
            if (c.empty()) fail(n, key, what);
        return p;
    }

    std::vector<json_path> path_list(const YAML::Node& n, const std::string& key) const {
        const std::string what = "a dotted JSON path or a list of 1 to " +
                                 std::to_string(max_paths_per_field) + " of them";
        std::vector<json_path> out;
        if (n.IsScalar()) {
            out.push_back(one_path(n, key));
            return out;
        }
        if (!n.IsSequence() || n.size() == 0 || n.size() > max_paths_per_field) fail(n, key, what);
        for (const auto& item : n) out.push_back(one_path(item, key));
        return out;
    }

    std::vector<std::string> name_list(const YAML::Node& n, const std::string& key,
                                       std::size_t max) const {
        const std::string what =
            "a list of distinct non-empty strings (at most " + std::to_string(max) + ")";
        if (!n.IsSequence() || n.size() > max) fail(n, key, what);
        std::vector<std::string> out;
        for (const auto& item : n) {
            std::string v = scalar(item, key, what);
            if (v.empty()) fail(item, key, what);
            for (const auto& o : out)
                if (o == v) fail(item, key, what);
            out.push_back(std::move(v));
        }
        return out;
    }
};

}  // namespace

config load_config_text(const std::string& yaml_text, const std::string& source_name) {
    try {
        return loader(source_name).load(yaml_text);
    } catch (const config_error&) {
        throw;
    } catch (const YAML::Exception& e) {
        throw config_error(source_name + ":" + std::to_string(e.mark.line + 1) +
                           ": invalid YAML: " + e.msg);
    }
}

config load_config_file(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) throw config_error(path + ": cannot read the rules file: " + std::strerror(errno));
    std::string text;
    char buf[8192];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
    const int err = std::ferror(f) ? errno : 0;
    std::fclose(f);
    if (err) throw config_error(path + ": cannot read the rules file: " + std::strerror(err));
    return load_config_text(text, path);
}

}  // namespace wsproxy::rules
