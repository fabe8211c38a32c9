// Black-box tests of the corners a review found: small writes against a reader that stopped,
// an RST from a sender that is held back, an RST that answers a client's last bytes after the
// server closed, a download that keeps flowing after the client's half-close, and an API client
// that pipelines requests without reading the answers.
#include <doctest/doctest.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdlib>
#include <string>

#include "tests/e2e/harness.hpp"

namespace faultline::e2e {
namespace {

constexpr std::size_t mib = std::size_t{1} << 20;

// Sends `piece` without blocking, over and over, until nothing is taken for 300 ms or `cap`
// bytes went out; returns the bytes sent.
std::size_t send_pieces_until_stalled(int fd, std::string_view piece, std::size_t cap) {
    std::size_t total = 0;
    while (total < cap) {
        const ssize_t sent = ::send(fd, piece.data(), piece.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (sent > 0) {
            total += static_cast<std::size_t>(sent);
            continue;
        }
        if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) break;
        if ((wait_poll(fd, POLLOUT, 300ms) & POLLOUT) == 0) break;
    }
    return total;
}

}  // namespace

TEST_SUITE("e2e edge cases") {
    TEST_CASE("small writes against a reader that stopped keep faultline's memory bounded") {
        SessionFixture fixture("", true, without_asan_quarantine());
        Session& session = fixture.session;
        const int one = 1;
        REQUIRE(setsockopt(session.client.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0);
        const long baseline_kib = fixture.faultline.rss_kib();
        REQUIRE(baseline_kib > 0);

        // 100-byte messages: without accounting for the buffers they sit in, 1 MiB of queued
        // payload would hold about 650 MiB of buffers.
        const std::size_t sent =
            send_pieces_until_stalled(session.client.get(), std::string(100, 'x'), 64 * mib);
        const long growth_kib = fixture.faultline.rss_kib() - baseline_kib;
        INFO("sent " << sent << " bytes; RSS grew by " << growth_kib << " KiB");
        CHECK(sent < 48 * mib);
        CHECK(growth_kib < 16 * 1024);
    }

    TEST_CASE("an RST from a sender held back by backpressure is mirrored at once") {
        SessionFixture fixture;
        Session& session = fixture.session;
        (void)send_pieces_until_stalled(session.client.get(), std::string(64 * 1024, 'x'),
                                        256 * mib);
        set_linger_reset(session.client.get());
        session.client.reset();

        // The server, which never read, hears the reset without any idle timer.
        CHECK((wait_poll(session.server.get(), 0, io_timeout) & (POLLERR | POLLHUP)) != 0);
        auto record = fixture.faultline.wait_teardown_of(session.client_address);
        REQUIRE(record);
        CHECK(summary(*record) ==
              "reason=Reset-I initiator=client client=rst_received/Reset-I "
              "server=rst_sent/Reset-I");
    }

    TEST_CASE("a client's last bytes and FIN after the server closed read as Reset-O") {
        SessionFixture fixture;
        Session& session = fixture.session;
        session.server.reset();  // FIN; the server's kernel answers later bytes with RST
        CHECK(read_result(session.client.get()).describe() == "EOF");
        REQUIRE(send_all(session.client.get(), "late words") == 0);
        // The FIN right behind the bytes; the RST may already be back (then shutdown fails).
        (void)::shutdown(session.client.get(), SHUT_WR);
        auto record = fixture.faultline.wait_teardown_of(session.client_address);
        REQUIRE(record);
        CHECK((*record)["reason"] == "Reset-O");
        CHECK((*record)["server"]["state"] == "rst_received");
    }

    TEST_CASE("a download that keeps flowing after the client's half-close is not cut") {
        SessionFixture fixture(R"(half_closed_timeout = "200ms")");
        Session& session = fixture.session;
        REQUIRE(::shutdown(session.client.get(), SHUT_WR) == 0);
        CHECK(read_result(session.server.get()).describe() == "EOF");

        // The server streams for about 600 ms, three times the half-closed timeout, in pieces
        // that each arrive well within it.
        const std::string piece(4096, 'd');
        std::size_t expected = 0;
        const Deadline streaming(600ms);
        while (!streaming.has_passed()) {
            REQUIRE(send_all(session.server.get(), piece) == 0);
            expected += piece.size();
            Received got = recv_exact(session.client.get(), piece.size());
            REQUIRE(got.bytes.size() == piece.size());
            (void)wait_poll(session.client.get(), POLLPRI, 20ms);  // pacing: nothing arrives
        }
        session.server.reset();
        CHECK(read_to_end(session.client.get()).describe() == "EOF");
        auto record = fixture.faultline.wait_teardown_of(session.client_address);
        REQUIRE(record);
        CHECK((*record)["reason"] == "TCP FINs");
        CHECK((*record)["bytes_down"].get<std::size_t>() == expected + 4);  // + "pong"
    }

    TEST_CASE("an API client that pipelines requests without reading cannot grow memory") {
        Faultline faultline(
            std::vector<std::string>{"serve", "--api", "127.0.0.1:0", "--log-format", "json"},
            without_asan_quarantine());
        auto event = faultline.wait_event(
            [](const Json& line) { return line["event"] == "listening" && line["kind"] == "api"; });
        REQUIRE(event);
        Fd fd = connect_to(parse_address((*event)["address"].get<std::string>()));
        const long baseline_kib = faultline.rss_kib();
        std::string requests;
        for (int i = 0; i < 1000; ++i)
            requests += "GET /version HTTP/1.1\r\n\r\n";
        const std::size_t sent = send_pieces_until_stalled(fd.get(), requests, 256 * mib);
        const long growth_kib = faultline.rss_kib() - baseline_kib;
        INFO("sent " << sent << " bytes of requests; RSS grew by " << growth_kib << " KiB");
        CHECK(sent < 64 * mib);
        CHECK(growth_kib < 16 * 1024);
        CHECK(faultline.is_running());
    }
}

}  // namespace faultline::e2e
