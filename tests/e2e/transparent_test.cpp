// Black-box tests of the transparent data path (docs/teardown.md, and the reference scenarios 2 and
// 4): with no rule, a client and a server talking through faultline observe what they would observe
// talking directly, and each connection ends with the record of a normal close or of a reset.
#include <doctest/doctest.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "tests/e2e/checks.hpp"
#include "tests/e2e/harness.hpp"

namespace faultline::e2e {
namespace {

constexpr std::size_t mib = std::size_t{1} << 20;
constexpr Millis transfer_timeout = 30s;

std::string random_bytes(std::size_t size, std::uint32_t seed) {
    std::mt19937 rng(seed);
    std::string bytes(size, '\0');
    for (std::size_t i = 0; i < size; i += 4) {
        const auto word = static_cast<std::uint32_t>(rng());
        std::memcpy(bytes.data() + i, &word, std::min<std::size_t>(4, size - i));
    }
    return bytes;
}

std::uint64_t fnv1a(std::string_view bytes) {
    std::uint64_t hash = 14695981039346656037ULL;
    for (const char c : bytes) {
        hash ^= static_cast<unsigned char>(c);
        hash *= 1099511628211ULL;
    }
    return hash;
}

// Write sizes spread over orders of magnitude, from 1 byte to 128 KiB.
std::size_t random_write_size(std::mt19937& rng) {
    const auto exponent = std::uniform_int_distribution<unsigned>(0, 17)(rng);
    return std::uniform_int_distribution<std::size_t>(1, std::size_t{1} << exponent)(rng);
}

// What an endpoint does once every byte it had to send is in its kernel's hands.
enum class WhenSent { shut_down_write, close, nothing };

// One endpoint of a transfer driven by pump(): sends `outgoing` in random pieces while it reads.
struct Side {
    Side(Fd& fd, std::string_view bytes, WhenSent when)
        : socket(&fd),
          outgoing(bytes),
          when_sent(when),
          writing(!bytes.empty() || when != WhenSent::nothing) {}

    Fd* socket;
    std::string_view outgoing;
    WhenSent when_sent;
    std::size_t sent = 0;
    bool writing;
    bool reading = true;
    bool saw_eof = false;
    std::string incoming;
    int error = 0;  // the first failed send or recv
};

void finish_writing(Side& side) {
    side.writing = false;
    if (side.when_sent == WhenSent::shut_down_write) {
        ::shutdown(side.socket->get(), SHUT_WR);
    } else if (side.when_sent == WhenSent::close) {
        side.socket->reset();
        side.reading = false;
    }
}

void read_some(Side& side, std::string& buffer) {
    const ssize_t got = ::recv(side.socket->get(), buffer.data(), buffer.size(), MSG_DONTWAIT);
    if (got > 0) {
        side.incoming.append(buffer.data(), static_cast<std::size_t>(got));
    } else if (got == 0) {
        side.reading = false;
        side.saw_eof = true;
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        side.error = errno;
        side.reading = false;
        side.writing = false;
    }
}

void write_some(Side& side, std::mt19937& rng) {
    const std::size_t size = std::min(random_write_size(rng), side.outgoing.size() - side.sent);
    const ssize_t sent = ::send(side.socket->get(), side.outgoing.data() + side.sent, size,
                                MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent >= 0) {
        side.sent += static_cast<std::size_t>(sent);
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        side.error = errno;
        side.reading = false;
        side.writing = false;
    }
}

// Moves bytes both ways at once, in one thread, until both sides are done reading and writing.
// False when the timeout passed first.
bool pump(Side& a, Side& b, std::uint32_t seed, Millis timeout = transfer_timeout) {
    const Deadline deadline(timeout);
    std::mt19937 rng(seed);
    std::string buffer(std::size_t{1} << 18, '\0');
    const std::array<Side*, 2> sides{&a, &b};
    for (;;) {
        std::vector<pollfd> fds;
        for (Side* side : sides) {
            if (side->writing && side->sent == side->outgoing.size()) finish_writing(*side);
            const auto events =
                static_cast<short>((side->reading ? POLLIN : 0) | (side->writing ? POLLOUT : 0));
            fds.push_back({events != 0 ? side->socket->get() : -1, events, 0});
        }
        if (std::all_of(fds.begin(), fds.end(), [](const pollfd& p) { return p.events == 0; })) {
            return true;
        }
        if (poll_until(fds, deadline) == 0) return false;
        for (std::size_t i = 0; i < sides.size(); ++i) {
            Side& side = *sides[i];
            const short revents = fds[i].revents;
            if (side.reading && (revents & (POLLIN | POLLERR | POLLHUP)) != 0) {
                read_some(side, buffer);
            }
            if (side.writing && (revents & (POLLOUT | POLLERR)) != 0) write_some(side, rng);
        }
    }
}

// What the client of reference scenario 4 observes.
struct Scenario4 {
    std::string reply;     // what it read before EOF
    std::string end;       // how that read ended: "EOF" expected
    long first_send = 0;   // byte count or -errno: succeeds
    short revents = 0;     // poll() after the first send: POLLERR or POLLHUP expected
    long second_send = 0;  // -EPIPE or -ECONNRESET expected
    std::string client_address;
};

// Reference scenario 4: the server (optionally after a reply) closes normally; the client reads
// EOF, sends once (succeeds: nothing tells it yet that nobody reads), the server's kernel answers
// with RST, and the client's second send fails.
Scenario4 run_scenario_4(const sockaddr_in& target, const Listener& server_listener,
                         std::string_view reply) {
    Scenario4 seen;
    Fd client = connect_to(target);
    seen.client_address = local_address(client.get());
    Fd server = accept_from(server_listener.fd.get());
    REQUIRE(server.is_open());
    REQUIRE(send_all(server.get(), reply) == 0);
    server.reset();  // nothing unread: FIN

    const Received received = recv_until_eof(client.get());
    seen.reply = received.bytes;
    seen.end = received.eof ? "EOF" : errno_name(received.error);
    seen.first_send = send_once(client.get(), "request after the close");
    // Events 0: only POLLERR/POLLHUP wake us (POLLIN is already set by the EOF).
    seen.revents = wait_poll(client.get(), 0, io_timeout);
    seen.second_send = send_once(client.get(), "second request");
    return seen;
}

void check_scenario_4(const Scenario4& seen, std::string_view reply) {
    CHECK(seen.reply.size() == reply.size());
    CHECK(fnv1a(seen.reply) == fnv1a(reply));
    CHECK(seen.end == "EOF");
    CHECK(seen.first_send > 0);
    CHECK((seen.revents & (POLLERR | POLLHUP)) != 0);
    const std::string second =
        seen.second_send >= 0 ? "sent" : errno_name(static_cast<int>(-seen.second_send));
    INFO("second send: " << second);
    CHECK((second == "EPIPE" || second == "ECONNRESET"));
}

// Checks that a side read `sent` whole: as many bytes, and the same (by hash).
void check_received(const Side& side, const std::string& sent) {
    CHECK(side.incoming.size() == sent.size());
    CHECK(fnv1a(side.incoming) == fnv1a(sent));
}

// Scenario 4 through faultline, with `reply` from the server before its close.
void check_scenario_4_through_faultline(const std::string& reply) {
    ProxyFixture fixture;
    const Scenario4 seen = run_scenario_4(fixture.proxy, fixture.server, reply);
    check_scenario_4(seen, reply);
    const Json record = check_record(
        record_of(fixture.faultline, seen.client_address),
        "reason=Reset-O initiator=server client=rst_sent/Reset-O server=rst_received/Reset-O");
    CHECK(record["bytes_down"] == reply.size());
}

}  // namespace

TEST_SUITE("e2e transparent data path") {
    TEST_CASE("8 MiB in each direction at once arrive intact, whatever the write sizes") {
        SessionFixture fixture("", false);
        Session& session = fixture.session;
        const std::string up = random_bytes(8 * mib, 1);
        const std::string down = random_bytes(8 * mib, 2);

        Side client(session.client, up, WhenSent::shut_down_write);
        Side server(session.server, down, WhenSent::shut_down_write);
        REQUIRE(pump(client, server, 3));
        CHECK(errno_name(client.error) == "0");
        CHECK(errno_name(server.error) == "0");
        CHECK(client.saw_eof);
        CHECK(server.saw_eof);
        check_received(server, up);
        check_received(client, down);
        session.client.reset();
        session.server.reset();

        const Json record = record_of(fixture, session);
        INFO(record.dump());
        CHECK(record["reason"] == "TCP FINs");
        // Both sides shut down at nearly the same time: either may have been first.
        CHECK((record["initiator"] == "client" || record["initiator"] == "server"));
        CHECK(record["client"]["state"] == "closed");
        CHECK(record["server"]["state"] == "closed");
        CHECK(record["bytes_up"] == 8 * mib);
        CHECK(record["bytes_down"] == 8 * mib);
    }

    TEST_CASE("a client half-close lets the server's whole reply through") {
        SessionFixture fixture("", false);
        Session& session = fixture.session;
        const std::string request = "GET /large-download\r\n\r\n";
        const std::string reply = random_bytes(4 * mib, 4);

        REQUIRE(send_all(session.client.get(), request) == 0);
        REQUIRE(::shutdown(session.client.get(), SHUT_WR) == 0);
        const Received at_server = recv_until_eof(session.server.get());
        CHECK(at_server.bytes == request);
        REQUIRE(at_server.eof);

        // The server answers after the client's FIN, then closes; the client keeps reading.
        Side client(session.client, "", WhenSent::nothing);
        Side server(session.server, reply, WhenSent::close);
        REQUIRE(pump(client, server, 5));
        CHECK(errno_name(client.error) == "0");
        CHECK(client.saw_eof);
        check_received(client, reply);
        session.client.reset();

        const Json record = check_record_of(fixture, session, normal_close_by_client);
        CHECK(record["bytes_up"] == request.size());
        CHECK(record["bytes_down"] == reply.size());
    }

    TEST_CASE("16 MiB from a client that then closes all reach the server, then EOF") {
        SessionFixture fixture("", false);
        Session& session = fixture.session;
        const std::string up = random_bytes(16 * mib, 6);

        Side client(session.client, up, WhenSent::close);
        Side server(session.server, "", WhenSent::nothing);
        REQUIRE(pump(client, server, 7));
        CHECK(errno_name(client.error) == "0");
        CHECK(errno_name(server.error) == "0");
        CHECK(server.saw_eof);
        check_received(server, up);
        session.server.reset();

        const Json record = check_record_of(fixture, session, normal_close_by_client);
        CHECK(record["bytes_up"] == 16 * mib);
        CHECK(record["bytes_down"] == 0);
    }

    TEST_CASE(
        "scenario 4 without faultline: first send after the server's close succeeds, second "
        "fails") {
        // The control experiment: the same steps directly against the server, so a failure of the
        // proxied variants below is faultline's and not the test's.
        const Listener server = listen_on_loopback();
        check_scenario_4(run_scenario_4(server.address(), server, ""), "");
    }

    TEST_CASE(
        "scenario 4: after the server's close, the client's first send succeeds and its second "
        "fails") {
        check_scenario_4_through_faultline("");
    }

    TEST_CASE(
        "scenario 4 with a reply: the client reads it all, then EOF, then its second send fails") {
        check_scenario_4_through_faultline(random_bytes(std::size_t{64} * 1024, 8));
    }
}

}  // namespace faultline::e2e
