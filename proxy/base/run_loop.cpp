#include "proxy/base/run_loop.hpp"

#include <exception>
#include <string>

#include "proxy/base/log.hpp"

namespace wsproxy {

std::size_t run_loop(boost::asio::io_context& ioc, std::string_view thread) {
    std::size_t failures = 0;
    for (;;) {
        try {
            ioc.run();  // Asio allows run() again after a handler's exception, no restart()
            return failures;
        } catch (const std::exception& e) {
            ++failures;
            log::write(log::level::error, "handler_failed",
                       {{"thread", std::string(thread)},
                        {"error", e.what()},
                        {"hint", "the connection being served may be left open until its "
                                 "timeouts; please report this with the log around it"}});
        } catch (...) {
            ++failures;
            log::write(log::level::error, "handler_failed",
                       {{"thread", std::string(thread)}, {"error", "unknown exception"}});
        }
    }
}

}  // namespace wsproxy
