// Loop tests of one leg on a real loop and a real socket on 127.0.0.1: the three ways it closes.
// The endpoint reads on a helper thread with a blocking socket; each test ends with
// uv_loop_close() == 0, so a handle the leg leaks fails the test that leaked it.
#include "proxy/leg.hpp"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <optional>
#include <string>
#include <thread>

#include "tests/proxy/sockets.hpp"

namespace faultline::proxy {
namespace {

using teardown::EndpointState;

// What a leg reported.
struct Reports final : LegEvents {
    void on_leg_connected(Leg&, int) override {}
    void on_leg_read(Leg&, char* buffer, std::size_t) override { pool->give(buffer); }
    void on_leg_eof(Leg&) override {}
    void on_leg_failed(Leg&, int status) override { failure = status; }
    void on_leg_written(Leg&) override {}
    void on_leg_shut_down(Leg&) override {}
    void on_leg_closed(Leg&) override { ++closed; }

    BufferPool* pool = nullptr;
    int failure = 0;
    int closed = 0;
};

// A connected pair on 127.0.0.1: the endpoint's blocking socket and faultline's side, already
// open in a libuv handle.
struct Pair {
    int endpoint = -1;
    UvHandle<uv_tcp_t> tcp;
};

Pair connected_pair(uv_loop_t* loop) {
    std::uint16_t port = 0;
    int listener = listen_any(port, 1);
    Pair pair;
    pair.endpoint = connect_to("127.0.0.1:" + std::to_string(port));
    int accepted = accept(listener, nullptr, nullptr);
    REQUIRE(accepted >= 0);
    close(listener);
    pair.tcp = UvHandle<uv_tcp_t>(nullptr);
    REQUIRE(uv_tcp_init(loop, pair.tcp.get()) == 0);
    pair.tcp.mark_initialised();
    REQUIRE(uv_tcp_open(pair.tcp.get(), accepted) == 0);
    return pair;
}

// What the endpoint reads until the end, and how its reads end ("EOF", "ECONNRESET").
struct Received {
    std::size_t bytes = 0;
    std::string end;
};

Received read_all(int fd) {
    Received received;
    char buffer[65536];
    for (;;) {
        ssize_t n = recv(fd, buffer, sizeof buffer, 0);
        if (n > 0) {
            received.bytes += static_cast<std::size_t>(n);
            continue;
        }
        received.end = n == 0 ? "EOF" : errno == ECONNRESET ? "ECONNRESET" : "error";
        return received;
    }
}

// Writes `size` bytes toward the endpoint, closes the leg the given way, and runs the loop while
// the endpoint reads everything it gets.
struct Outcome {
    Received received;
    bool is_closed_at_once = false;
    int closed_reports = 0;
    EndpointState state = EndpointState::open;
};

Outcome write_then_close(std::size_t size, CloseType type, EndpointState state,
                         std::optional<CloseType> then = std::nullopt) {
    uv_loop_t loop;
    REQUIRE(uv_loop_init(&loop) == 0);
    Outcome outcome;
    int endpoint = -1;
    {
        BufferPool pool;
        Reports reports;
        reports.pool = &pool;
        Pair pair = connected_pair(&loop);
        endpoint = pair.endpoint;
        Leg leg(reports, teardown::Side::client, &loop, pool);
        leg.adopt(std::move(pair.tcp));
        const std::string bytes(size, 'x');
        leg.write(bytes.data(), bytes.size(), nullptr);
        outcome.is_closed_at_once = leg.close(type, state);
        if (then) CHECK(leg.close(*then, EndpointState::fin_sent) == outcome.is_closed_at_once);
        std::thread reader([&] { outcome.received = read_all(endpoint); });
        uv_run(&loop, UV_RUN_DEFAULT);
        reader.join();
        outcome.closed_reports = reports.closed;
        outcome.state = leg.history().state;
        CHECK(leg.is_closed());
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
    close(endpoint);
    return outcome;
}

constexpr std::size_t more_than_the_kernel_holds = std::size_t{8} << 20;

// What a close should come to.
struct Expected {
    bool is_closed_at_once;
    int closed_reports;       // on_leg_closed calls: one for a close that had to wait
    bool is_everything_read;  // else the endpoint read less than was written
    std::string end;          // how the endpoint's reads ended
};

// Writes `size` bytes, closes the given way with `state`, and checks the outcome. `then`: a second,
// milder close asked for right after the first, which must change nothing.
void check_close(std::size_t size, CloseType type, EndpointState state, const Expected& expected,
                 std::optional<CloseType> then = std::nullopt) {
    const Outcome outcome = write_then_close(size, type, state, then);
    CHECK(outcome.is_closed_at_once == expected.is_closed_at_once);
    CHECK(outcome.closed_reports == expected.closed_reports);
    if (expected.is_everything_read) {
        CHECK(outcome.received.bytes == size);
    } else {
        CHECK(outcome.received.bytes < size);
    }
    CHECK(outcome.received.end == expected.end);
    CHECK(outcome.state == state);
}

}  // namespace

TEST_SUITE("proxy/leg") {
    TEST_CASE("a graceful close sends the FIN after every queued byte") {
        check_close(more_than_the_kernel_holds, CloseType::graceful, EndpointState::fin_sent,
                    {false, 1, true, "EOF"});
    }

    TEST_CASE("a graceful close with nothing queued closes at once, and the kernel sends the FIN") {
        check_close(1000, CloseType::graceful, EndpointState::fin_sent, {true, 0, true, "EOF"});
    }

    TEST_CASE("flush then reset: every queued byte arrives, then the RST") {
        check_close(more_than_the_kernel_holds, CloseType::flush_then_reset,
                    EndpointState::rst_sent, {false, 1, true, "ECONNRESET"});
    }

    TEST_CASE("a close now releases the socket at once: the kernel sends what it holds, then FIN") {
        check_close(more_than_the_kernel_holds, CloseType::close_now, EndpointState::timed_out,
                    {true, 0, false, "EOF"});
    }

    TEST_CASE("a milder close asked for during a flush changes nothing: the RST still comes") {
        check_close(more_than_the_kernel_holds, CloseType::flush_then_reset,
                    EndpointState::rst_sent, {false, 1, true, "ECONNRESET"}, CloseType::graceful);
    }

    TEST_CASE("a reset closes at once: the RST overtakes what was queued") {
        check_close(more_than_the_kernel_holds, CloseType::reset, EndpointState::rst_sent,
                    {true, 0, false, "ECONNRESET"});
    }
}

}  // namespace faultline::proxy
