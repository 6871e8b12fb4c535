// The shared-state client (proxy/cluster) against a real redis-server that the test starts on
// a free loopback port without persistence, kills and starts again: up, down (local-only,
// counted once), reconnected, and its answers while down. The whole multi-pod flow is
// tests/e2e/shared_state_test.sh.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "metrics/registry.hpp"
#include "proxy/base/options.hpp"
#include "proxy/cluster/client.hpp"
#include "proxy/cluster/redis_url.hpp"
#include "proxy_fixture.hpp"

extern char** environ;

namespace {

using namespace wsproxy;

unsigned short free_port() {
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::acceptor a(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
    return a.local_endpoint().port();
}

// Waits for an event, bounded at 10 s (a redis-server's start, a reconnect's backoff).
bool eventually(const std::function<bool()>& done) {
    return relay_test::eventually(done, std::chrono::seconds(10));
}

// redis-server in the foreground on 127.0.0.1:port, no RDB, no AOF; killed by its owner.
class redis_process {
public:
    explicit redis_process(unsigned short port) : port_(port) { start(); }
    ~redis_process() { kill(); }
    void start() {
        const std::string p = std::to_string(port_);
        std::vector<std::string> args{"redis-server", "--port", p, "--bind", "127.0.0.1",
                                      "--save", "", "--appendonly", "no", "--loglevel", "warning"};
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        // Its start-up banner would bury the test's own output.
        posix_spawn_file_actions_t quiet;
        posix_spawn_file_actions_init(&quiet);
        posix_spawn_file_actions_addopen(&quiet, 1, "/dev/null", O_WRONLY, 0);
        const int spawned = posix_spawnp(&pid_, "redis-server", &quiet, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&quiet);
        REQUIRE(spawned == 0);
    }
    void kill() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }

private:
    unsigned short port_;
    pid_t pid_{-1};
};

std::vector<std::string> types() { return {"send_message", "join_chat"}; }

}  // namespace

TEST_CASE("parse_redis_url reads host, port, user and database and refuses passwords",
          "[shared_state]") {
    auto u = cluster::parse_redis_url("redis://cache.local:6380/3");
    CHECK(u.host == "cache.local");
    CHECK(u.port == 6380);
    CHECK(u.db == 3);
    CHECK_FALSE(u.tls);
    u = cluster::parse_redis_url("rediss://proxy@[::1]");
    CHECK(u.tls);
    CHECK(u.host == "::1");
    CHECK(u.port == 6379);
    CHECK(u.user == "proxy");
    CHECK_THROWS_WITH(cluster::parse_redis_url("redis://u:secret@h:1"),
                      Catch::Contains("--shared-state-password-file"));
    CHECK_THROWS_WITH(cluster::parse_redis_url("http://h:1"), Catch::Contains("redis://"));
    CHECK_THROWS_WITH(cluster::parse_redis_url("redis://h:1/99"), Catch::Contains("0 to 15"));
    CHECK_THROWS_WITH(cluster::parse_redis_url("redis://:1"), Catch::Contains("no host"));
}

TEST_CASE("the shared-state client goes local-only while redis-server is gone and reconnects",
          "[shared_state]") {
    const auto port = free_port();
    redis_process redis(port);
    metrics::registry reg(types(), 1);
    cluster_options o;
    o.url = "redis://127.0.0.1:" + std::to_string(port);
    o.pod_id = "pod-test";
    o.timeout = 0.5;
    cluster::client c(o, reg, 600);
    c.start({});
    const auto up = [&] { return reg.value("wsproxy_shared_state_up") == 1; };
    const auto degraded = [&] { return reg.value("wsproxy_shared_state_degraded_total"); };
    // redis-server may take a moment to listen: the first attempts fail and are retried.
    REQUIRE(eventually(up));
    CHECK(c.up());

    c.session_opened("cookie-1");
    c.remember_chat("cookie-1", "chat-1", 16);
    // Read back through a lookup, as a socket opening on another pod would.
    REQUIRE(eventually([&] {
        std::promise<cluster::client::chat_list> p;
        auto f = p.get_future();
        c.lookup_chats("cookie-1", 600'000, 16,
                       [&p](cluster::client::chat_list l) { p.set_value(std::move(l)); });
        auto l = f.get();
        return l.size() == 1 && l[0].first == "chat-1";
    }));

    // Counted already if redis-server was not listening yet at the first attempt.
    const double before = degraded();
    redis.kill();
    REQUIRE(eventually([&] { return !up(); }));
    CHECK_FALSE(c.up());
    CHECK(degraded() == before + 1);
    // Down: answered at once, as if no other pod existed.
    std::promise<std::size_t> asked;
    c.request_joins("cookie-1", "chat-1", "POST /x", 500,
                    [&asked](bool, std::size_t pods) { asked.set_value(pods); });
    CHECK(asked.get_future().get() == 0);
    CHECK(reg.value("wsproxy_shared_state_operations_total",
                    {{"op", "join_request"}, {"result", "skipped"}}) == 1);

    redis.start();
    REQUIRE(eventually(up));
    // Failed retries while it was down are not new outages.
    CHECK(degraded() == before + 1);
    CHECK(reg.value("wsproxy_shared_state_operations_total",
                    {{"op", "connect"}, {"result", "ok"}}) == 2);
    c.stop();
}
