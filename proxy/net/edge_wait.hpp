#pragma once
// Waiting for a plain socket to become readable at no system call per wait, the way nginx
// waits (bench/README.md, change 9).
//
// Asio 1.81 registers every socket once in its epoll set, edge-triggered, but each
// `async_wait(wait_read)` re-arms it with an epoll_ctl, and a speculative `async_read_some`
// counts the socket as drained only at EOF, so it pays an EAGAIN read after every message.
// An edge wait is a reactor operation of our own that tells the reactor, when the edge comes,
// that the socket will be drained: the reactor then queues the next wait without re-arming,
// and an edge that comes while no wait is queued makes the next wait complete at once (the
// reactor's "try speculative" flag, set by every edge, cleared by this operation).
//
// The contract is nginx's: after a wait completes, read until a read comes back short or
// with EAGAIN before waiting again; bytes already there bring no new edge. (A read that
// filled the buffer may have left more behind.)
//
// A short read does not show a FIN queued behind the bytes it returned: the next read would
// say EOF, but no new edge comes for it. nginx learns of it from EPOLLRDHUP; so does this:
// a socket's first wait adds EPOLLRDHUP to its registration, and a wait whose edge carried
// it (or EPOLLHUP, EPOLLERR) does not say "drained", so the next wait completes at once.
//
// Anywhere but Asio 1.81's epoll reactor (the one Debian 12 ships) this is an ordinary
// async_wait: the same contract holds, at one epoll_ctl per wait.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/version.hpp>
#include <memory>
#include <type_traits>
#include <utility>

#if BOOST_VERSION == 108100 && defined(BOOST_ASIO_HAS_EPOLL) && \
    !defined(BOOST_ASIO_HAS_IO_URING_AS_DEFAULT)
#include <boost/asio/detail/bind_handler.hpp>
#include <boost/asio/detail/handler_alloc_helpers.hpp>
#include <boost/asio/detail/handler_work.hpp>
#include <boost/asio/detail/reactor.hpp>
#include <boost/asio/detail/reactor_op.hpp>
#include <boost/asio/detail/socket_ops.hpp>
#include <sys/epoll.h>
#define WSPROXY_EDGE_WAIT 1
#else
#define WSPROXY_EDGE_WAIT 0
#endif

namespace wsproxy {

#if WSPROXY_EDGE_WAIT
namespace edge_wait_detail {
namespace ad = boost::asio::detail;
// Adds EPOLLRDHUP to a socket's registration, once (Asio re-arms with the same set). It
// needs three private members of the reactor, so it lives in edge_wait.cpp, the one place
// that reaches them.
void watch_hangup(ad::epoll_reactor& reactor, int fd, ad::epoll_reactor::descriptor_state* d);

// The events of a descriptor's latest readiness, which the reactor keeps in the protected
// task_result_ of the descriptor's (privately inherited) operation base while it performs
// the descriptor's operations.
struct ready_events : ad::scheduler_operation {
    static unsigned of(ad::epoll_reactor::descriptor_state* d) {
        // A C-style cast is the one cast that may convert to an inaccessible base.
        return ((ad::scheduler_operation*)d)->*(&ready_events::task_result_);
    }
};
}  // namespace edge_wait_detail
#endif

class edge_wait {
public:
    using executor_type = boost::asio::io_context::executor_type;
    using socket_type = boost::asio::basic_stream_socket<boost::asio::ip::tcp, executor_type>;

    // False where waits fall back to async_wait (and re-arm).
    static constexpr bool edge_triggered = WSPROXY_EDGE_WAIT;

    explicit edge_wait(boost::asio::io_context& ioc)
#if WSPROXY_EDGE_WAIT
        : reactor_(boost::asio::use_service<boost::asio::detail::reactor>(ioc))
#endif
    {
        (void)ioc;
    }

    // Calls `handler(error_code)` once `socket` may be readable, has reached EOF or failed,
    // or with operation_aborted when it is closed first. `socket` must belong to the
    // io_context this was made with.
    template <class Handler>
    void async_readable(socket_type& socket, Handler&& handler) {
#if WSPROXY_EDGE_WAIT
        start(socket, std::forward<Handler>(handler));
#else
        socket.async_wait(socket_type::wait_read, std::forward<Handler>(handler));
#endif
    }

#if WSPROXY_EDGE_WAIT
private:
    // A wait operation, as Asio's reactive_wait_op, whose perform says "drained".
    template <class Handler>
    class readable_op : public boost::asio::detail::reactor_op {
    public:
        BOOST_ASIO_DEFINE_HANDLER_PTR(readable_op);

        readable_op(Handler& handler, const executor_type& ex,
                    boost::asio::detail::epoll_reactor::descriptor_state* d)
            : reactor_op(boost::system::error_code(), &readable_op::do_perform,
                         &readable_op::do_complete),
              handler_(std::move(handler)),
              work_(handler_, ex),
              descriptor_(d) {}

        // "Drained" lets the reactor queue the next wait without a re-arm; not when the
        // peer's FIN (or an error) came, which a short read would not show.
        static status do_perform(reactor_op* base) {
            auto* o = static_cast<readable_op*>(base);
            unsigned events = edge_wait_detail::ready_events::of(o->descriptor_);
            return (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) ? done : done_and_exhausted;
        }

        static void do_complete(void* owner, boost::asio::detail::operation* base,
                                const boost::system::error_code&, std::size_t) {
            auto* o = static_cast<readable_op*>(base);
            ptr p = {std::addressof(o->handler_), o, o};
            boost::asio::detail::handler_work<Handler, executor_type> w(std::move(o->work_));
            // The handler leaves the operation's memory before the call (it may own the
            // object that frees it), as every Asio operation does.
            boost::asio::detail::binder1<Handler, boost::system::error_code> call(o->handler_,
                                                                                 o->ec_);
            p.h = std::addressof(call.handler_);
            p.reset();
            if (owner) w.complete(call, call.handler_);  // null: the io_context is being destroyed
        }

    private:
        Handler handler_;
        boost::asio::detail::handler_work<Handler, executor_type> work_;
        boost::asio::detail::epoll_reactor::descriptor_state* descriptor_;
    };

    // The socket's implementation (descriptor, reactor registration) is a protected member
    // of basic_socket; a member pointer named through a derived class reaches it legally.
    struct socket_access : socket_type {
        static auto& of(socket_type& s) { return s.*(&socket_access::impl_); }
    };

    template <class Handler>
    void start(socket_type& socket, Handler&& handler_in) {
        namespace ad = boost::asio::detail;
        using handler_type = std::decay_t<Handler>;
        using op = readable_op<handler_type>;
        handler_type handler(std::forward<Handler>(handler_in));
        auto& io = socket_access::of(socket);
        auto& impl = io.get_implementation();
        if (impl.reactor_data_)
            edge_wait_detail::watch_hangup(reactor_, impl.socket_, impl.reactor_data_);
        typename op::ptr p = {std::addressof(handler), op::ptr::allocate(handler), nullptr};
        p.p = new (p.v) op(handler, io.get_executor(), impl.reactor_data_);
        // As reactive_socket_service_base::start_op, but with the speculative attempt allowed:
        // that is what lets the reactor skip the re-arm.
        if ((impl.state_ & ad::socket_ops::non_blocking) ||
            ad::socket_ops::set_internal_non_blocking(impl.socket_, impl.state_, true, p.p->ec_))
            reactor_.start_op(ad::reactor::read_op, impl.socket_, impl.reactor_data_, p.p, false,
                              true);
        else
            reactor_.post_immediate_completion(p.p, false);
        p.v = p.p = nullptr;
    }

    boost::asio::detail::reactor& reactor_;
#endif
};

}  // namespace wsproxy
