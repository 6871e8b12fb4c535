#pragma once
// --trusted-proxies: the networks whose X-Forwarded-Proto and X-Forwarded-Host we keep.
// Behind a TLS-terminating ingress the browser spoke https; only the ingress can say so,
// and only a peer we trust may: anyone else's claim is replaced by what we saw.
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/network_v4.hpp>
#include <boost/asio/ip/network_v6.hpp>
#include <string>
#include <variant>
#include <vector>

namespace wsproxy::http1 {

class trusted_peers {
public:
    // Each entry is an address or CIDR ("10.0.0.0/8", "::1", "fd00::/8"); a comma list in
    // one entry is split. Throws std::invalid_argument naming the bad entry.
    static trusted_peers parse(const std::vector<std::string>& entries);

    bool contains(const boost::asio::ip::address& peer) const;
    bool contains(const std::string& peer) const;  // "addr" or "addr:port"; false when no address
    bool empty() const { return nets_.empty(); }

private:
    std::vector<std::variant<boost::asio::ip::network_v4, boost::asio::ip::network_v6>> nets_;
};

}  // namespace wsproxy::http1
