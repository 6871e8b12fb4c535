// The rules configuration: YAML on top of the defaults, with errors that name the file,
// the line, the key and what was expected.
#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <unistd.h>

#include "rules/config.hpp"

using namespace wsproxy::rules;

namespace {

std::string error_of(const std::string& yaml, const std::string& name = "rules.yaml") {
    try {
        load_config_text(yaml, name);
    } catch (const config_error& e) {
        return e.what();
    }
    return "(no error)";
}

}  // namespace

TEST_CASE("the embedded default rules file equals the built-in defaults", "[config]") {
    const std::string& text = default_rules_yaml();
    REQUIRE(text.find("grace_ms: 250") != std::string::npos);
    const config parsed = load_config_text(text, "default_rules.yaml");
    CHECK(parsed == config{});
}

TEST_CASE("every key of the default file carries a comment", "[config]") {
    std::istringstream in(default_rules_yaml());
    std::string line, previous;
    int keys = 0;
    while (std::getline(in, line)) {
        const auto colon = line.find(':');
        const bool is_key = !line.empty() && line[0] != '#' && line.find_first_not_of(' ') != std::string::npos &&
                            line[line.find_first_not_of(' ')] != '#' &&
                            line[line.find_first_not_of(' ')] != '-' && colon != std::string::npos;
        if (is_key) {
            ++keys;
            INFO(line);
            CHECK(previous.find('#') != std::string::npos);
        }
        previous = line;
    }
    CHECK(keys == 46);  // mode, 7 sections, 38 keys in them
}

TEST_CASE("an empty file gives the defaults", "[config]") {
    CHECK(load_config_text("", "r.yaml") == config{});
    CHECK(load_config_text("# nothing\n", "r.yaml") == config{});
    CHECK(load_config_text("paths:\n", "r.yaml") == config{});
}

TEST_CASE("a file overrides only the keys it names", "[config]") {
    const config c = load_config_text(R"(
mode: observe
paths:
  type: meta.kind
  chat_id: room
  client_id: [session.id]
  join_chat_id: payload.room
messages:
  join_chat: subscribe
  chat_joined: subscribed
  user_message_types: [post, say]
  broadcast_types: []
policy:
  query_chat_key: room
  grace_ms: 0
  hide_injected_replies: false
  repair_client_id: true
  isolation_enforce: true
  single_chat: true
limits:
  max_depth: 16
  max_inspect_bytes: 4096
)",
                                      "r.yaml");
    CHECK(c.run_mode == mode::observe);
    CHECK(c.type_path == json_path{"meta", "kind"});
    CHECK(c.chat_id_paths == std::vector<json_path>{{"room"}});
    CHECK(c.client_id_paths == std::vector<json_path>{{"session", "id"}});
    CHECK(c.join_chat_id_path == json_path{"payload", "room"});
    CHECK(c.success_path == config{}.success_path);
    CHECK(c.join_chat == "subscribe");
    CHECK(c.chat_joined == "subscribed");
    CHECK(c.leave_chat == "leave_chat");
    CHECK(c.user_message_types == std::vector<std::string>{"post", "say"});
    CHECK(c.broadcast_types.empty());
    CHECK(c.message_types == config{}.message_types);
    CHECK(c.query_chat_key == "room");
    CHECK(c.grace_ms == 0);
    CHECK_FALSE(c.hide_injected_replies);
    CHECK(c.repair_client_id);
    CHECK(c.isolation_enforce);
    CHECK(c.single_chat);
    CHECK(c.max_depth == 16);
    CHECK(c.max_inspect_bytes == 4096);
}

TEST_CASE("the rest, rejoin and path_chat_pattern keys are read", "[config]") {
    const config d;
    CHECK(d.rest.route == "POST /api/v1/chats/{chat_id}/messages");
    CHECK(d.rest.session_cookie == "mip_session");
    CHECK(d.rest.session_header.empty());
    CHECK(d.rest.wait_ms == 500);
    CHECK(d.rest.sockets == rest_sockets::all);
    CHECK(d.rejoin.enabled);
    CHECK(d.rejoin.policy == rejoin_policy::most_recent);
    CHECK(d.rejoin.ttl_s == 600);
    CHECK(d.rejoin.max_chats == 16);
    CHECK(d.path_chat_pattern.empty());

    const config c = load_config_text(R"(
policy:
  path_chat_pattern: /rt/rooms/{chat_id}
rest:
  route: PUT /v2/rooms/{chat_id}/posts
  session_cookie: sid
  session_header: X-Session-Id
  wait_ms: 0
  sockets: most_recent
rejoin:
  enabled: false
  policy: all
  ttl_s: 60
  max_chats: 64
)",
                                      "r.yaml");
    CHECK(c.path_chat_pattern == "/rt/rooms/{chat_id}");
    CHECK(c.rest.route == "PUT /v2/rooms/{chat_id}/posts");
    CHECK(c.rest.session_cookie == "sid");
    CHECK(c.rest.session_header == "x-session-id");  // header names are kept lower-case
    CHECK(c.rest.wait_ms == 0);
    CHECK(c.rest.sockets == rest_sockets::most_recent);
    CHECK_FALSE(c.rejoin.enabled);
    CHECK(c.rejoin.policy == rejoin_policy::all);
    CHECK(c.rejoin.ttl_s == 60);
    CHECK(c.rejoin.max_chats == 64);
}

TEST_CASE("bad rest, rejoin and path_chat_pattern values name the key and what was expected",
          "[config]") {
    const std::string route_what =
        R"(expected "<METHOD> <path>" with one {chat_id} path segment, such as "POST /api/v1/chats/{chat_id}/messages")";
    CHECK(error_of("rest:\n  route: /api/v1/chats/{chat_id}\n") ==
          R"(rules.yaml:2: key "rest.route": )" + route_what + R"(, got "/api/v1/chats/{chat_id}")");
    CHECK(error_of("rest:\n  route: POST /api/v1/chats/messages\n") ==
          R"(rules.yaml:2: key "rest.route": )" + route_what + R"(, got "POST /api/v1/chats/messages")");
    for (const char* bad : {"POST /a/{chat_id}/{chat_id}", "POST /a/x{chat_id}", "POST /a//{chat_id}",
                            "POST /a/{chat_id}/", "'POST /a/{chat_id}?x=1'", "'POST  /a/{chat_id}'",
                            "'POST a/{chat_id}'", "'P:ST /a/{chat_id}'"}) {
        INFO(bad);
        CHECK(error_of(std::string("rest:\n  route: ") + bad + "\n").rfind(R"(rules.yaml:2: key "rest.route")", 0) == 0);
    }
    CHECK(error_of("rest:\n  session_cookie: 'a b'\n") ==
          R"(rules.yaml:2: key "rest.session_cookie": expected a cookie name (an HTTP token), got "a b")");
    CHECK(error_of("rest:\n  session_cookie: ''\n") ==
          R"(rules.yaml:2: key "rest.session_cookie": expected a cookie name (an HTTP token), got "")");
    CHECK(error_of("rest:\n  session_header: 'x:y'\n") ==
          R"(rules.yaml:2: key "rest.session_header": expected "" (use the cookie) or a header name, got "x:y")");
    CHECK(error_of("rest:\n  wait_ms: 60001\n") ==
          R"(rules.yaml:2: key "rest.wait_ms": expected a non-negative integer (milliseconds, at most 60000), got "60001")");
    CHECK(error_of("rest:\n  sockets: newest\n") ==
          R"(rules.yaml:2: key "rest.sockets": expected all or most_recent, got "newest")");
    CHECK(error_of("rejoin:\n  policy: first\n") ==
          R"(rules.yaml:2: key "rejoin.policy": expected most_recent or all, got "first")");
    CHECK(error_of("rejoin:\n  ttl_s: 0\n") ==
          R"(rules.yaml:2: key "rejoin.ttl_s": expected a positive integer (seconds, at most 2592000), got "0")");
    CHECK(error_of("rejoin:\n  max_chats: 65\n") ==
          R"(rules.yaml:2: key "rejoin.max_chats": expected an integer from 1 to 64, got "65")");
    CHECK(error_of("rejoin:\n  enabled: sometimes\n") ==
          R"(rules.yaml:2: key "rejoin.enabled": expected true or false, got "sometimes")");
    CHECK(error_of("policy:\n  path_chat_pattern: rooms/{chat_id}\n") ==
          R"(rules.yaml:2: key "policy.path_chat_pattern": expected "" (off) or a path with one {chat_id} segment, such as "/rt/rooms/{chat_id}", got "rooms/{chat_id}")");
    CHECK(error_of("rest:\n  rooute: x\n") ==
          R"(rules.yaml:2: unknown key "rest.rooute": expected one of route, session_cookie, session_header, wait_ms, sockets)");
}

TEST_CASE("bad values are rejected with the file, the line, the key and what was expected",
          "[config]") {
    CHECK(error_of("policy:\n  grace_ms: abc\n") ==
          R"(rules.yaml:2: key "policy.grace_ms": expected a non-negative integer (milliseconds, at most 86400000), got "abc")");
    CHECK(error_of("\n\npolicy:\n  single_chat: true\n  grace_ms: -5\n") ==
          R"(rules.yaml:5: key "policy.grace_ms": expected a non-negative integer (milliseconds, at most 86400000), got "-5")");
    CHECK(error_of("mode: repair\n") == R"(rules.yaml:1: key "mode": expected fix or observe, got "repair")");
    CHECK(error_of("policy:\n  single_chat: maybe\n") ==
          R"(rules.yaml:2: key "policy.single_chat": expected true or false, got "maybe")");
    CHECK(error_of("limits:\n  max_depth: 0\n") ==
          R"(rules.yaml:2: key "limits.max_depth": expected an integer from 1 to 1024, got "0")");
    CHECK(error_of("limits:\n  max_depth: 5000\n") ==
          R"(rules.yaml:2: key "limits.max_depth": expected an integer from 1 to 1024, got "5000")");
    CHECK(error_of("paths:\n  chat_id: data..chat_id\n") ==
          R"(rules.yaml:2: key "paths.chat_id": expected a dotted JSON path such as "data.chat_id", got "data..chat_id")");
    CHECK(error_of("paths:\n  chat_id: []\n") ==
          R"(rules.yaml:2: key "paths.chat_id": expected a dotted JSON path or a list of 1 to 8 of them, got a list)");
    CHECK(error_of("paths:\n  type: [a, b]\n") ==
          R"(rules.yaml:2: key "paths.type": expected a dotted JSON path such as "data.chat_id", got a list)");
    CHECK(error_of("messages:\n  join_chat: ''\n") ==
          R"(rules.yaml:2: key "messages.join_chat": expected a non-empty string, got "")");
    CHECK(error_of("messages:\n  join_chat:\n") ==
          R"(rules.yaml:2: key "messages.join_chat": expected a non-empty string, got nothing)");
    CHECK(error_of("messages:\n  message_types: [a, b, a]\n") ==
          R"(rules.yaml:2: key "messages.message_types": expected a list of distinct non-empty strings (at most 64), got "a")");
    CHECK(error_of("messages:\n  user_message_types: send_message\n") ==
          R"(rules.yaml:2: key "messages.user_message_types": expected a list of distinct non-empty strings (at most 1000), got "send_message")");
    CHECK(error_of("policy: true\n") == R"(rules.yaml:1: key "policy": expected a mapping, got "true")");
    CHECK(error_of("- a\n- b\n") ==
          R"(rules.yaml:1: expected a mapping of sections (mode, paths, messages, ...), got a list)");
}

TEST_CASE("unknown and repeated keys are rejected", "[config]") {
    CHECK(error_of("mode: fix\npolicy:\n  grace: 10\n") ==
          R"(rules.yaml:3: unknown key "policy.grace": expected one of query_chat_key, path_chat_pattern, grace_ms, hide_injected_replies, repair_client_id, isolation_enforce, single_chat)");
    CHECK(error_of("gracems: 1\n") ==
          R"(rules.yaml:1: unknown key "gracems": expected one of mode, paths, messages, policy, limits, rest, rejoin, answers)");
    CHECK(error_of("mode: fix\nmode: observe\n") ==
          R"(rules.yaml:2: key "mode": given twice, expected it once)");
}

TEST_CASE("a YAML syntax error names the file and the line", "[config]") {
    const std::string e = error_of("policy:\n  grace_ms: [1, 2\n", "my-rules.yaml");
    CHECK(e.rfind("my-rules.yaml:", 0) == 0);
    CHECK(e.find("invalid YAML") != std::string::npos);
    CHECK(error_of("a: b: c\n").find("rules.yaml:1: invalid YAML") == 0);
}

TEST_CASE("rules files are read from disk, and an unreadable one names the path and the reason",
          "[config]") {
    char name[] = "/tmp/wsproxy-rules-XXXXXX";
    const int fd = mkstemp(name);
    REQUIRE(fd >= 0);
    ::close(fd);
    {
        std::ofstream out(name);
        out << "policy:\n  grace_ms: 1000\n";
    }
    CHECK(load_config_file(name).grace_ms == 1000);
    {
        std::ofstream out(name);
        out << "policy:\n  grace_ms: x\n";
    }
    try {
        load_config_file(name);
        FAIL("no error");
    } catch (const config_error& e) {
        CHECK(std::string(e.what()).rfind(std::string(name) + ":2: key \"policy.grace_ms\"", 0) == 0);
    }
    std::remove(name);
    try {
        load_config_file("/nonexistent/rules.yaml");
        FAIL("no error");
    } catch (const config_error& e) {
        CHECK(std::string(e.what()) ==
              "/nonexistent/rules.yaml: cannot read the rules file: No such file or directory");
    }
    try {
        load_config_file("/tmp");
        FAIL("no error");
    } catch (const config_error& e) {
        CHECK(std::string(e.what()) == "/tmp: cannot read the rules file: Is a directory");
    }
}

TEST_CASE("dotted paths split and join", "[config]") {
    CHECK(split_path("data.chat_id") == json_path{"data", "chat_id"});
    CHECK(split_path("type") == json_path{"type"});
    CHECK(join_path({"data", "client_id"}) == "data.client_id");
}
