#include "proxy/net/edge_wait.hpp"

#if WSPROXY_EDGE_WAIT
#include <cstdint>

namespace wsproxy::edge_wait_detail {
namespace {

// Three private members of Asio 1.81's epoll reactor, reached the one way the language
// allows: an explicit instantiation may name them ([temp.spec.general]/6), and it may
// appear only once in a program, hence this file. The header checks the exact Boost
// version; any other falls back to async_wait and never compiles this.
template <class Tag, typename Tag::type Member>
struct expose {
    friend typename Tag::type member(Tag) { return Member; }
};
struct epoll_fd {
    using type = int ad::epoll_reactor::*;
    friend type member(epoll_fd);
};
struct registered_events {
    using type = std::uint32_t ad::epoll_reactor::descriptor_state::*;
    friend type member(registered_events);
};
struct descriptor_mutex {
    using type = ad::conditionally_enabled_mutex ad::epoll_reactor::descriptor_state::*;
    friend type member(descriptor_mutex);
};

template struct expose<epoll_fd, &ad::epoll_reactor::epoll_fd_>;
template struct expose<registered_events, &ad::epoll_reactor::descriptor_state::registered_events_>;
template struct expose<descriptor_mutex, &ad::epoll_reactor::descriptor_state::mutex_>;

}  // namespace

void watch_hangup(ad::epoll_reactor& reactor, int fd, ad::epoll_reactor::descriptor_state* d) {
    auto& registered = d->*member(registered_events{});
    if (registered == 0 || (registered & EPOLLRDHUP)) return;
    ad::conditionally_enabled_mutex::scoped_lock lock(d->*member(descriptor_mutex{}));
    epoll_event ev{};
    ev.events = registered | EPOLLRDHUP;
    ev.data.ptr = d;
    // Refused (the descriptor is closing): the waits still work, only without RDHUP, and
    // the next wait tries again.
    if (epoll_ctl(reactor.*member(epoll_fd{}), EPOLL_CTL_MOD, fd, &ev) == 0) registered = ev.events;
}

}  // namespace wsproxy::edge_wait_detail
#endif
