#pragma once
// Raw HTTP peers for tests of the proxy's HTTP path, compiled once (http_peers.cpp):
//   - raw_upstream: a backend that records the exact requests each of its connections
//     received and answers each with bytes the test scripts (broken ones included);
//   - http_conn: a client connection that writes any bytes and reads responses one by
//     one, interim (1xx) responses included, with bounded blocking reads.
// Plain blocking sockets with receive timeouts: nothing here can hang a test.
#include <boost/beast/http.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace http_test {

namespace http = boost::beast::http;

// One request as the upstream received it.
struct received {
    int conn{0};   // which upstream connection (0, 1, ... in accept order)
    int index{0};  // which request on that connection
    http::request<http::string_body> req;
    std::string head;  // the raw request head as received
};

struct reply {
    std::string bytes;          // written as is (may be empty)
    bool close_after{false};    // close the connection after writing
    int delay_ms{0};            // wait before writing
};

using script = std::function<reply(const received&)>;

// "HTTP/1.1 <status> X\r\n<headers>Content-Length: <n>\r\n\r\n<body>"
std::string response_bytes(int status, const std::string& body,
                           const std::string& headers = "");

class raw_upstream {
public:
    explicit raw_upstream(script s);
    ~raw_upstream();
    raw_upstream(const raw_upstream&) = delete;
    raw_upstream& operator=(const raw_upstream&) = delete;

    unsigned short port() const { return port_; }
    std::vector<received> requests() const;
    int connections() const;
    // Connections this upstream has closed (after close_after, or when the peer left).
    int closed() const;

private:
    void accept_loop();
    void serve(int fd, int conn);

    script script_;
    int listen_fd_{-1};
    unsigned short port_{0};
    mutable std::mutex mutex_;
    std::vector<received> received_;
    std::vector<int> fds_;
    std::vector<std::thread> threads_;
    std::thread accept_thread_;
    int connections_{0};
    int closed_{0};
    bool stopping_{false};
};

struct response {
    unsigned status{0};
    http::fields headers;
    std::string body;
    bool keep_alive{true};
};

class http_conn {
public:
    explicit http_conn(unsigned short port);
    ~http_conn();
    http_conn(const http_conn&) = delete;
    http_conn& operator=(const http_conn&) = delete;

    bool send(const std::string& bytes);
    // The next response (a 1xx is one too); nothing on EOF, timeout or garbage.
    // `head_request`: the response to a HEAD has no body whatever it says.
    std::optional<response> read(bool head_request = false);
    // The next final response, skipping and collecting interim ones.
    std::optional<response> read_final(std::vector<unsigned>* interims = nullptr);
    // True when the proxy closed the connection (EOF) within the timeout.
    bool closed();
    // Bytes received and not yet parsed.
    const std::string& pending() const { return in_; }

private:
    bool fill();
    int fd_{-1};
    std::string in_;
    bool eof_{false};
};

}  // namespace http_test
