#pragma once
// How far the peer has read: the kernel's count of our bytes it acknowledged.
#include <cstdint>

namespace wsproxy {

// The bytes sent on TCP socket `fd` that its peer acknowledged (TCP_INFO's
// tcpi_bytes_acked, Linux 4.1+): it grows while the peer takes data and stops when
// the peer stops reading and its receive buffer is full. -1 when the kernel cannot say.
std::int64_t tcp_bytes_acked(int fd);

}  // namespace wsproxy
