// Rules reloads from several threads at once: SIGHUP's thread (here, a test thread calling
// reload_rules), the control thread's file watcher, and /metrics scrapes on the admin
// port reading the reload status. Run under TSan (scripts/test), an unsynchronised access
// to the reload status fails this test. It also checks the reload gauges end to end.
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "proxy_fixture.hpp"
#include "test_upstream.hpp"
#include "ws_test_client.hpp"

using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

struct rules_file {
    rules_file() {
        path = fs::temp_directory_path() /
               ("wsproxy-reload-race-" + std::to_string(::getpid()) + ".yaml");
        write(good);
    }
    ~rules_file() { fs::remove(path); }
    // Written aside, then renamed over: the way a ConfigMap update swaps the file.
    void write(const std::string& text) {
        const auto tmp = path.string() + ".new";
        std::ofstream(tmp) << text;
        fs::rename(tmp, path);
    }
    static constexpr const char* good = "mode: fix\n";
    static constexpr const char* bad = "mode: [broken\n";
    fs::path path;
};

double scrape_value(const std::string& body, const std::string& name) {
    auto at = body.find("\n" + name + " ");
    if (at == std::string::npos) return -1;
    return std::stod(body.substr(at + name.size() + 2));
}

double unix_now() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace

TEST_CASE("reloads from another thread race neither the file watcher nor /metrics scrapes",
          "[reload]") {
    test_upstream::server up;
    rules_file rules;
    auto opts = relay_test::proxy_options_for(up.port());
    opts.rules_file = rules.path.string();
    relay_test::running_proxy proxy(opts);
    const auto success = [&] { return metric(proxy, "wsproxy_rules_last_reload_success"); };
    const auto reloads = [&] {
        return metric(proxy, "wsproxy_rules_reload_total", {{"result", "success"}}) +
               metric(proxy, "wsproxy_rules_reload_total", {{"result", "failure"}});
    };
    CHECK(success() == 1);  // the rules loaded at start
    CHECK(metric(proxy, "wsproxy_rules_last_reload_timestamp_seconds") > unix_now() - 60);

    // Catch2's assertions are not thread-safe: the threads count, the test thread checks.
    std::atomic<bool> stop{false};
    std::atomic<int> scrapes{0};
    std::atomic<int> odd_values{0};
    std::atomic<int> wrong_results{0};
    std::thread scraper([&] {
        while (!stop.load()) {
            auto r = ws_test::http_request(proxy.admin_port(), boost::beast::http::verb::get,
                                           "/metrics");
            if (!r.ec && r.res.result_int() == 200) {
                const double s = scrape_value(r.res.body(), "wsproxy_rules_last_reload_success");
                if (s != 0 && s != 1) ++odd_values;
                ++scrapes;
            }
        }
    });

    // The "signal thread": every reload changes the file first, so the watcher (once a
    // second, on the control thread) finds it changed too and reloads on its own.
    int ours = 0;
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    bool watcher_reloaded = false;
    std::thread signaller([&] {
        for (int i = 0; std::chrono::steady_clock::now() < deadline; ++i) {
            const bool ok = i % 2 == 0;
            rules.write(ok ? rules_file::good : rules_file::bad);
            if (proxy.server->reload_rules() != ok) ++wrong_results;
            ++ours;
            // Leave the lock free most of the time, so that the watcher gets its turn.
            std::this_thread::sleep_for(3ms);
            rules.write(ok ? rules_file::bad : rules_file::good);  // for the watcher to find
            std::this_thread::sleep_for(3ms);
            if (reloads() > ours && scrapes.load() > 3) {
                watcher_reloaded = true;
                break;
            }
        }
    });
    signaller.join();
    stop = true;
    scraper.join();
    CHECK(watcher_reloaded);  // the watcher's reload ran concurrently with ours
    CHECK(scrapes.load() > 3);
    CHECK(odd_values.load() == 0);
    CHECK(wrong_results.load() == 0);

    // Then quiet: a bad file sets the gauge to 0, and it stays 0 while the bad file stays,
    // across the watcher's polls; a good file brings it back to 1.
    rules.write(rules_file::bad);
    CHECK_FALSE(proxy.server->reload_rules());
    const double failed_at = metric(proxy, "wsproxy_rules_last_reload_timestamp_seconds");
    CHECK(success() == 0);
    CHECK(failed_at > unix_now() - 60);
    CHECK(failed_at <= unix_now() + 1);
    std::this_thread::sleep_for(1200ms);  // at least one poll of the watcher
    CHECK(success() == 0);
    rules.write(rules_file::good);
    CHECK(relay_test::eventually([&] { return success() == 1; }, 5s));  // the watcher's reload
    CHECK(metric(proxy, "wsproxy_rules_last_reload_timestamp_seconds") >= failed_at);
}
