// The worker's event loop goes on after a handler throws.
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <catch2/catch.hpp>
#include <new>
#include <stdexcept>

#include "proxy/base/run_loop.hpp"

TEST_CASE("run_loop goes on after handlers throw and counts them", "[run_loop]") {
    boost::asio::io_context ioc;
    int ran = 0;
    boost::asio::post(ioc, [] { throw std::bad_alloc(); });
    boost::asio::post(ioc, [&] { ++ran; });
    boost::asio::post(ioc, [] { throw 42; });  // not even a std::exception
    boost::asio::post(ioc, [&] { ++ran; });
    CHECK(wsproxy::run_loop(ioc, "test") == 2);
    CHECK(ran == 2);
}

TEST_CASE("run_loop returns when its work is done, with nothing thrown", "[run_loop]") {
    boost::asio::io_context ioc;
    int ran = 0;
    boost::asio::post(ioc, [&] { ++ran; });
    CHECK(wsproxy::run_loop(ioc, "test") == 0);
    CHECK(ran == 1);
}
