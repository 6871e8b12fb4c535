// metrics/: the catalog, the per-thread shards, and the scrape that sums them.
#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "metrics/catalog.hpp"
#include "metrics/registry.hpp"

using namespace wsproxy;
using metrics::label_list;

namespace {

const std::vector<std::string> types{"join_chat", "chat_joined", "send_message"};

bool has_line(const std::string& text, const std::string& line) {
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);)
        if (l == line) return true;
    return false;
}

// Families whose value is not counted by the shards: read from /proc at scrape, or the
// deprecated name that shows another family's series.
bool not_counted(const std::string& family) {
    return family.rfind("process_", 0) == 0 || family == "wsproxy_broadcasts_total";
}

// Every counted series of a scrape, keyed by family name and labels, for before/after
// comparisons.
std::map<std::string, double> series_values(const metrics::registry& reg) {
    std::map<std::string, double> out;
    for (const auto& f : reg.Collect()) {
        if (not_counted(f.name)) continue;
        for (const auto& m : f.metric) {
            std::string key = f.name;
            for (const auto& l : m.label) key += "," + l.name + "=" + l.value;
            double v = 0;
            switch (f.type) {
                case prometheus::MetricType::Counter:
                    v = m.counter.value;
                    break;
                case prometheus::MetricType::Gauge:
                    v = m.gauge.value;
                    break;
                case prometheus::MetricType::Histogram:
                    v = static_cast<double>(m.histogram.sample_count);
                    break;
                default:
                    break;
            }
            out[key] = v;
        }
    }
    return out;
}

// The one series that differs between two scrapes; fails unless exactly one does.
std::string changed_series(const std::map<std::string, double>& before,
                           const std::map<std::string, double>& after) {
    std::vector<std::string> changed;
    for (const auto& [k, v] : after)
        if (before.at(k) != v) changed.push_back(k);
    REQUIRE(changed.size() == 1);
    return changed.front();
}

}  // namespace

TEST_CASE("counts from several worker shards are summed at scrape", "[metrics]") {
    metrics::registry reg(types, 4);
    std::vector<std::thread> workers;
    for (unsigned i = 0; i < 4; ++i) {
        workers.emplace_back([&reg, i] {
            auto& s = reg.at(i);
            for (int k = 0; k < 1000; ++k)
                s.count(rules::stat::frames, rules::frame_label(0, 2, 3));  // send_message
            s.count(metrics::proxy_stat::bytes,
                    metrics::label(metrics::direction::server_to_client), 100 * (i + 1));
        });
    }
    for (auto& t : workers) t.join();
    reg.control().count(metrics::proxy_stat::rules_reload, 1);

    CHECK(reg.value("wsproxy_frames_total",
                    {{"direction", "client_to_server"}, {"type", "send_message"}}) == 4000);
    CHECK(reg.value("wsproxy_bytes_total", {{"direction", "server_to_client"}}) == 1000);
    CHECK(reg.value("wsproxy_rules_reload_total", {{"result", "failure"}}) == 1);
    CHECK(
        has_line(reg.render(),
                 R"(wsproxy_frames_total{direction="client_to_server",type="send_message"} 4000)"));
}

TEST_CASE("every family and every label combination is exported at zero from the start",
          "[metrics]") {
    metrics::registry reg(types, 2, "1.2.3");
    const auto text = reg.render();

    std::size_t series = 0;
    for (const auto& f : metrics::catalog) {
        const std::string name(f.name);
        INFO(name);
        CHECK(text.find("# HELP " + name + " ") != std::string::npos);
        const char* type = f.type == metrics::metric_type::counter ? "counter"
                           : f.type == metrics::metric_type::gauge ? "gauge"
                                                                   : "histogram";
        CHECK(has_line(text, "# TYPE " + name + " " + type));
        if (f.type == metrics::metric_type::histogram) {
            CHECK(has_line(text, name + "_count 0"));
            CHECK(has_line(text, name + "_sum 0"));
            CHECK(has_line(text, name + "_bucket{le=\"+Inf\"} 0"));
            ++series;
            continue;
        }
        // Build every label combination independently of the registry's own layout.
        std::vector<std::string> combos{""};
        for (const auto& dim : f.labels) {
            std::vector<std::string> vals;
            if (dim.source == metrics::label_source::message_types) {
                vals = types;
                for (auto e : metrics::frame_type_extra) vals.emplace_back(e);
            } else if (dim.source == metrics::label_source::version) {
                vals = {"1.2.3"};
            } else {
                vals.assign(dim.values.begin(), dim.values.end());
            }
            std::vector<std::string> next;
            for (const auto& c : combos)
                for (const auto& v : vals)
                    next.push_back(c + (c.empty() ? "" : ",") + std::string(dim.name) + "=\"" + v +
                                   "\"");
            combos = next;
        }
        if (name.rfind("process_", 0) == 0) {  // live values, checked in their own test
            CHECK(text.find("\n" + name + " ") != std::string::npos);
            ++series;
            continue;
        }
        const std::string expected = f.id == metrics::family::build_info ? " 1" : " 0";
        for (const auto& c : combos) {
            const auto line = name + (c.empty() ? "" : "{" + c + "}") + expected;
            INFO(line);
            CHECK(has_line(text, line));
            ++series;
        }
    }
    // 2 directions x (3 types + other, invalid, binary) frames series among them.
    CHECK(reg.value("wsproxy_frames_total") == 0);
    CHECK(series > 60);
}

TEST_CASE("each (stat, label) pair counts into exactly one series of its family", "[metrics]") {
    metrics::registry reg(types, 1);
    auto& s = reg.at(0);
    std::set<std::string> hit;
    std::size_t pairs = 0;

    const auto check_family = [&](metrics::family fam, auto count_one) {
        const auto name = std::string(metrics::info(fam).name);
        const auto n_series =
            static_cast<std::uint32_t>(reg.Collect()[static_cast<std::size_t>(fam)].metric.size());
        for (std::uint32_t label = 0; label < n_series; ++label) {
            const auto before = series_values(reg);
            count_one(label);
            const auto key = changed_series(before, series_values(reg));
            INFO(key);
            const bool in_family = key.rfind(name + ",", 0) == 0 || key == name;
            CHECK(in_family);
            CHECK(hit.insert(key).second);
            ++pairs;
        }
    };
    for (std::size_t i = 0; i < metrics::stat_family.size(); ++i) {
        const auto st = static_cast<rules::stat>(i);
        check_family(metrics::stat_family[i], [&](std::uint32_t l) { s.count(st, l); });
    }
    for (std::size_t i = 0; i < metrics::proxy_stat_family.size(); ++i) {
        const auto st = static_cast<metrics::proxy_stat>(i);
        check_family(metrics::proxy_stat_family[i], [&](std::uint32_t l) { s.count(st, l); });
    }
    CHECK(pairs == hit.size());
    CHECK(pairs == 2 * 6 + 2 + 1 + 2 + 2 + 1 + 1 + 2 + 1 + 1 + 4 + 1 +  // rules::stat
                       2 + std::size(metrics::values::upstream_error) + 4 + 9 +
                       metrics::http_codes.size() + 1 + 3 + 2 + 1 + 2 + 3 +
                       std::size(metrics::values::shared_state_op) *
                           std::size(metrics::values::shared_state_result) +
                       1 + 2);  // proxy_stat (... shared_state, slow_peers)
}

TEST_CASE("frame_label addresses the frames series of that direction and type", "[metrics]") {
    metrics::registry reg(types, 1);
    const int n = static_cast<int>(types.size());
    auto& s = reg.at(0);
    s.count(rules::stat::frames, rules::frame_label(1, 1, n));      // chat_joined
    s.count(rules::stat::frames, rules::frame_label(1, n + 1, n));  // invalid
    s.count(rules::stat::frames, rules::frame_label(0, n + 2, n));  // binary
    s.count(rules::stat::frames, rules::frame_label(0, n, n), 5);   // other

    CHECK(reg.value("wsproxy_frames_total",
                    {{"direction", "server_to_client"}, {"type", "chat_joined"}}) == 1);
    CHECK(reg.value("wsproxy_frames_total",
                    {{"direction", "server_to_client"}, {"type", "invalid"}}) == 1);
    CHECK(reg.value("wsproxy_frames_total",
                    {{"direction", "client_to_server"}, {"type", "binary"}}) == 1);
    CHECK(reg.value("wsproxy_frames_total",
                    {{"direction", "client_to_server"}, {"type", "other"}}) == 5);
    CHECK(reg.value("wsproxy_frames_total", {{"direction", "client_to_server"}}) == 6);
    CHECK(reg.value("wsproxy_frames_total") == 8);
    CHECK(reg.frame_types() == std::vector<std::string>{"join_chat", "chat_joined", "send_message",
                                                        "other", "invalid", "binary"});
}

TEST_CASE("typed labels count into the family they name", "[metrics]") {
    metrics::registry reg(types, 1);
    auto& s = reg.at(0);
    s.count(metrics::close_reason::drain);
    s.count(metrics::close_reason::client_close, 2);
    s.count(metrics::upstream_error::handshake_rejected);
    s.count(metrics::handshake_error::too_large);
    s.count(metrics::reject_reason::header_too_large);
    s.count(metrics::direction::client_to_server, 1500);
    s.count(metrics::proxy_stat::http_requests, metrics::http_code_label(404));
    s.count(metrics::proxy_stat::http_requests, metrics::http_code_label(200));
    s.count(metrics::proxy_stat::http_requests, metrics::http_code_label(503));
    s.count(metrics::proxy_stat::http_requests, metrics::http_code_label(299));

    CHECK(reg.value("wsproxy_connections_closed_total", {{"reason", "drain"}}) == 1);
    CHECK(reg.value("wsproxy_connections_closed_total", {{"reason", "client_close"}}) == 2);
    CHECK(reg.value("wsproxy_upstream_errors_total", {{"reason", "handshake_rejected"}}) == 1);
    CHECK(reg.value("wsproxy_handshake_errors_total", {{"reason", "too_large"}}) == 1);
    CHECK(reg.value("wsproxy_rejected_total", {{"reason", "header_too_large"}}) == 1);
    CHECK(reg.value("wsproxy_bytes_total", {{"direction", "client_to_server"}}) == 1500);
    CHECK(reg.value("wsproxy_http_requests_total", {{"code", "404"}}) == 1);
    CHECK(reg.value("wsproxy_http_requests_total", {{"code", "200"}}) == 1);
    CHECK(reg.value("wsproxy_http_requests_total", {{"code", "503"}}) == 1);
    CHECK(reg.value("wsproxy_http_requests_total", {{"code", "other"}}) == 1);
    CHECK(reg.value("wsproxy_http_requests_total") == 4);
}

TEST_CASE("the HTTP code label is the real status from RFC 9110's set plus 103 and 429, else other",
          "[metrics]") {
    const auto name = [](unsigned status) {
        return std::string(metrics::values::http_code[metrics::http_code_label(status)]);
    };
    for (unsigned code : {100u, 101u, 103u, 200u, 204u, 206u, 301u, 304u, 308u, 400u, 404u,
                          413u, 421u, 422u, 426u, 429u, 500u, 502u, 504u, 505u})
        CHECK(name(code) == std::to_string(code));
    // Unused in RFC 9110 (306, 418), from other RFCs (451; 429 is kept: rate limiting is
    // what a chat backend answers most), or no status at all.
    for (unsigned code : {0u, 1u, 99u, 102u, 199u, 207u, 299u, 306u, 418u, 451u, 506u,
                          599u, 600u, 999u, 65535u, 4294967295u})
        CHECK(name(code) == "other");
    // Every code of the set, and nothing else, has a series of its own.
    std::set<std::string> names;
    for (unsigned code = 0; code < 1000; ++code) names.insert(name(code));
    CHECK(names.size() == metrics::http_codes.size() + 1);
    metrics::registry reg(types, 1);
    CHECK(reg.Collect()[static_cast<std::size_t>(metrics::family::http_requests)].metric.size() ==
          47);
}

TEST_CASE("user messages count under wsproxy_user_messages_total and, for one release, under "
          "the deprecated wsproxy_broadcasts_total",
          "[metrics]") {
    metrics::registry reg(types, 2);
    reg.at(0).count(metrics::proxy_stat::user_messages, 0);
    reg.at(1).count(metrics::proxy_stat::user_messages, 1, 2);
    reg.at(1).count(metrics::proxy_stat::broadcasts, 0);  // the old enumerator still counts
    CHECK(reg.value("wsproxy_user_messages_total", {{"registered", "true"}}) == 2);
    CHECK(reg.value("wsproxy_user_messages_total", {{"registered", "false"}}) == 2);
    CHECK(reg.value("wsproxy_broadcasts_total", {{"registered", "true"}}) == 2);
    CHECK(reg.value("wsproxy_broadcasts_total", {{"registered", "false"}}) == 2);
    const auto text = reg.render();
    CHECK(has_line(text, R"(wsproxy_user_messages_total{registered="false"} 2)"));
    CHECK(has_line(text, R"(wsproxy_broadcasts_total{registered="false"} 2)"));
    CHECK(text.find("# HELP wsproxy_broadcasts_total Deprecated") != std::string::npos);
}

TEST_CASE("the rules reload gauges keep the last outcome until the next one", "[metrics]") {
    metrics::registry reg(types, 1);
    CHECK(reg.value("wsproxy_rules_last_reload_success") == 0);  // nothing loaded yet
    CHECK(reg.value("wsproxy_rules_last_reload_timestamp_seconds") == 0);
    reg.rules_loaded(true, 1700000000.5);
    CHECK(reg.value("wsproxy_rules_last_reload_success") == 1);
    CHECK(reg.value("wsproxy_rules_last_reload_timestamp_seconds") == 1700000000.5);
    reg.rules_loaded(false, 1700000100);
    CHECK(reg.value("wsproxy_rules_last_reload_success") == 0);
    CHECK(reg.value("wsproxy_rules_last_reload_success") == 0);  // stays: it is a state
    CHECK(reg.value("wsproxy_rules_last_reload_timestamp_seconds") == 1700000100);
    CHECK(has_line(reg.render(), "wsproxy_rules_last_reload_success 0"));
    reg.rules_loaded(true, 1700000200);
    CHECK(reg.value("wsproxy_rules_last_reload_success") == 1);
    CHECK(has_line(reg.render(), "wsproxy_rules_last_reload_timestamp_seconds 1700000200"));
}

TEST_CASE("the processing-time histogram fills le buckets cumulatively with sum and count",
          "[metrics]") {
    metrics::registry reg(types, 2);
    reg.at(0).observe_frame_processing(50);         // <= 1e-7
    reg.at(0).observe_frame_processing(100);        // == 1e-7: le is inclusive
    reg.at(1).observe_frame_processing(3'000);      // <= 5e-6
    reg.at(1).observe_frame_processing(2'000'000);  // beyond 1e-3: only +Inf

    const std::string h = "wsproxy_frame_processing_seconds";
    CHECK(reg.value(h + "_count") == 4);
    CHECK(reg.value(h + "_sum") == Approx(2'003'150e-9));
    CHECK(reg.value(h + "_bucket", {{"le", "1e-07"}}) == 2);
    CHECK(reg.value(h + "_bucket", {{"le", "2.5e-06"}}) == 2);
    CHECK(reg.value(h + "_bucket", {{"le", "5e-06"}}) == 3);
    CHECK(reg.value(h + "_bucket", {{"le", "0.001"}}) == 3);
    CHECK(reg.value(h + "_bucket", {{"le", "+Inf"}}) == 4);

    const auto text = reg.render();
    CHECK(has_line(text, h + "_bucket{le=\"1e-07\"} 2"));
    CHECK(has_line(text, h + "_bucket{le=\"2.5e-07\"} 2"));
    CHECK(has_line(text, h + "_bucket{le=\"5e-06\"} 3"));
    CHECK(has_line(text, h + "_bucket{le=\"+Inf\"} 4"));
    CHECK(has_line(text, h + "_count 4"));
}

TEST_CASE("connections_active follows opens and closes even across shards", "[metrics]") {
    metrics::registry reg(types, 2);
    reg.at(0).connection_opened();
    reg.at(0).connection_opened();
    reg.at(1).connection_opened();
    reg.at(0).connection_closed();
    reg.at(1).connection_closed();
    reg.at(1).connection_closed();  // closed on another shard than it was opened on
    CHECK(reg.value("wsproxy_connections_active") == 0);
    CHECK(reg.value("wsproxy_connections_total") == 3);
    reg.at(1).connection_opened();
    CHECK(reg.value("wsproxy_connections_active") == 1);
    CHECK(has_line(reg.render(), "wsproxy_connections_active 1"));
}

TEST_CASE("registry-level gauges report the tap subscribers and the build", "[metrics]") {
    metrics::registry reg(types, 1, "0.1.0");
    reg.set_tap_subscribers(3);
    CHECK(reg.value("wsproxy_tap_subscribers") == 3);
    CHECK(reg.value("wsproxy_build_info", {{"version", "0.1.0"}}) == 1);
    CHECK(has_line(reg.render(), R"(wsproxy_build_info{version="0.1.0"} 1)"));
}

TEST_CASE("value() rejects names and labels the catalog does not have", "[metrics]") {
    metrics::registry reg(types, 1);
    CHECK_THROWS_AS(reg.value("wsproxy_nope_total"), std::invalid_argument);
    CHECK_THROWS_AS(reg.value("wsproxy_frames_total", {{"colour", "red"}}), std::invalid_argument);
    CHECK_THROWS_AS(reg.value("wsproxy_frames_total", {{"type", "nope"}}), std::invalid_argument);
    CHECK_THROWS_AS(reg.value("wsproxy_frame_processing_seconds"), std::invalid_argument);
    CHECK_THROWS_AS(reg.value("wsproxy_frame_processing_seconds_bucket", {{"le", "0.5"}}),
                    std::invalid_argument);
    CHECK_THROWS_AS(reg.at(1), std::out_of_range);
}

TEST_CASE("message types that would duplicate a series are refused at construction", "[metrics]") {
    CHECK_THROWS_AS(metrics::registry({"ping", "ping"}, 1), std::invalid_argument);
    CHECK_THROWS_AS(metrics::registry({"other"}, 1), std::invalid_argument);
    CHECK_THROWS_AS(metrics::registry({""}, 1), std::invalid_argument);
    CHECK_NOTHROW(metrics::registry({}, 0));
}

TEST_CASE("the catalog lists every family name once, with the wsproxy_ prefix", "[metrics]") {
    std::set<std::string_view> names(metrics::family_names.begin(), metrics::family_names.end());
    CHECK(names.size() == metrics::family_count);
    for (auto n : metrics::family_names) {
        INFO(n);
        // The standard process metrics keep the names every Prometheus client gives them.
        CHECK((n.starts_with("wsproxy_") || n.starts_with("process_")));
    }
    for (const auto& f : metrics::catalog) {
        INFO(f.name);
        const bool counter = f.type == metrics::metric_type::counter;
        CHECK(f.name.ends_with("_total") == counter);
        CHECK_FALSE(f.help.empty());
    }
    CHECK(names.count("wsproxy_frames_total") == 1);
    CHECK(names.count("wsproxy_frame_processing_seconds") == 1);
}

TEST_CASE("the rendered text is valid Prometheus exposition", "[metrics]") {
    metrics::registry reg(types, 2, "0.1.0");
    reg.at(0).count(rules::stat::frames, 3, 7);
    reg.at(1).observe_frame_processing(1'500);
    const auto text = reg.render();

    const std::regex help(R"(# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .+)");
    const std::regex type(R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram))");
    const std::regex sample(
        R"re(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*")*\})? (\S+))re");
    std::istringstream in(text);
    std::string current;  // family of the last TYPE line
    std::set<std::string> typed;
    std::size_t samples = 0;
    for (std::string line; std::getline(in, line);) {
        INFO(line);
        std::smatch m;
        if (line.empty()) continue;
        if (std::regex_match(line, m, help)) continue;
        if (std::regex_match(line, m, type)) {
            current = m[1];
            CHECK(typed.insert(current).second);
            continue;
        }
        REQUIRE(std::regex_match(line, m, sample));
        const std::string name = m[1];
        CHECK(name.rfind(current, 0) == 0);  // a sample belongs to the family declared above
        const std::string value = m[4];
        if (value != "+Inf" && value != "-Inf" && value != "NaN") {
            char* end = nullptr;
            std::strtod(value.c_str(), &end);
            CHECK(*end == '\0');
        }
        ++samples;
    }
    CHECK(typed.size() == metrics::family_count);
    CHECK(samples > 60);
}

TEST_CASE("a scrape running while workers count sees monotonic counters and the exact total",
          "[metrics]") {
    constexpr unsigned workers = 3;
    constexpr int per_worker = 20000;
    metrics::registry reg(types, workers);
    std::atomic<bool> start{false};
    std::vector<std::thread> threads;
    for (unsigned i = 0; i < workers; ++i) {
        threads.emplace_back([&reg, &start, i] {
            while (!start.load(std::memory_order_acquire)) std::this_thread::yield();
            auto& s = reg.at(i);
            for (int k = 0; k < per_worker; ++k) {
                s.count(rules::stat::frames, rules::frame_label(1, k % 6, 3));
                s.count(metrics::proxy_stat::bytes, 1, 10);
                s.observe_frame_processing(static_cast<std::uint64_t>(k % 5000));
                if (k % 100 == 0) s.connection_opened();
                if (k % 100 == 50) s.connection_closed();
            }
        });
    }
    start.store(true, std::memory_order_release);

    double last = 0;
    int scrapes = 0;
    bool done = false;
    while (!done) {
        // Checked before scraping, so one more scrape follows the last write.
        done = reg.value("wsproxy_frames_total") == workers * per_worker;
        const double now = reg.value("wsproxy_frames_total");
        CHECK(now >= last);
        CHECK(reg.value("wsproxy_connections_active") >= 0);  // one cell per shard: never negative
        last = now;
        const auto text = reg.render();
        CHECK(text.find("wsproxy_bytes_total") != std::string::npos);
        ++scrapes;
    }
    for (auto& t : threads) t.join();

    CHECK(reg.value("wsproxy_frames_total") == workers * per_worker);
    CHECK(reg.value("wsproxy_bytes_total", {{"direction", "server_to_client"}}) ==
          10.0 * workers * per_worker);
    CHECK(reg.value("wsproxy_frame_processing_seconds_count") == workers * per_worker);
    CHECK(reg.value("wsproxy_connections_active") == 0);
    CHECK(reg.value("wsproxy_connections_total") == workers * per_worker / 100);
    CHECK(scrapes >= 1);
}
