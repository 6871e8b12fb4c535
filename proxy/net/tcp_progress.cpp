// Its own file: <linux/tcp.h> has the full tcp_info but clashes with glibc's
// <netinet/tcp.h>, which Asio includes.
#include "proxy/net/tcp_progress.hpp"

#include <cstddef>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace wsproxy {

std::int64_t tcp_bytes_acked(int fd) {
    tcp_info info{};
    socklen_t size = sizeof info;
    if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &size) != 0) return -1;
    // An older kernel fills less of the struct than we asked for.
    if (size < offsetof(tcp_info, tcpi_bytes_acked) + sizeof info.tcpi_bytes_acked) return -1;
    return static_cast<std::int64_t>(info.tcpi_bytes_acked);
}

}  // namespace wsproxy
