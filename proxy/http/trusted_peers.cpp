#include "proxy/http/trusted_peers.hpp"

#include "common/text.hpp"

#include <stdexcept>

namespace wsproxy::http1 {
namespace ip = boost::asio::ip;

namespace {


}  // namespace

trusted_peers trusted_peers::parse(const std::vector<std::string>& entries) {
    trusted_peers out;
    for (const auto& entry : entries) {
        for (auto element : text::split_list(entry)) {
            const std::string item(element);
            boost::system::error_code ec;
            auto slash = item.find('/');
            auto address = ip::make_address(item.substr(0, slash), ec);
            if (ec)
                throw std::invalid_argument("\"" + item + "\" is not an address or CIDR (e.g. 10.0.0.0/8)");
            if (address.is_v4()) {
                auto net = slash == std::string::npos ? ip::network_v4(address.to_v4(), 32)
                                                      : ip::make_network_v4(item, ec);
                if (ec) throw std::invalid_argument("\"" + item + "\" is not a valid IPv4 CIDR");
                out.nets_.emplace_back(net.canonical());
            } else {
                auto net = slash == std::string::npos ? ip::network_v6(address.to_v6(), 128)
                                                      : ip::make_network_v6(item, ec);
                if (ec) throw std::invalid_argument("\"" + item + "\" is not a valid IPv6 CIDR");
                out.nets_.emplace_back(net.canonical());
            }
        }
    }
    return out;
}

bool trusted_peers::contains(const ip::address& peer) const {
    ip::address a = peer;
    // A dual-stack listener sees IPv4 peers as ::ffff:a.b.c.d.
    if (a.is_v6() && a.to_v6().is_v4_mapped()) a = ip::make_address_v4(ip::v4_mapped, a.to_v6());
    for (const auto& n : nets_) {
        if (const auto* v4 = std::get_if<ip::network_v4>(&n)) {
            if (a.is_v4() && ip::network_v4(a.to_v4(), v4->prefix_length()).canonical() == *v4)
                return true;
        } else if (const auto* v6 = std::get_if<ip::network_v6>(&n)) {
            if (a.is_v6() && ip::network_v6(a.to_v6(), v6->prefix_length()).canonical() == *v6)
                return true;
        }
    }
    return false;
}

bool trusted_peers::contains(const std::string& peer) const {
    boost::system::error_code ec;
    auto a = ip::make_address(peer, ec);
    if (ec) {
        // "a.b.c.d:port" or "[v6]:port"
        auto colon = peer.rfind(':');
        if (colon == std::string::npos) return false;
        std::string host = peer.substr(0, colon);
        if (host.size() > 2 && host.front() == '[' && host.back() == ']')
            host = host.substr(1, host.size() - 2);
        a = ip::make_address(host, ec);
    }
    return !ec && contains(a);
}

}  // namespace wsproxy::http1
