// Black-box tests of teardown classification (docs/teardown.md): each way a connection can end,
// produced with real sockets, with what each endpoint observes and the JSON record faultline
// writes for it.
#include <doctest/doctest.h>
#include <sys/socket.h>

#include <algorithm>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/e2e/checks.hpp"
#include "tests/e2e/harness.hpp"

namespace faultline::e2e {
namespace {

// Connects to a listener that never accepts until a connect no longer completes: its accept
// queue is full and further SYNs are dropped (TCP-FACTS K22). The returned sockets keep it full.
std::vector<Fd> fill_accept_queue(const Listener& listener) {
    std::vector<Fd> held;
    for (int attempt = 0; attempt < 64; ++attempt) {
        Connected connected = try_connect(listener.address(), 200ms);
        if (connected.error == ETIMEDOUT) {
            held.push_back(std::move(connected.fd));
            return held;
        }
        if (connected.error != 0) {
            throw std::runtime_error("filling the accept queue: connect failed: " +
                                     errno_name(connected.error));
        }
        held.push_back(std::move(connected.fd));
    }
    throw std::runtime_error("the accept queue never filled");
}

// The server closes without reading what the client sent: its kernel answers with RST (K1).
void server_resets_by_closing_with_unread_input(Session& session) {
    REQUIRE(send_all(session.client.get(), "a request nobody reads") == 0);
    REQUIRE((wait_poll(session.server.get(), POLLIN, io_timeout) & POLLIN) != 0);
    session.server.reset();
}

// SO_LINGER {1, 0} and close: an RST at once (K5).
void client_resets(Session& session) {
    set_linger_reset(session.client.get());
    session.client.reset();
}

void check_denied_client(std::string_view access_list) {
    ProxyFixture fixture(access_list);
    // The kernel completes the handshake (K30); faultline then resets the connection.
    const Connected client = try_connect(fixture.proxy);
    CHECK(first_end(client) == "ECONNRESET");
    check_record(record_of(fixture.faultline, client.local_address),
                 "reason=Uauth Deny initiator=faultline client=rst_sent/Uauth Deny "
                 "server=not_connected/Uauth Deny");
    // The record is written when the session is over: by then no upstream connect was made.
    CHECK_FALSE(has_pending_connection(fixture.server.fd.get(), 0ms));
}

// How a test ends its session: which endpoint acts, and whether a round trip comes first.
struct Ending {
    void (*act)(Session&);
    bool is_by_server;
    bool is_after_round_trip;
};

// One session through a proxy with `settings`, ended as `ending` says; the endpoint that did not
// end it reads `other_end` (when given), and the record says `classification`.
void check_ending(std::string_view settings, Ending ending, std::string_view other_end,
                  std::string_view classification) {
    SessionFixture fixture(settings, false);
    Session& session = fixture.session;
    if (ending.is_after_round_trip) fixture.round_trip(session);
    ending.act(session);
    if (!other_end.empty()) {
        Fd& other = ending.is_by_server ? session.client : session.server;
        CHECK(read_to_end(other.get()).describe() == other_end);
    }
    check_record_of(fixture, session, classification);
}

void client_closes_first(Session& session) {
    close_normally(session, true);
}

void server_closes_first(Session& session) {
    close_normally(session, false);
}

}  // namespace

TEST_SUITE("e2e teardown records") {
    TEST_CASE(
        "a normal close in both directions is TCP FINs, initiated by the client that closed "
        "first") {
        check_ending("", {client_closes_first, false, true}, "",
                     "reason=TCP FINs initiator=client client=closed/TCP FINs "
                     "server=closed/TCP FINs");
    }

    TEST_CASE(
        "a normal close in both directions is TCP FINs, initiated by the server that closed "
        "first") {
        check_ending("", {server_closes_first, true, true}, "",
                     "reason=TCP FINs initiator=server client=closed/TCP FINs "
                     "server=closed/TCP FINs");
    }

    TEST_CASE("a teardown record carries exactly the documented fields") {
        ProxyFixture fixture;
        std::vector<Json> records;
        for (int i = 0; i < 2; ++i) {
            Session session = fixture.open_session();
            fixture.round_trip(session);
            REQUIRE(send_all(session.client.get(), "0123456789") == 0);
            REQUIRE(recv_exact(session.server.get(), 10).bytes == "0123456789");
            session.client.reset();
            CHECK(read_to_end(session.server.get()).describe() == "EOF");
            session.server.reset();
            const Json record = record_of(fixture, session);
            records.push_back(record);
        }
        const Json& record = records[0];
        INFO(record.dump());

        std::set<std::string> keys;
        for (const auto& item : record.items())
            keys.insert(item.key());
        CHECK(keys == std::set<std::string>{"event", "time", "level", "id", "proxy", "reason",
                                            "initiator", "client", "server", "duration_ms",
                                            "bytes_up", "bytes_down", "rule"});
        for (const char* side : {"client", "server"}) {
            CAPTURE(side);
            REQUIRE(record[side].is_object());
            std::set<std::string> leg_keys;
            for (const auto& item : record[side].items())
                leg_keys.insert(item.key());
            CHECK(leg_keys == std::set<std::string>{"address", "state", "reason"});
        }
        CHECK(record["event"] == "teardown");
        CHECK(record["level"] == "info");
        CHECK(record["proxy"] == "p");
        CHECK(record["id"].is_number_integer());
        CHECK(record["duration_ms"].is_number_integer());
        CHECK(record["duration_ms"] >= 0);
        CHECK(record["server"]["address"] == fixture.server.text());
        CHECK(record["bytes_up"] == 14);   // "ping" + "0123456789"
        CHECK(record["bytes_down"] == 4);  // "pong"
        CHECK(record["rule"].is_null());
        CHECK(records[1]["id"] != records[0]["id"]);
    }

    TEST_CASE("a server that closes with unread input resets the client: Reset-O") {
        check_ending("", {server_resets_by_closing_with_unread_input, true, false}, "ECONNRESET",
                     "reason=Reset-O initiator=server client=rst_sent/Reset-O "
                     "server=rst_received/Reset-O");
    }

    TEST_CASE("with inside = server, a server's reset is Reset-I") {
        check_ending("inside = \"server\"",
                     {server_resets_by_closing_with_unread_input, true, false}, "ECONNRESET",
                     "reason=Reset-I initiator=server client=rst_sent/Reset-I "
                     "server=rst_received/Reset-I");
    }

    TEST_CASE("a client's reset reaches the server as ECONNRESET: Reset-I") {
        check_ending("", {client_resets, false, true}, "ECONNRESET",
                     "reason=Reset-I initiator=client client=rst_received/Reset-I "
                     "server=rst_sent/Reset-I");
    }

    TEST_CASE("with inside = server, a client's reset is Reset-O") {
        check_ending("inside = \"server\"", {client_resets, false, true}, "ECONNRESET",
                     "reason=Reset-O initiator=client client=rst_received/Reset-O "
                     "server=rst_sent/Reset-O");
    }

    TEST_CASE("an upstream that refuses the connect resets the client: Reset-O") {
        const std::uint16_t closed_port = unused_port();
        const TempConfig config(proxy_config(closed_port));
        Faultline faultline(config);
        REQUIRE(faultline.wait_ready());
        const Connected client = try_connect(faultline.proxy_sockaddr("p"));
        CHECK(first_end(client) == "ECONNRESET");
        const Json record = check_record(
            record_of(faultline, client.local_address),
            "reason=Reset-O initiator=server client=rst_sent/Reset-O server=refused/Reset-O");
        CHECK(record["server"]["address"] == address_text(loopback(closed_port)));
    }

    TEST_CASE("an upstream connect that does not finish within connect_timeout is SYN Timeout") {
        ProxyFixture fixture("connect_timeout = \"300ms\"", {}, 0);
        const std::vector<Fd> queue_fillers = fill_accept_queue(fixture.server);
        const Connected client = try_connect(fixture.proxy);
        CHECK(first_end(client) == "ECONNRESET");
        check_record(record_of(fixture.faultline, client.local_address),
                     "reason=SYN Timeout initiator=faultline client=rst_sent/SYN Timeout "
                     "server=connect_timeout/SYN Timeout");
    }

    TEST_CASE("an idle connection is closed on both sides after idle_timeout: Conn-timeout") {
        SessionFixture fixture("idle_timeout = \"300ms\"");
        Session& session = fixture.session;

        CHECK(read_to_end(session.client.get()).describe() == "EOF");
        CHECK(read_to_end(session.server.get()).describe() == "EOF");
        check_record_of(fixture, session,
                        "reason=Conn-timeout initiator=faultline client=timed_out/Conn-timeout "
                        "server=timed_out/Conn-timeout");
    }

    TEST_CASE(
        "a half-close that the server never answers is reset after half_closed_timeout: FIN "
        "Timeout") {
        SessionFixture fixture("half_closed_timeout = \"300ms\"");
        Session& session = fixture.session;

        REQUIRE(::shutdown(session.client.get(), SHUT_WR) == 0);
        CHECK(read_to_end(session.server.get()).describe() == "EOF");
        // The server keeps its side open; faultline gives up and resets both ends.
        CHECK(read_to_end(session.client.get()).describe() == "ECONNRESET");
        // The server already read EOF, so its reads keep returning 0 (the kernel reports EOF before
        // a later error); the reset shows as POLLHUP/POLLERR and as a failing send.
        CHECK((wait_poll(session.server.get(), 0, io_timeout) & (POLLHUP | POLLERR)) != 0);
        const long sent = send_once(session.server.get(), "late");
        const std::string send_result = sent >= 0 ? "sent" : errno_name(static_cast<int>(-sent));
        CHECK((send_result == "EPIPE" || send_result == "ECONNRESET"));
        check_record_of(fixture, session,
                        "reason=FIN Timeout initiator=faultline client=timed_out/TCP FINs "
                        "server=timed_out/FIN Timeout");
    }

    TEST_CASE("a client outside the allow list is reset and never reaches the server: Uauth Deny") {
        check_denied_client("allow = [\"10.0.0.0/8\"]");
    }

    TEST_CASE("a client inside the deny list is reset and never reaches the server: Uauth Deny") {
        check_denied_client("deny = [\"127.0.0.0/8\"]");
    }
}

}  // namespace faultline::e2e
