// Black-box tests of live changes (hot reload, docs/faults.md): the faultline binary watches its
// configuration file; rewriting it (at the same path) or SIGHUP applies the new rules to the
// connections that are open, a rule that goes away releases what it held, and an invalid file
// changes nothing.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/e2e/checks.hpp"
#include "tests/e2e/harness.hpp"
#include "tests/e2e/rules_support.hpp"

namespace faultline::e2e {
namespace {

// The 1-based line of `text` on which `needle` first appears; 0 when it does not.
std::size_t line_of(const std::string& text, std::string_view needle) {
    const auto at = text.find(needle);
    if (at == std::string::npos) return 0;
    const std::string_view before = std::string_view(text).substr(0, at);
    return 1 + static_cast<std::size_t>(std::count(before.begin(), before.end(), '\n'));
}

// The time a reply from the server takes to reach the client.
long long reply_delay_ms(Session& session) {
    const auto sent = SteadyClock::now();
    REQUIRE(send_all(session.server.get(), "pong") == 0);
    REQUIRE(recv_exact(session.client.get(), 4).bytes == "pong");
    return ms_since(sent);
}

bool is_listener_state(const Json& value, std::string_view state) {
    return value.value("event", "") == "listener" && value.value("state", "") == state;
}

// Local ports of the sockets that are still connecting (SYN_SENT) to 127.0.0.1:port, from the
// kernel's table (/proc/net/tcp); while a refuse drop rule is on, those are faultline's own queue
// fillers whose SYN was dropped.
std::vector<std::uint16_t> ports_connecting_to(std::uint16_t port) {
    std::ifstream table("/proc/net/tcp");
    std::string line;
    std::getline(table, line);  // the header
    char wanted[16];
    std::snprintf(wanted, sizeof wanted, "0100007F:%04X", port);
    std::vector<std::uint16_t> ports;
    while (std::getline(table, line)) {
        std::istringstream fields(line);
        std::string slot, local, remote, state;
        fields >> slot >> local >> remote >> state;
        if (remote != wanted || state != "02") continue;
        ports.push_back(static_cast<std::uint16_t>(std::stoul(local.substr(9), nullptr, 16)));
    }
    return ports;
}

// A blocking client socket bound to 127.0.0.1:local_port and connected to `to` (at most 2 s); a
// closed Fd when the kernel does not let that port be used again yet.
Fd connect_from(std::uint16_t local_port, const sockaddr_in& to) {
    Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    REQUIRE(fd.is_open());
    const int one = 1;
    REQUIRE(::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0);
    const timeval limit{2, 0};
    REQUIRE(::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit) == 0);
    const sockaddr_in local = loopback(local_port);
    const bool bound =
        ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&local), sizeof local) == 0;
    const int connected =
        bound ? ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&to), sizeof to) : -1;
    const int error = connected == 0 ? 0 : errno;
    // A filler whose handshake completed late was closed by faultline's side: its port waits in
    // TIME_WAIT towards this same address, and the kernel will not reuse it yet.
    if (error == EADDRINUSE || error == EADDRNOTAVAIL) return Fd();
    INFO("connect from port " << local_port << ": " << errno_name(error));
    REQUIRE(connected == 0);
    return fd;
}

}  // namespace

TEST_SUITE("e2e reload") {
    TEST_CASE("a rule added by rewriting the file applies to a connection that is already open") {
        SessionFixture fixture;
        Session& session = fixture.session;

        const Json reload = reload_applied(fixture, rule_table("quota", "limit_data", "bytes = 5"));
        CHECK(reload["trigger"] == "file changed");
        CHECK(reload["file"] == fixture.config.path());

        REQUIRE(send_all(session.server.get(), "0123456789") == 0);
        const Received got = recv_until_eof(session.client.get(), 2s);
        CHECK(got.bytes == "01234");
        CHECK(got.eof);
        const Json record = record_of(fixture, session);
        INFO(record.dump());
        CHECK(record.at("reason") == "Deny");
        CHECK(rule_of(record) == "quota");
    }

    TEST_CASE("a rule removed by rewriting the file stops acting on an open connection") {
        SessionFixture fixture(rule_table("slow", "latency", "latency = 300"), false);
        Session& session = fixture.session;
        CHECK(reply_delay_ms(session) >= 299);

        reload_applied(fixture, "");
        CHECK(reply_delay_ms(session) < 150);
    }

    TEST_CASE("reset_peer added by reload counts from the next byte of an open connection") {
        SessionFixture fixture;
        Session& session = fixture.session;

        reload_applied(fixture, rule_table("hang-up", "reset_peer", "timeout = 200"));
        const auto first_byte_at = SteadyClock::now();
        REQUIRE(send_all(session.server.get(), "late") == 0);
        CHECK(recv_exact(session.client.get(), 4).bytes == "late");
        check_end_between(session.client.get(), "ECONNRESET", first_byte_at, 199, 500);
        CHECK(read_to_end(session.server.get()).describe() == "ECONNRESET");
        check_record_of(fixture, session,
                        "reason=Deny initiator=faultline client=rst_sent/Deny server=rst_sent/Deny",
                        "hang-up");
    }

    TEST_CASE(
        "half_close early_fin added by reload: the client of an open connection gets EOF at once "
        "while its own bytes still reach the server") {
        SessionFixture fixture;
        Session& session = fixture.session;

        reload_applied(fixture, rule_table("early", "half_close", "mode = \"early_fin\""));
        CHECK(read_result(session.client.get(), 2s).describe() == "EOF");
        REQUIRE(send_all(session.client.get(), "still talking") == 0);
        CHECK(recv_exact(session.server.get(), 13).bytes == "still talking");

        // The server's late bytes are dropped; when both close, the connection ends normally.
        REQUIRE(send_all(session.server.get(), "unheard") == 0);
        // "ping" + "still talking" up, "pong" down.
        check_fields(close_after_early_fin(fixture, session),
                     {{"reason", "TCP FINs"}, {"bytes_up", 17}, {"bytes_down", 4}});
    }

    TEST_CASE("removing a refuse drop rule lets a hanging connect through") {
        ProxyFixture fixture(rule_table("syn-drop", "refuse", "mode = \"drop\""));
        const Connected hanging = try_connect(fixture.proxy, 500ms);
        REQUIRE(errno_name(hanging.error) == "ETIMEDOUT");

        reload_applied(fixture, "");
        // The client's kernel sends its SYN again (after 1 s) and the listener now answers; the
        // attempt still in progress completes.
        CHECK((wait_poll(hanging.fd.get(), POLLOUT, 3s) & POLLOUT) != 0);
        int error = -1;
        socklen_t length = sizeof error;
        REQUIRE(::getsockopt(hanging.fd.get(), SOL_SOCKET, SO_ERROR, &error, &length) == 0);
        CHECK(errno_name(error) == "0");
        const Fd server = accept_from(fixture.server.fd.get());
        REQUIRE(server.is_open());
        REQUIRE(send_all(hanging.fd.get(), "ping") == 0);
        CHECK(recv_exact(server.get(), 4).bytes == "ping");
        // faultline's own queue fillers made no sessions.
        CHECK(fixture.faultline.teardowns().empty());
    }

    TEST_CASE(
        "after a refuse drop rule goes, a client from the port of a queue filler whose SYN was "
        "dropped gets a session like any other") {
        ProxyFixture fixture(rule_table("syn-drop", "refuse", "mode = \"drop\""));
        REQUIRE(fixture.faultline.wait_event(
            [](const Json& value) { return is_listener_state(value, "dropping"); }));
        const auto filler_ports = ports_connecting_to(ntohs(fixture.proxy.sin_port));
        if (filler_ports.empty()) {
            MESSAGE("every queue filler completed its handshake: nothing to check this time");
            return;
        }
        reload_applied(fixture, "");

        for (const std::uint16_t port : filler_ports) {
            CAPTURE(port);
            Session session;
            session.client = connect_from(port, fixture.proxy);
            if (!session.client.is_open()) {
                MESSAGE("port ", port, " is not free again yet: nothing to check for it");
                continue;
            }
            session.client_address = local_address(session.client.get());
            session.server = accept_from(fixture.server.fd.get(), 2s);
            REQUIRE_MESSAGE(session.server.is_open(), "the client was taken for a queue filler");
            fixture.round_trip(session);
            session.client.reset();
            CHECK(read_to_end(session.server.get()).describe() == "EOF");
            session.server.reset();
            const Json record = record_of(fixture, session);
            CHECK(record.at("reason") == "TCP FINs");
        }
    }

    TEST_CASE(
        "a rule removed from an open connection is not named when the proxy's idle timer ends "
        "it") {
        SessionFixture fixture(
            "idle_timeout = \"400ms\"" + rule_table("slow", "latency", "latency = 200"), false);
        Session& session = fixture.session;
        CHECK(reply_delay_ms(session) >= 199);
        reload_applied(fixture, "idle_timeout = \"400ms\"");
        CHECK(reply_delay_ms(session) < 150);

        CHECK(read_to_end(session.client.get(), 2s).describe() == "EOF");
        const Json record = record_of(fixture, session);
        INFO(record.dump());
        CHECK(record.at("reason") == "Conn-timeout");
        CHECK(record.at("rule").is_null());
    }

    TEST_CASE("removing an interrupt stall delivers the held bytes, in order, both ways") {
        SessionFixture fixture(
            rule_table("link-down", "interrupt", "mode = \"stall\"", "stream = \"both\""), false);
        Session& session = fixture.session;
        REQUIRE(send_all(session.client.get(), "up-1,") == 0);
        REQUIRE(send_all(session.server.get(), "down-1,") == 0);
        CHECK(read_result(session.server.get(), 300ms).describe() == "timeout");
        CHECK(read_result(session.client.get(), 0ms).describe() == "timeout");
        REQUIRE(send_all(session.client.get(), "up-2") == 0);
        REQUIRE(send_all(session.server.get(), "down-2") == 0);

        reload_applied(fixture, "");
        CHECK(recv_exact(session.server.get(), 9).bytes == "up-1,up-2");
        CHECK(recv_exact(session.client.get(), 13).bytes == "down-1,down-2");
        fixture.round_trip(session);
    }

    TEST_CASE(
        "scenario 1 ended by the operator: removing a discard interruption that swallowed bytes "
        "resets the connection: Xlate Clear naming the rule") {
        SessionFixture fixture(
            rule_table("cable-pulled", "interrupt", "mode = \"discard\"", "stream = \"upstream\""),
            false);
        Session& session = fixture.session;
        REQUIRE(send_all(session.client.get(), "lost words") == 0);
        CHECK(read_result(session.server.get(), 300ms).describe() == "timeout");

        reload_applied(fixture, "");
        check_ends(session, "ECONNRESET", "ECONNRESET");
        const Json record = check_record_of(fixture, session, cleared_by_operator, "cable-pulled");
        CHECK(record.at("bytes_up") == 0);
    }

    TEST_CASE("removing a discard interruption that swallowed nothing lets the connection go on") {
        SessionFixture fixture(
            rule_table("cable-pulled", "interrupt", "mode = \"discard\"", "stream = \"upstream\""),
            false);
        Session& session = fixture.session;
        reload_applied(fixture, "");
        fixture.round_trip(session);
    }

    TEST_CASE("disabling a rule (enabled = false) releases what it held") {
        const std::string stalled = rule_table("stalled", "bandwidth", "rate = 0");
        SessionFixture fixture(stalled, false);
        Session& session = fixture.session;
        const std::string payload = pattern(50'000, 5);
        REQUIRE(send_all(session.server.get(), payload) == 0);
        CHECK(read_result(session.client.get(), 300ms).describe() == "timeout");

        reload_applied(fixture, stalled + "enabled = false\n");
        const Received got = recv_exact(session.client.get(), payload.size());
        CHECK(got.bytes.size() == payload.size());
        CHECK((got.bytes == payload));
    }

    TEST_CASE("a changed attribute applies to an open connection: a stalled stream moves again") {
        SessionFixture fixture(rule_table("throttle", "bandwidth", "rate = 0"), false);
        Session& session = fixture.session;
        const std::string payload = pattern(50'000, 6);
        REQUIRE(send_all(session.server.get(), payload) == 0);
        CHECK(read_result(session.client.get(), 300ms).describe() == "timeout");

        // 100 MB/s: the held 50 KB leave within about half a millisecond.
        reload_applied(fixture, rule_table("throttle", "bandwidth", "rate = 100000"));
        const Received got = recv_exact(session.client.get(), payload.size());
        CHECK(got.bytes.size() == payload.size());
        CHECK((got.bytes == payload));
    }

    TEST_CASE("an unrelated change to the rules draws no toxicity again on open connections") {
        const std::string coin = rule_table("coin", "latency", "latency = 100", "toxicity = 0.5");
        ProxyFixture fixture(coin);
        std::vector<Session> sessions;
        std::vector<bool> delayed_before;
        for (int i = 0; i < 8; ++i) {
            sessions.push_back(fixture.open_session());
            delayed_before.push_back(reply_delay_ms(sessions.back()) >= 50);
        }

        reload_applied(fixture, coin + rule_table("unrelated", "noop"));
        for (std::size_t i = 0; i < sessions.size(); ++i) {
            CAPTURE(i);
            CHECK((reply_delay_ms(sessions[i]) >= 50) == delayed_before[i]);
        }
    }

    TEST_CASE("an invalid file logs reload_failed with file:line:col and keeps the old rules") {
        const std::string quota = rule_table("quota", "limit_data", "bytes = 3");
        ProxyFixture fixture(quota);
        Session before = fixture.open_session();

        const std::string broken =
            proxy_config(fixture.server.port, quota + rule_table("typo", "latncy", "latency = 1"));
        const auto failed = rewrite_and_wait_reload(fixture.faultline, fixture.config, broken);
        REQUIRE(failed);
        INFO(failed->dump());
        CHECK((*failed)["event"] == "reload_failed");
        CHECK((*failed)["level"] == "error");
        CHECK((*failed)["file"] == fixture.config.path());
        REQUIRE((*failed)["errors"].is_array());
        REQUIRE((*failed)["errors"].size() == 1);
        const std::string expected_start = fixture.config.path() + ":" +
                                           std::to_string(line_of(broken, "\"latncy\"")) +
                                           ":8: proxy[0].rule[1].type: unknown fault type "
                                           "'latncy'; known: ";
        CHECK((*failed)["errors"][0].get<std::string>().starts_with(expected_start));

        // The old rule is still in force, on the open connection and on new ones.
        REQUIRE(send_all(before.server.get(), "abcdef") == 0);
        CHECK(recv_until_eof(before.client.get(), 2s).bytes == "abc");
        Session after = fixture.open_session();
        REQUIRE(send_all(after.server.get(), "abcdef") == 0);
        CHECK(recv_until_eof(after.client.get(), 2s).bytes == "abc");
        const Json record = record_of(fixture.faultline, after.client_address);
        CHECK(rule_of(record) == "quota");

        // A valid file afterwards is applied.
        reload_applied(fixture, "");
        Session unlimited = fixture.open_session();
        REQUIRE(send_all(unlimited.server.get(), "abcdef") == 0);
        CHECK(recv_exact(unlimited.client.get(), 6).bytes == "abcdef");
    }

    TEST_CASE("SIGHUP reloads the configuration file") {
        SessionFixture fixture;
        Session& session = fixture.session;

        rewrite_file(
            fixture.config.path(),
            proxy_config(fixture.server.port, rule_table("quota", "limit_data", "bytes = 2")));
        REQUIRE(fixture.faultline.signal(SIGHUP));
        const auto reload = fixture.faultline.wait_event([](const Json& value) {
            return value.value("event", "") == "reload" && value.value("trigger", "") == "SIGHUP";
        });
        REQUIRE(reload);
        REQUIRE(send_all(session.server.get(), "abcdef") == 0);
        const Received got = recv_until_eof(session.client.get(), 2s);
        CHECK(got.bytes == "ab");
        CHECK(got.eof);
        CHECK(fixture.faultline.is_running());
    }

    TEST_CASE("a file saved by renaming a new one over it is reloaded too") {
        SessionFixture fixture("", false);
        Session& session = fixture.session;
        const std::size_t before = count_events(fixture.faultline, is_reload_outcome);

        // The new content is written to a file of its own, then renamed over the watched one.
        const TempConfig staged(
            proxy_config(fixture.server.port, rule_table("quota", "limit_data", "bytes = 2")));
        REQUIRE(std::rename(staged.path().c_str(), fixture.config.path().c_str()) == 0);
        std::size_t seen = 0;
        const auto reload = fixture.faultline.wait_event(
            [&](const Json& value) { return is_reload_outcome(value) && ++seen == before + 1; });
        REQUIRE(reload);
        CHECK((*reload)["event"] == "reload");
        REQUIRE(send_all(session.server.get(), "abcdef") == 0);
        CHECK(recv_until_eof(session.client.get(), 2s).bytes == "ab");
    }

    TEST_CASE("a proxy removed from the file closes its open connections: Xlate Clear") {
        SessionFixture fixture;
        Session& session = fixture.session;

        reload_applied(fixture.faultline, fixture.config,
                       proxy_config(fixture.server.port, "", "q"));
        check_ends(session, "ECONNRESET", "ECONNRESET");
        check_record_of(fixture, session, cleared_by_operator, "null");
        CHECK(errno_name(try_connect(fixture.proxy, 1s).error) == "ECONNREFUSED");
    }

    TEST_CASE("a refuse reject rule added by reload leaves open connections alone") {
        SessionFixture fixture;
        Session& session = fixture.session;

        reload_applied(fixture, rule_table("service-down", "refuse", "mode = \"reject\""));
        CHECK(fixture.faultline.wait_event(
            [](const Json& value) { return is_listener_state(value, "refusing"); }));
        CHECK(errno_name(try_connect(fixture.proxy, 1s).error) == "ECONNREFUSED");
        fixture.round_trip(session);
    }
}

}  // namespace faultline::e2e
