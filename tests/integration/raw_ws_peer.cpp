#include "raw_ws_peer.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/write.hpp>

#include "proxy/ws/handshake.hpp"

namespace raw_ws_peer {

bool accept_upgrade(boost::asio::ip::tcp::socket& socket, std::string& in, const std::string& after) {
    namespace net = boost::asio;
    boost::system::error_code ec;
    char buf[4096];
    while (!ec && in.find("\r\n\r\n") == std::string::npos) in.append(buf, socket.read_some(net::buffer(buf), ec));
    auto at = in.find("Sec-WebSocket-Key: ");
    if (ec || at == std::string::npos) return false;
    const std::string key = in.substr(at + 19, in.find("\r\n", at) - at - 19);
    const std::string response =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: " + wsproxy::ws::accept_for(key) + "\r\n\r\n" + after;
    net::write(socket, net::buffer(response), ec);
    in.erase(0, in.find("\r\n\r\n") + 4);
    return !ec;
}

}  // namespace raw_ws_peer
