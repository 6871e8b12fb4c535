// The tap history's per-frame cost (proxy/admin/tap.hpp, history.hpp): recording a relayed
// frame allocates nothing per frame on the worker beyond the batch hand-over, and storing it
// allocates nothing on the admin thread once the rings are full; the rings keep their order.
#include <catch2/catch.hpp>

#include <boost/asio/io_context.hpp>
#include <string>

#include "allocations.hpp"
#include "metrics/registry.hpp"
#include "proxy/admin/history.hpp"
#include "proxy/admin/tap.hpp"
#include "rules_script.hpp"

using namespace wsproxy;
using rules::direction;
using rules::testing::script;
using rules::testing::X;
namespace f = rules::testing::frames;

namespace {

const std::string client_uuid = "4f0c2a9e-7b1d-4c3a-8e5f-1a2b3c4d5e6f";

// A connection past its greeting, the client's chat joined: its send_message frames are the
// steady state (36-character client_id and chat_id).
void greet(script& s) {
    s.open("/ws/chat?tenant_id=miptech-company", 0);
    s.server(f::established(client_uuid), 10);
    s.server(f::ready(client_uuid), 20);
    s.client(f::join(X), 30);
    s.server(f::joined(X), 40);
}

tap::frame_event event(std::uint64_t conn, std::int64_t time_ms) {
    tap::frame_event e;
    e.conn = conn;
    e.time_ms = time_ms;
    e.client_id = client_uuid;
    e.chat_id = X;
    e.type = std::string_view("send_message");
    return e;
}

std::vector<std::int64_t> times(const std::vector<tap::history::event_ptr>& events) {
    std::vector<std::int64_t> out;
    for (const auto* e : events) out.push_back(e->time_ms);
    return out;
}

}  // namespace

#if WSPROXY_COUNTS_ALLOCATIONS
TEST_CASE("publishing steady-state frames allocates only at the batch hand-over", "[unit][tap]") {
    script s;
    greet(s);
    metrics::registry reg(s.cfg->message_types, 1, "test");
    boost::asio::io_context admin, worker;
    tap::hub_options opts;  // the defaults: history on, nobody watching, batches of 256
    tap::hub hub(admin, reg, opts);
    hub.attach_workers({&worker});
    const std::string send = f::send(X, "hello");
    auto relay = [&](int i) {
        s.out.clear();
        s.eng.on_frame(direction::client_to_server, send, true, 100 + i, s.out);
        hub.publish(7, s.eng, s.out, direction::client_to_server, send, true, reg.at(0));
    };
    // Warm-up: the first batch's vector grows by doubling.
    for (int i = 0; i < static_cast<int>(opts.batch); ++i) relay(i);
    constexpr int handovers = 10;
    const auto before = testing::allocations();
    for (int i = 0; i < handovers * static_cast<int>(opts.batch); ++i) relay(i);
    const auto allocated = testing::allocations() - before;
    // Per hand-over of `batch` events: the next batch's vector (reserved whole) and the
    // handler posted to the admin thread (Asio's per-thread recycling cannot serve it: the
    // admin thread frees it). Nothing per frame: with std::string ids this was 2 per frame,
    // 5120 here.
    CHECK(allocated <= 2 * handovers);
    // And the events are what the frames were.
    admin.poll();
    const auto kept = hub.past().timeline(7);
    REQUIRE(kept.size() == opts.history_per_conn);
    CHECK(kept.back()->client_id == client_uuid);
    CHECK(kept.back()->chat_id == X);
    CHECK(kept.back()->type == "send_message");
    CHECK(hub.past().size() == opts.history);
}

TEST_CASE("a full history stores events without allocating", "[unit][tap]") {
    tap::history h(tap::history_options{});  // 2000 shared, 100 per connection
    std::int64_t now = 1000;
    for (int i = 0; i < 4000; ++i) h.add(event(static_cast<std::uint64_t>(i % 8), ++now));
    const auto before = testing::allocations();
    for (int i = 0; i < 4000; ++i) h.add(event(static_cast<std::uint64_t>(i % 8), ++now));
    CHECK(testing::allocations() - before == 0);
    CHECK(h.size() == 2000);
    CHECK(h.timeline(3).size() == 100);
}
#endif

TEST_CASE("the shared ring keeps event-time order and drops the oldest", "[unit][tap]") {
    tap::history_options o;
    o.ring = 3;
    tap::history h(o);
    for (std::int64_t t : {10, 30, 20}) h.add(event(1, t));  // a late batch's older event
    CHECK(times(h.recent({}, 10)) == std::vector<std::int64_t>{10, 20, 30});
    h.add(event(2, 15));  // falls between: the oldest (10) goes
    CHECK(times(h.recent({}, 10)) == std::vector<std::int64_t>{15, 20, 30});
    h.add(event(2, 5));  // older than all of a full ring: it is the one that falls out
    CHECK(times(h.recent({}, 10)) == std::vector<std::int64_t>{15, 20, 30});
    h.add(event(2, 40));
    h.add(event(2, 50));
    CHECK(times(h.recent({}, 2)) == std::vector<std::int64_t>{40, 50});
    CHECK(h.size() == 3);
}

TEST_CASE("a connection's ring keeps its newest events and goes with its closed record", "[unit][tap]") {
    tap::history_options o;
    o.ring = 2;
    o.per_conn = 3;
    o.closed_max = 1;
    tap::history h(o);
    h.add(event(1, 1));
    for (std::int64_t t = 2; t <= 6; ++t) h.add(event(2, t));  // busy neighbour
    CHECK(times(h.timeline(1)) == std::vector<std::int64_t>{1});
    CHECK(times(h.timeline(2)) == std::vector<std::int64_t>{4, 5, 6});
    tap::filter only1;
    only1.conns = {1};
    CHECK(times(h.recent(only1, 10)) == std::vector<std::int64_t>{1});
    h.closed(tap::closed_connection{1, 100, nlohmann::json::object()});
    CHECK(h.timeline(1).size() == 1);  // listed as closed: its timeline stays
    h.closed(tap::closed_connection{2, 101, nlohmann::json::object()});
    CHECK(h.timeline(1).empty());  // pushed out by a newer closed record, with its ring
    CHECK(h.timeline(2).size() == 3);
}
