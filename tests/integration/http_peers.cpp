#include "http_peers.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace http_test {

namespace {

void set_timeout(int fd, int seconds) {
    timeval tv{seconds, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

bool write_all(int fd, const std::string& bytes) {
    std::size_t off = 0;
    while (off < bytes.size()) {
        auto n = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
        if (n <= 0) return false;
        off += static_cast<std::size_t>(n);
    }
    return true;
}

}  // namespace

std::string response_bytes(int status, const std::string& body, const std::string& headers) {
    return "HTTP/1.1 " + std::to_string(status) + " X\r\n" + headers +
           "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

raw_upstream::raw_upstream(script s) : script_(std::move(s)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(listen_fd_, 64);
    socklen_t len = sizeof a;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    accept_thread_ = std::thread([this] { accept_loop(); });
}

raw_upstream::~raw_upstream() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
        for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    }
    ::shutdown(listen_fd_, SHUT_RDWR);
    if (accept_thread_.joinable()) accept_thread_.join();
    for (auto& t : threads_)
        if (t.joinable()) t.join();
    ::close(listen_fd_);
}

std::vector<received> raw_upstream::requests() const {
    std::lock_guard lock(mutex_);
    return received_;
}

int raw_upstream::closed() const {
    std::lock_guard lock(mutex_);
    return closed_;
}

int raw_upstream::connections() const {
    std::lock_guard lock(mutex_);
    return connections_;
}

void raw_upstream::accept_loop() {
    for (;;) {
        pollfd p{listen_fd_, POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) {
            std::lock_guard lock(mutex_);
            if (stopping_) return;
            continue;
        }
        int fd = ::accept(listen_fd_, nullptr, nullptr);
        std::lock_guard lock(mutex_);
        if (fd < 0 || stopping_) {
            if (fd >= 0) ::close(fd);
            return;
        }
        set_timeout(fd, 10);
        fds_.push_back(fd);
        int conn = connections_++;
        threads_.emplace_back([this, fd, conn] { serve(fd, conn); });
    }
}

void raw_upstream::serve(int fd, int conn) {
    std::string in;
    char chunk[16384];
    int index = 0;
    for (;;) {
        http::request_parser<http::string_body> parser;
        parser.eager(true);
        parser.body_limit(64u << 20);
        std::string head;
        for (;;) {
            if (!in.empty()) {
                boost::beast::error_code ec;
                auto used = parser.put(boost::asio::buffer(in), ec);
                if (parser.is_header_done() && head.empty())
                    head = in.substr(0, in.find("\r\n\r\n") + 4);
                in.erase(0, used);
                if (parser.is_done()) break;
                if (ec && ec != http::error::need_more) break;
                if (used > 0) continue;
            }
            auto n = ::recv(fd, chunk, sizeof chunk, 0);
            if (n <= 0) break;
            in.append(chunk, static_cast<std::size_t>(n));
        }
        if (!parser.is_done()) break;
        received r{conn, index++, parser.release(), head};
        {
            std::lock_guard lock(mutex_);
            received_.push_back(r);
        }
        auto answer = script_(r);
        if (answer.delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(answer.delay_ms));
        if (!answer.bytes.empty() && !write_all(fd, answer.bytes)) break;
        if (answer.close_after) break;
    }
    ::shutdown(fd, SHUT_WR);
    ::close(fd);
    std::lock_guard lock(mutex_);
    ++closed_;
}

http_conn::http_conn(unsigned short port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    set_timeout(fd_, 5);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(fd_);
        fd_ = -1;
    }
}

http_conn::~http_conn() {
    if (fd_ >= 0) ::close(fd_);
}

bool http_conn::send(const std::string& bytes) { return fd_ >= 0 && write_all(fd_, bytes); }

bool http_conn::fill() {
    if (fd_ < 0 || eof_) return false;
    char chunk[16384];
    auto n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n == 0) eof_ = true;  // n < 0: the receive timeout, which is not an end
    if (n <= 0) return false;
    in_.append(chunk, static_cast<std::size_t>(n));
    return true;
}

std::optional<response> http_conn::read(bool head_request) {
    http::response_parser<http::string_body> parser;
    parser.eager(true);
    parser.body_limit(64u << 20);
    if (head_request) parser.skip(true);
    for (;;) {
        if (!in_.empty()) {
            boost::beast::error_code ec;
            auto used = parser.put(boost::asio::buffer(in_), ec);
            in_.erase(0, used);
            if (parser.is_done()) break;
            if (ec && ec != http::error::need_more) return std::nullopt;
            if (used > 0) continue;
        }
        if (!fill()) {
            // A body delimited by the end of the connection ends here.
            if (eof_ && parser.is_header_done() && parser.need_eof()) {
                boost::beast::error_code ec;
                parser.put_eof(ec);
                if (!ec) break;
            }
            return std::nullopt;
        }
    }
    auto m = parser.release();
    response r;
    r.status = m.result_int();
    r.keep_alive = m.keep_alive();
    for (const auto& f : m) r.headers.insert(f.name_string(), f.value());
    r.body = std::move(m.body());
    return r;
}

std::optional<response> http_conn::read_final(std::vector<unsigned>* interims) {
    for (int i = 0; i < 32; ++i) {
        auto r = read();
        if (!r) return std::nullopt;
        if (r->status >= 200 || r->status == 101) return r;
        if (interims) interims->push_back(r->status);
    }
    return std::nullopt;
}

bool http_conn::closed() {
    while (fill()) {
    }
    return eof_;
}

}  // namespace http_test
