// Why the proxy injected or hid a frame (issue 16 item 1): every inject and hide action
// carries its reason (frame, url_grace, rest_session, rejoin, single_chat_leave, isolation)
// and what caused it, and the log lines say the same.
#include <catch2/catch.hpp>

#include "rules_script.hpp"

using namespace wsproxy::rules;
using namespace wsproxy::rules::testing;
namespace f = wsproxy::rules::testing::frames;

namespace {


void ready(script& s, millis at = 100) {
    s.server(f::established("c-1"), 10);
    s.server(f::ready("c-1"), at);
}

// The one action of kind `k` in the last output.
const action& only(const script& s, action::kind k) {
    const action* found = nullptr;
    for (const auto& a : s.out)
        if (a.what == k) {
            REQUIRE(found == nullptr);
            found = &a;
        }
    REQUIRE(found != nullptr);
    return *found;
}

const action& log_event(const script& s, const std::string& event) {
    for (const auto& a : s.out)
        if (a.what == action::kind::log && a.event == event) return a;
    FAIL("no log " + event);
    return s.out[0];
}

}  // namespace

TEST_CASE("a join for a frame naming an unjoined chat says frame and the frame's type",
          "[engine][reasons]") {
    script s;
    s.open("/ws/chat", 0);
    ready(s);
    s.client(f::send(X), 200);
    const action& inj = only(s, action::kind::inject);
    CHECK(inj.why == inject_reason::frame);
    CHECK(inj.cause == "send_message");
    CHECK(log_event(s, "join_injected").fields["reason"] == "frame");
    // Its answer is hidden for the same reason.
    s.server(f::joined(X), 210);
    const action& hide = only(s, action::kind::hide);
    CHECK(hide.why == inject_reason::frame);
    CHECK(hide.cause == "send_message");
    CHECK(log_event(s, "chat_joined").fields["reason"] == "frame");
}

TEST_CASE("a join of the URL's chat after the grace period says url_grace", "[engine][reasons]") {
    script s;
    s.open("/ws/chat?chat_id=" + X, 0);
    ready(s);
    s.timer(350);
    const action& inj = only(s, action::kind::inject);
    CHECK(inj.why == inject_reason::url_grace);
    CHECK(inj.cause.empty());
    s.server(f::joined(X), 360);
    CHECK(only(s, action::kind::hide).why == inject_reason::url_grace);
}

TEST_CASE("a join for a REST message names the request, also when queued until ready",
          "[engine][reasons][rest]") {
    const std::string request = "POST /api/v1/chats/" + X + "/messages";
    script s;
    s.open("/ws/chat", 0);
    s.out.clear();
    CHECK_FALSE(s.eng.on_join_request(X, 50, s.out, request));  // before connection_ready
    CHECK(s.out.empty());
    ready(s);
    const action& inj = only(s, action::kind::inject);
    CHECK(inj.why == inject_reason::rest_session);
    CHECK(inj.cause == request);
    const action& log = log_event(s, "join_injected");
    CHECK(log.fields["reason"] == "rest_session");
    CHECK(log.fields["request"] == request);
    s.server(f::joined(X), 120);
    CHECK(only(s, action::kind::hide).cause == request);
}

TEST_CASE("a rejoin names the earlier connection that had joined the chat", "[engine][reasons]") {
    script s;
    s.out.clear();
    open_info info{"/ws/chat", {{"cookie", "mip_session=secret"}}, {Y, X}, {17, 12}};
    s.eng.on_open(info, 0, s.out);
    ready(s);
    s.timer(350);
    const action& inj = only(s, action::kind::inject);
    CHECK(inj.why == inject_reason::rejoin);
    CHECK(inj.cause == "17");
    const action& log = log_event(s, "join_injected");
    CHECK(log.fields["reason"] == "rejoin");
    CHECK(log.fields["previous_conn"] == 17);
}

TEST_CASE("single_chat's leave names the chat joined instead, and its hidden answer too",
          "[engine][reasons]") {
    config c;
    c.single_chat = true;
    script s(c);
    s.open("/ws/chat", 0);
    ready(s);
    s.client(f::join(X), 110);
    s.server(f::joined(X), 120);
    s.client(f::join(Y), 200);
    const action& leave = only(s, action::kind::inject);
    CHECK(leave.why == inject_reason::single_chat_leave);
    CHECK(leave.cause == Y);
    const action& log = log_event(s, "leave_injected");
    CHECK(log.fields["reason"] == "single_chat_leave");
    CHECK(log.fields["joining"] == Y);
    s.server(f::left(X), 210);
    const action& hide = only(s, action::kind::hide);
    CHECK(hide.why == inject_reason::single_chat_leave);
    CHECK(hide.cause == Y);
}

TEST_CASE("a broadcast dropped by isolation_enforce says isolation; forwarded frames say nothing",
          "[engine][reasons]") {
    config c;
    c.isolation_enforce = true;
    script s(c);
    s.open("/ws/chat", 0);
    ready(s);
    s.server(f::broadcast("response_chunk", X), 200);
    CHECK(only(s, action::kind::hide).why == inject_reason::isolation);
    s.client(f::join(Y), 210);
    CHECK(only(s, action::kind::forward).why == inject_reason::none);
    CHECK(std::string(reason_name(inject_reason::none)).empty());
}
