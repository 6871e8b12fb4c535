// wsproxy-microbench: the per-frame path without I/O (Google Benchmark).
//
//   classify/*          rules::classify on its own (the public entry, which compiles the paths
//                       per call, and the engine's internal entry with the paths compiled once)
//   engine_on_frame/*   classification plus the whole rule chain, as ws_pair calls it, for a
//                       256-byte send_message from the client after the chat is joined
//                       (the steady state), and for a server response_chunk
//   metrics/*           the shard increments the proxy does per frame
//   inject/*            building the join_chat frame the proxy injects
//   tap_publish         the worker's part of the tap history per relayed frame: hub::publish()
//                       of a forwarded send_message (36-character client_id and chat_id) into
//                       the worker's batch, its hand-over every 256 events included
//   tap_history_add     the admin thread's part per event: history::add() of a batch of 256
//                       such events over 64 connections, the batch freed after
//
// Target (issue 6): engine_on_frame for a 256-byte frame <= 300 ns median. Run with
// --benchmark_repetitions=5 --benchmark_report_aggregates_only=true to get the median.
#include <benchmark/benchmark.h>

#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>
#include <vector>

#include "metrics/registry.hpp"
#include "proxy/admin/history.hpp"
#include "proxy/admin/tap.hpp"
#include "rules/detail.hpp"
#include "rules/engine.hpp"

namespace {

using namespace wsproxy;

const std::string chat_id = "8d1d5bfc-3d5e-4c1a-9f77-2a7c4c1f0b11";
const std::string client_id = "4f0c2a9e-7b1d-4c3a-8e5f-1a2b3c4d5e6f";

// A send_message frame of exactly `size` bytes, like wsproxy-bench sends.
std::string send_message_frame(std::size_t size) {
    const std::string head =
        R"({"type":"send_message","data":{"chat_id":")" + chat_id + R"(","content":")";
    const std::string tail = "\"}}";
    std::string content(size > head.size() + tail.size() ? size - head.size() - tail.size() : 0,
                        'x');
    return head + content + tail;
}

std::string response_chunk_frame() {
    return R"({"type":"response_chunk","data":{"chat_id":")" + chat_id +
           R"(","response_id":"0b6f1d2e-2f6a-4a59-8f0e-6c1f4f5a9e01","index":3,"content":"Hello, )"
           R"(this is one streamed piece of the answer."},"message_id":"5b0c1e7a-0d4b-4b7e-9a53-)"
           R"(1f3e8c2d7a40","chat_id":")" +
           chat_id + R"(","tenant_id":"miptech-company","event_ts":1754045352545})";
}

// An engine past the handshake: established, ready, and (fix mode) the chat joined by an
// injected join_chat that the backend acknowledged.
struct primed_engine {
    explicit primed_engine(rules::mode m) {
        auto c = std::make_shared<rules::config>();
        c->run_mode = m;
        cfg = c;
        eng = std::make_unique<rules::engine>(cfg);
        rules::actions out;
        eng->on_open({"/ws/chat?tenant_id=miptech-company", {}}, 0, out);
        const auto server = rules::direction::server_to_client;
        eng->on_frame(server,
                      R"({"type":"connection_established","data":{"client_id":")" + client_id +
                          R"(","tenant_id":"miptech-company"},"chat_id":null})",
                      true, 1, out);
        eng->on_frame(server, R"({"type":"connection_ready","data":{"client_id":")" + client_id + R"("}})",
                      true, 2, out);
        eng->on_frame(rules::direction::client_to_server, send_message_frame(256), true, 3, out);
        eng->on_frame(server,
                      R"({"type":"chat_joined","data":{"chat_id":")" + chat_id +
                          R"(","success":true}})",
                      true, 4, out);
        out.clear();
    }
    std::shared_ptr<const rules::config> cfg;
    std::unique_ptr<rules::engine> eng;
};

void BM_classify_public(benchmark::State& state) {
    const rules::config cfg;
    const std::string frame = send_message_frame(static_cast<std::size_t>(state.range(0)));
    rules::frame_info fi;
    for (auto _ : state) {
        rules::classify(cfg, frame, true, fi);
        benchmark::DoNotOptimize(fi.chat_id);
    }
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(frame.size()));
}
BENCHMARK(BM_classify_public)->Arg(256)->Arg(4096);

void BM_classify_compiled(benchmark::State& state) {
    const rules::config cfg;
    const rules::detail::path_index paths(cfg);
    const std::string frame = send_message_frame(static_cast<std::size_t>(state.range(0)));
    rules::frame_info fi;
    for (auto _ : state) {
        rules::detail::classify(paths, cfg, frame, true, fi);
        benchmark::DoNotOptimize(fi.chat_id);
    }
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(frame.size()));
}
BENCHMARK(BM_classify_compiled)->Arg(256)->Arg(4096);

void BM_engine_on_frame_client(benchmark::State& state) {
    primed_engine p(state.range(1) ? rules::mode::fix : rules::mode::observe);
    const std::string frame = send_message_frame(static_cast<std::size_t>(state.range(0)));
    rules::actions out;
    rules::millis now = 10;
    for (auto _ : state) {
        out.clear();
        p.eng->on_frame(rules::direction::client_to_server, frame, true, ++now, out);
        benchmark::DoNotOptimize(out.begin());
    }
    state.counters["actions"] = static_cast<double>(out.size());
}
BENCHMARK(BM_engine_on_frame_client)
    ->ArgNames({"bytes", "fix"})
    ->Args({256, 1})
    ->Args({256, 0})
    ->Args({4096, 1});

void BM_engine_on_frame_server_chunk(benchmark::State& state) {
    primed_engine p(rules::mode::fix);
    const std::string frame = response_chunk_frame();
    rules::actions out;
    rules::millis now = 10;
    for (auto _ : state) {
        out.clear();
        p.eng->on_frame(rules::direction::server_to_client, frame, true, ++now, out);
        benchmark::DoNotOptimize(out.begin());
    }
    state.counters["bytes"] = static_cast<double>(frame.size());
}
BENCHMARK(BM_engine_on_frame_server_chunk);

// The first frame of a connection: classification, the chain, and an injected join_chat.
void BM_engine_first_frame_injects(benchmark::State& state) {
    auto cfg = std::make_shared<const rules::config>();
    const std::string frame = send_message_frame(256);
    rules::actions out;
    for (auto _ : state) {
        state.PauseTiming();
        rules::engine eng(cfg);
        eng.on_frame(rules::direction::server_to_client,
                     R"({"type":"connection_ready","data":{"client_id":"c1"}})", true, 1, out);
        out.clear();
        state.ResumeTiming();
        eng.on_frame(rules::direction::client_to_server, frame, true, 2, out);
        benchmark::DoNotOptimize(out.begin());
    }
}
BENCHMARK(BM_engine_first_frame_injects);

void BM_metrics_count_frame(benchmark::State& state) {
    const rules::config cfg;
    metrics::registry reg(cfg.message_types, 1, "bench");
    metrics::shard& s = reg.at(0);
    const auto label = rules::frame_label(0, 7, static_cast<int>(cfg.message_types.size()));
    for (auto _ : state) {
        s.count(rules::stat::frames, label);
        benchmark::ClobberMemory();
    }
}
BENCHMARK(BM_metrics_count_frame);

// What ws_pair does per relayed frame: the frame count, the byte count, the processing time.
void BM_metrics_per_frame_set(benchmark::State& state) {
    const rules::config cfg;
    metrics::registry reg(cfg.message_types, 1, "bench");
    metrics::shard& s = reg.at(0);
    const auto label = rules::frame_label(0, 7, static_cast<int>(cfg.message_types.size()));
    std::uint64_t ns = 150;
    for (auto _ : state) {
        s.count(rules::stat::frames, label);
        s.count(metrics::proxy_stat::bytes, 0, 256);
        s.observe_frame_processing(ns);
        ns = (ns * 7 + 13) % 100000;
        benchmark::ClobberMemory();
    }
}
BENCHMARK(BM_metrics_per_frame_set);

void BM_inject_build_join_chat(benchmark::State& state) {
    const rules::config cfg;
    for (auto _ : state) {
        std::string f = rules::detail::build_frame(cfg, cfg.join_chat, chat_id);
        benchmark::DoNotOptimize(f.data());
    }
}
BENCHMARK(BM_inject_build_join_chat);

// Nobody watches, the history is on (the defaults): the event goes into the worker's batch,
// which is posted to the admin io_context every 256 events. That context is drained, untimed,
// after each hand-over, so the batch's freeing on the admin thread is not counted here.
void BM_tap_publish(benchmark::State& state) {
    primed_engine p(rules::mode::fix);
    const std::string frame = send_message_frame(256);
    metrics::registry reg(p.cfg->message_types, 1, "bench");
    boost::asio::io_context admin, worker;
    tap::hub hub(admin, reg, tap::hub_options{});
    hub.attach_workers({&worker});
    rules::actions out;
    p.eng->on_frame(rules::direction::client_to_server, frame, true, 10, out);
    std::size_t n = 0;
    for (auto _ : state) {
        hub.publish(7, *p.eng, out, rules::direction::client_to_server, frame, true, reg.at(0));
        if (++n % 256 == 0) {
            state.PauseTiming();
            admin.poll();
            admin.restart();
            state.ResumeTiming();
        }
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_tap_publish);

// The admin thread's share: what hub::deliver() does per event for the history while nobody
// watches (add, then the batch is freed). The batch is built untimed, as the worker built it.
void BM_tap_history_add(benchmark::State& state) {
    tap::history h(tap::history_options{});
    constexpr std::size_t batch = 256;
    std::int64_t now = 1'700'000'000'000;
    std::uint64_t conn = 0;
    for (auto _ : state) {
        state.PauseTiming();
        auto events = std::make_unique<std::vector<tap::frame_event>>();
        events->reserve(batch);
        for (std::size_t i = 0; i < batch; ++i) {
            tap::frame_event e;
            e.time_ms = ++now;
            e.conn = ++conn % 64;
            e.client_id = client_id;
            e.chat_id = chat_id;
            e.type = "send_message";
            e.size = 256;
            events->push_back(std::move(e));
        }
        state.ResumeTiming();
        for (auto& e : *events) h.add(std::move(e));
        events.reset();
    }
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(batch));
    benchmark::DoNotOptimize(h.size());
}
BENCHMARK(BM_tap_history_add);

}  // namespace

BENCHMARK_MAIN();
