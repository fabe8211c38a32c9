// Black-box tests of backpressure (the buffer limit, README): when the receiving endpoint stops
// reading, faultline stops reading from the sender, so the sender is held back by TCP flow control
// and faultline's memory stays bounded; nothing held back is lost.
#include <doctest/doctest.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "tests/e2e/api_support.hpp"
#include "tests/e2e/checks.hpp"
#include "tests/e2e/harness.hpp"

namespace faultline::e2e {
namespace {

constexpr std::size_t mib = std::size_t{1} << 20;
constexpr std::size_t send_cap = 256 * mib;
constexpr Millis no_progress = 500ms;

// Byte `offset` of the stream a sender produces, so a receiver checks every byte without keeping
// a copy of what was sent.
char pattern_byte(std::uint64_t offset) {
    const std::uint64_t mixed = (offset ^ (offset >> 9) ^ (offset >> 19)) * 0x9E3779B1u;
    return static_cast<char>((mixed >> 11) & 0xffu);
}

// Sends the pattern without blocking until the socket accepts nothing for `no_progress` (or the
// cap is reached, or a send fails); returns the number of bytes the kernel took.
std::size_t send_until_stalled(int fd) {
    std::string chunk(std::size_t{256} * 1024, '\0');
    std::size_t chunk_start = 0;  // stream offset of chunk[0]
    std::size_t total = 0;
    while (total < send_cap) {
        if (total == chunk_start) {
            for (std::size_t i = 0; i < chunk.size(); ++i)
                chunk[i] = pattern_byte(total + i);
        }
        const std::size_t position = total - chunk_start;
        const ssize_t sent = ::send(fd, chunk.data() + position, chunk.size() - position,
                                    MSG_NOSIGNAL | MSG_DONTWAIT);
        if (sent > 0) {
            total += static_cast<std::size_t>(sent);
            if (total - chunk_start == chunk.size()) chunk_start = total;
            continue;
        }
        if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) break;
        if ((wait_poll(fd, POLLOUT, no_progress) & POLLOUT) == 0) break;
    }
    return total;
}

// What a receiver of the pattern saw: how many bytes, whether each was the expected one, and how
// the stream ended.
struct Verified {
    std::size_t bytes = 0;
    bool intact = true;
    std::string end;  // "EOF" expected
};

Verified receive_pattern(int fd, Millis timeout) {
    Verified result;
    const Deadline deadline(timeout);
    std::string buffer;
    for (;;) {
        buffer.clear();
        const ReadResult read = read_result(fd, deadline.remaining(), &buffer);
        if (read.kind != ReadResult::Kind::data) {
            result.end = read.describe();
            return result;
        }
        for (const char c : buffer) {
            if (c != pattern_byte(result.bytes)) result.intact = false;
            ++result.bytes;
        }
    }
}

// The sender fills everything between it and a receiver that never reads.
void check_bounded_memory(bool upstream) {
    SessionFixture fixture("", true, without_asan_quarantine());
    Session& session = fixture.session;
    const int sender = upstream ? session.client.get() : session.server.get();
    const long baseline_kib = fixture.faultline.rss_kib();
    REQUIRE(baseline_kib > 0);

    const std::size_t sent = send_until_stalled(sender);
    const long grown_kib = fixture.faultline.rss_kib() - baseline_kib;
    INFO("sent " << sent << " bytes; faultline RSS grew by " << grown_kib << " KiB from "
                 << baseline_kib << " KiB");
    CHECK(sent > 0);
    CHECK(sent < 64 * mib);
    CHECK(grown_kib < 16 * 1024);
    CHECK(fixture.faultline.is_running());
}

}  // namespace

TEST_SUITE("e2e backpressure") {
    TEST_CASE(
        "a server that never reads holds the client back and faultline's memory stays bounded") {
        check_bounded_memory(true);
    }

    TEST_CASE(
        "a client that never reads holds the server back and faultline's memory stays bounded") {
        check_bounded_memory(false);
    }

    TEST_CASE("bytes held back by a stalled server all arrive, in order, once it reads") {
        SessionFixture fixture("", false);
        Session& session = fixture.session;

        const std::size_t sent = send_until_stalled(session.client.get());
        REQUIRE(sent > 0);
        REQUIRE(::shutdown(session.client.get(), SHUT_WR) == 0);

        const Verified received = receive_pattern(session.server.get(), 30s);
        CHECK(received.end == "EOF");
        CHECK(received.bytes == sent);
        CHECK(received.intact);
        session.server.reset();
        CHECK(read_to_end(session.client.get()).describe() == "EOF");
        session.client.reset();

        const Json record = check_record_of(fixture, session, normal_close_by_client);
        CHECK(record["bytes_up"] == sent);
        CHECK(record["bytes_down"] == 0);
    }

    TEST_CASE("a rule that closes a sender held back with unread bytes records the RST it gets") {
        SessionFixture fixture("", false);
        Session& session = fixture.session;
        // The client reads nothing: faultline stops reading the server, whose bytes wait unread
        // in faultline's socket.
        REQUIRE(send_until_stalled(session.server.get()) > 0);
        // A reset aimed at the client only: the server's side is closed without a reset of
        // faultline's own, but with input unread the kernel answers with RST all the same.
        const sockaddr_in api = api_address_of(fixture.faultline);
        REQUIRE(api_request(api, "POST", "/proxies/p/toxics",
                            R"({"type": "reset", "attributes": {"target": "client"}})")
                    .status == 200);
        CHECK(read_to_end(session.server.get()).describe() == "ECONNRESET");
        const Json record = record_of(fixture, session);
        INFO(record.dump());
        CHECK(record["client"]["state"] == "rst_sent");
        CHECK(record["server"]["state"] == "rst_sent");
    }
}

}  // namespace faultline::e2e
