// Black-box tests of what a review of rules on live connections found: a renamed proxy keeps its
// port across a reload, an after_bytes threshold at the end of a chunk starts its fault, a rule's
// close that a non-reading endpoint holds up still ends as Deny, removing a forget rule ends the
// forgotten flow, tiny slicer pieces stay within the memory bound, and a reload that replaces a
// proxy while its rules wait on timers leaves nothing dangling.
#include <doctest/doctest.h>
#include <sys/socket.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "tests/e2e/checks.hpp"
#include "tests/e2e/harness.hpp"
#include "tests/e2e/rules_support.hpp"

namespace faultline::e2e {
namespace {

std::string named_proxy(std::string_view name, std::uint16_t listen_port,
                        std::uint16_t upstream_port, std::string_view settings = "") {
    return "[[proxy]]\nname = \"" + std::string(name) +
           "\"\nlisten = \"127.0.0.1:" + std::to_string(listen_port) +
           "\"\nupstream = \"127.0.0.1:" + std::to_string(upstream_port) + "\"\n" +
           std::string(settings) + "\n";
}

std::uint16_t port_of(const sockaddr_in& address) {
    return ntohs(address.sin_port);
}

}  // namespace

TEST_SUITE("e2e rules regressions") {
    TEST_CASE("a proxy renamed by reload listens on the same port at once") {
        ProxyFixture fixture;
        reload_applied(fixture.faultline, fixture.config,
                       named_proxy("renamed", port_of(fixture.proxy), fixture.server.port));
        Session session = fixture.open_session();
        fixture.round_trip(session);
    }

    TEST_CASE(
        "a reload that changes only a proxy's timers keeps its connections and applies them") {
        SessionFixture fixture;
        Session& session = fixture.session;
        reload_applied(fixture, "idle_timeout = \"300ms\"");
        fixture.round_trip(session);  // still the same connection
        CHECK(read_to_end(session.client.get(), 2s).describe() == "EOF");
        const Json record = record_of(fixture, session);
        CHECK(record["reason"] == "Conn-timeout");
    }

    TEST_CASE("an after_bytes threshold reached at the end of a chunk starts the fault") {
        SessionFixture fixture(rule_table("cut", "reset", "target = \"both\", flush = true",
                                          "match = { after_bytes = 5 }"),
                               false);
        Session& session = fixture.session;
        REQUIRE(send_all(session.server.get(), "hello") == 0);
        const Received got = recv_until_eof(session.client.get(), 2s);
        CHECK(got.bytes == "hello");
        CHECK(errno_name(got.error) == "ECONNRESET");
        const Json record = record_of(fixture, session);
        CHECK(record["reason"] == "Deny");
        CHECK(rule_of(record) == "cut");
    }

    TEST_CASE("a rule's close that a client who stopped reading holds up still ends as Deny") {
        SessionFixture fixture(
            "idle_timeout = \"20s\"" +
                rule_table("quiet", "timeout", "timeout = 300", "stream = \"upstream\""),
            false);
        Session& session = fixture.session;
        // The server fills the way to a client that never reads, so no FIN can get out to it.
        const std::string block(256 * 1024, 'x');
        for (int i = 0; i < 64; ++i) {
            if (send_once(session.server.get(), block) < 0) break;
        }
        const auto started = SteadyClock::now();
        const Json record = record_of(fixture.faultline, session.client_address, 5s);
        INFO(record.dump());
        CHECK(record["reason"] == "Deny");
        CHECK(rule_of(record) == "quiet");
        CHECK(ms_since(started) < 4000);
    }

    TEST_CASE("bytes a later rule holds when an earlier one closes still arrive before the FIN") {
        SessionFixture fixture(
            rule_table("cap", "limit_data", "bytes = 10", "stream = \"upstream\"") +
                rule_table("slow", "latency", "latency = 200", "stream = \"upstream\""),
            false);
        Session& session = fixture.session;
        REQUIRE(send_all(session.client.get(), "0123456789abcdef") == 0);
        const Received got = recv_until_eof(session.server.get(), 3s);
        CHECK(got.bytes == "0123456789");
        CHECK(got.eof);
        const Json record = record_of(fixture, session);
        CHECK(record["bytes_up"] == 10);
        CHECK(rule_of(record) == "cap");
    }

    TEST_CASE("removing an idle_timeout forget rule ends the forgotten flow: Xlate Clear") {
        SessionFixture fixture(
            rule_table("nat-expiry", "idle_timeout", "timeout = 200, action = \"forget\""));
        Session& session = fixture.session;
        CHECK(read_result(session.client.get(), 500ms).describe() == "timeout");
        REQUIRE(send_all(session.client.get(), "into the void") == 0);
        CHECK(read_result(session.server.get(), 200ms).describe() == "timeout");

        reload_applied(fixture, "");
        CHECK(read_to_end(session.client.get()).describe() == "ECONNRESET");
        const Json record = record_of(fixture, session);
        INFO(record.dump());
        CHECK(record["reason"] == "Xlate Clear");
        CHECK(rule_of(record) == "nat-expiry");
    }

    TEST_CASE("one-byte slicer pieces to a client that stopped reading keep memory bounded") {
        SessionFixture fixture(rule_table("crumbs", "slicer", "average_size = 1"), false,
                               without_asan_quarantine());
        Session& session = fixture.session;
        const long baseline_kib = fixture.faultline.rss_kib();
        const std::string block(64 * 1024, 's');
        std::size_t sent = 0;
        while (sent < 64u * 1024 * 1024) {
            if ((wait_poll(session.server.get(), POLLOUT, 300ms) & POLLOUT) == 0) break;
            const long n = send_once(session.server.get(), block);
            if (n <= 0) break;
            sent += static_cast<std::size_t>(n);
        }
        const long growth_kib = fixture.faultline.rss_kib() - baseline_kib;
        INFO("sent " << sent << " bytes; RSS grew by " << growth_kib << " KiB");
        CHECK(growth_kib < 32 * 1024);
    }

    TEST_CASE("a reload that replaces a proxy whose rules wait on timers leaves nothing behind") {
        ProxyFixture fixture(rule_table("later", "noop", "", "match = { after = \"20ms\" }"));
        std::vector<Session> sessions;
        for (int i = 0; i < 20; ++i)
            sessions.push_back(fixture.open_session());
        // Disabled: the proxy closes its connections and is freed, while their rules' timers
        // are still pending.
        const auto reload = rewrite_and_wait_reload(
            fixture.faultline, fixture.config,
            named_proxy("p", port_of(fixture.proxy), fixture.server.port,
                        "enabled = false" +
                            rule_table("later", "noop", "", "match = { after = \"20ms\" }")));
        REQUIRE(reload);
        for (const auto& session : sessions) {
            const Json record = record_of(fixture, session);
            CHECK(record["reason"] == "Xlate Clear");
        }
        CHECK(errno_name(try_connect(fixture.proxy, 1s).error) == "ECONNREFUSED");
        CHECK(fixture.faultline.is_running());
    }
}

}  // namespace faultline::e2e
