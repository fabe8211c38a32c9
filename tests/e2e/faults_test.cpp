// Black-box tests of every fault type (and of the reference scenarios 1 and 3, docs/faults.md): a
// real client and server talk through the faultline binary with one [[proxy.rule]], and each test
// asserts what the two endpoints observe (bytes, EOF, ECONNRESET, EPIPE, ECONNREFUSED, a connect
// that hangs, silence) and the teardown record of a connection that a rule ended.
#include <doctest/doctest.h>
#include <sys/socket.h>

#include <cerrno>
#include <string>
#include <thread>

#include "tests/e2e/checks.hpp"
#include "tests/e2e/harness.hpp"
#include "tests/e2e/rules_support.hpp"

namespace faultline::e2e {
namespace {

// A Deny record: each endpoint's state.
std::string denied(std::string_view client_state, std::string_view server_state) {
    return "reason=Deny initiator=faultline client=" + std::string(client_state) +
           "/Deny server=" + std::string(server_state) + "/Deny";
}

// A Conn-timeout record in which both endpoints ended in `state`.
std::string idle_closed(std::string_view state) {
    return "reason=Conn-timeout initiator=faultline client=" + std::string(state) +
           "/Conn-timeout server=" + std::string(state) + "/Conn-timeout";
}

// What the endpoints saw of a reset rule (`attributes`) that starts once 5 bytes of the server's
// "hello world" have passed.
struct ResetOutcome {
    Received at_client;      // until the client's EOF or error
    std::string server_end;  // how the server's reads ended
    Json record;
};

ResetOutcome reset_after_five_bytes(std::string_view name, std::string_view attributes) {
    SessionFixture fixture(rule_table(name, "reset", attributes, "match = { after_bytes = 5 }"),
                           false);
    Session& session = fixture.session;
    send_or_fail(session.server.get(), "hello world");
    ResetOutcome outcome;
    outcome.at_client = recv_until_eof(session.client.get(), 2s);
    outcome.server_end = read_to_end(session.server.get()).describe();
    outcome.record = record_of(fixture, session);
    return outcome;
}

bool is_listener_state(const Json& value, std::string_view state) {
    return value.value("event", "") == "listener" && value.value("state", "") == state;
}

}  // namespace

TEST_SUITE("e2e faults") {
    TEST_CASE("latency delays every reply by the configured latency, without adding up") {
        SessionFixture fixture(rule_table("slow-replies", "latency", "latency = 200"), false);
        Session& session = fixture.session;
        CHECK(rule_fired(fixture.faultline, "slow-replies", event_timeout));

        for (int round = 0; round < 3; ++round) {
            CAPTURE(round);
            // Upstream has no rule: the request is not held.
            const auto request_sent = SteadyClock::now();
            send_or_fail(session.client.get(), "ping");
            CHECK(recv_exact(session.server.get(), 4).bytes == "ping");
            CHECK(ms_since(request_sent) < 150);

            const auto reply_sent = SteadyClock::now();
            send_or_fail(session.server.get(), "pong");
            CHECK(recv_exact(session.client.get(), 4).bytes == "pong");
            const auto delay = ms_since(reply_sent);
            CHECK(delay >= 199);
            CHECK(delay < 250);
        }
        close_normally(session);
        check_record_of(fixture, session, normal_close_by_client, "null");
    }

    TEST_CASE("latency with jitter keeps each delay within latency plus or minus jitter") {
        SessionFixture fixture(rule_table("wobbly", "latency", "latency = 200, jitter = 50"),
                               false);
        Session& session = fixture.session;
        for (int round = 0; round < 3; ++round) {
            CAPTURE(round);
            const auto reply_sent = SteadyClock::now();
            send_or_fail(session.server.get(), "pong");
            CHECK(recv_exact(session.client.get(), 4).bytes == "pong");
            const auto delay = ms_since(reply_sent);
            CHECK(delay >= 149);
            CHECK(delay < 300);
        }
    }

    TEST_CASE("bandwidth of 200 KB/s carries 400 KB in about two seconds, every byte intact") {
        SessionFixture fixture(rule_table("narrow", "bandwidth", "rate = 200"), false);
        Session& session = fixture.session;
        const std::string payload = pattern(400'000);

        const auto started = SteadyClock::now();
        int send_error = -1;
        std::thread sender([&] { send_error = send_all(session.server.get(), payload, 8s); });
        const Received got = recv_exact(session.client.get(), payload.size(), 8s);
        const auto elapsed = ms_since(started);
        sender.join();

        CHECK(send_error == 0);
        check_intact(got, payload);
        CHECK(elapsed >= 1800);
        CHECK(elapsed <= 2200);
    }

    TEST_CASE("bandwidth of rate 0 stalls the stream, and removing the rule delivers every byte") {
        SessionFixture fixture(rule_table("stalled", "bandwidth", "rate = 0"), false);
        Session& session = fixture.session;
        const std::string payload = pattern(100'000, 3);
        send_or_fail(session.server.get(), payload);
        CHECK(read_result(session.client.get(), 300ms).describe() == "timeout");
        // The other direction is not stalled.
        send_or_fail(session.client.get(), "ping");
        CHECK(recv_exact(session.server.get(), 4).bytes == "ping");

        reload_applied(fixture, "");
        check_intact(recv_exact(session.client.get(), payload.size()), payload);
        // Nothing more than what was sent, and the connection goes on normally.
        fixture.round_trip(session);
    }

    TEST_CASE("slow_close forwards the bytes at once and the FIN only after the delay") {
        SessionFixture fixture(rule_table("lingering", "slow_close", "delay = 300"));
        Session& session = fixture.session;

        const auto closed_at = SteadyClock::now();
        send_or_fail(session.server.get(), "bye");
        REQUIRE(::shutdown(session.server.get(), SHUT_WR) == 0);
        CHECK(recv_exact(session.client.get(), 3).bytes == "bye");
        CHECK(ms_since(closed_at) < 150);
        CHECK(read_result(session.client.get(), 2s).describe() == "EOF");
        const auto fin_delay = ms_since(closed_at);
        CHECK(fin_delay >= 299);
        CHECK(fin_delay < 600);

        session.client.reset();
        CHECK(read_to_end(session.server.get()).describe() == "EOF");
        check_record_of(fixture, session,
                        "reason=TCP FINs initiator=server client=closed/TCP FINs "
                        "server=closed/TCP FINs",
                        "null");
    }

    TEST_CASE(
        "half_close drop_fin keeps the FIN from the server, and half_closed_timeout still ends "
        "the connection: FIN Timeout naming the rule") {
        SessionFixture fixture(
            "half_closed_timeout = \"300ms\"" +
            rule_table("no-fin", "half_close", "mode = \"drop_fin\"", "stream = \"upstream\""));
        Session& session = fixture.session;

        const auto closed_at = SteadyClock::now();
        REQUIRE(::shutdown(session.client.get(), SHUT_WR) == 0);
        // The server never hears the FIN; faultline saw it, so the connection is half-closed and
        // ends when it has been silent for half_closed_timeout.
        check_end_between(session.server.get(), "ECONNRESET", closed_at, 299, 2000);
        CHECK(read_to_end(session.client.get()).describe() == "ECONNRESET");
        check_record_of(fixture, session,
                        "reason=FIN Timeout initiator=faultline client=timed_out/TCP FINs "
                        "server=timed_out/FIN Timeout",
                        "no-fin");
    }

    TEST_CASE("timeout drops the bytes and closes both sides after the timeout: Deny") {
        SessionFixture fixture(rule_table("black-hole", "timeout", "timeout = 300"), false);
        Session& session = fixture.session;
        send_or_fail(session.client.get(), "ping");  // upstream has no rule
        CHECK(recv_exact(session.server.get(), 4).bytes == "ping");

        const auto sent_at = SteadyClock::now();
        send_or_fail(session.server.get(), "lost");
        const ReadResult client_end =
            check_end_between(session.client.get(), "EOF", sent_at, 299, 600);
        CHECK(client_end.bytes == 0);
        CHECK(read_to_end(session.server.get()).describe() == "EOF");

        const Json record =
            check_record_of(fixture, session, denied("fin_sent", "fin_sent"), "black-hole");
        CHECK(record["bytes_down"] == 0);
    }

    TEST_CASE("reset_peer resets both endpoints the timeout after the first byte: Deny") {
        SessionFixture fixture(rule_table("hang-up", "reset_peer", "timeout = 300"), false);
        Session& session = fixture.session;

        const auto first_byte_at = SteadyClock::now();
        send_or_fail(session.server.get(), "first");
        CHECK(recv_exact(session.client.get(), 5).bytes == "first");
        check_end_between(session.client.get(), "ECONNRESET", first_byte_at, 299, 600);
        CHECK(read_to_end(session.server.get()).describe() == "ECONNRESET");
        check_record_of(fixture, session, denied("rst_sent", "rst_sent"), "hang-up");
    }

    TEST_CASE("slicer cuts the streams into small pieces and delivers every byte intact") {
        SessionFixture fixture(
            rule_table("crumbs", "slicer", "average_size = 7, size_variation = 3, delay = 50",
                       "stream = \"both\""),
            false);
        Session& session = fixture.session;
        CHECK(rule_fired(fixture.faultline, "crumbs_upstream", event_timeout));
        CHECK(rule_fired(fixture.faultline, "crumbs_downstream", event_timeout));

        const std::string up = pattern(10'000, 1);
        const std::string down = pattern(10'000, 2);
        send_or_fail(session.client.get(), up);
        check_intact(recv_exact(session.server.get(), up.size()), up);
        send_or_fail(session.server.get(), down);
        check_intact(recv_exact(session.client.get(), down.size()), down);

        close_normally(session);
        const Json record = record_of(fixture, session);
        INFO(record.dump());
        CHECK(record["reason"] == "TCP FINs");
        CHECK(record["bytes_up"] == up.size());
        CHECK(record["bytes_down"] == down.size());
    }

    TEST_CASE("slicer with an invalid size fails faultline check with exit 2 and a message") {
        struct Case {
            const char* attributes;
            const char* message;
        };
        for (const Case& c :
             {Case{"average_size = 0",
                   "proxy[0].rule[0].attributes.average_size: must be greater than 0, got 0"},
              Case{"average_size = 10, size_variation = 11",
                   "size_variation: must not be greater than average_size"}}) {
            CAPTURE(c.attributes);
            const TempConfig config(
                proxy_config(unused_port(), rule_table("bad", "slicer", c.attributes)));
            const ProcessResult result = check_config(config.path());
            INFO(result.err);
            CHECK(result.status.describe() == "exit 2");
            CHECK(result.err.find(c.message) != std::string::npos);
        }
    }

    TEST_CASE("limit_data lets exactly that many bytes through, then closes: Deny") {
        SessionFixture fixture(rule_table("quota", "limit_data", "bytes = 100"), false);
        Session& session = fixture.session;
        const std::string payload = pattern(1000);
        send_or_fail(session.server.get(), payload);

        const Received got = recv_until_eof(session.client.get(), 2s);
        CHECK(got.eof);
        CHECK(errno_name(got.error) == "0");
        CHECK(got.bytes == payload.substr(0, 100));
        CHECK(read_to_end(session.server.get()).describe() == "EOF");

        const Json record =
            check_record_of(fixture, session, denied("fin_sent", "fin_sent"), "quota");
        CHECK(record["bytes_down"] == 100);
    }

    TEST_CASE("noop changes nothing but logs that it fired") {
        SessionFixture fixture(rule_table("watching", "noop"));
        Session& session = fixture.session;
        const auto fired = fixture.faultline.wait_event([](const Json& value) {
            return value.value("event", "") == "rule_fired" &&
                   value.value("rule", "") == "watching";
        });
        REQUIRE(fired);
        CHECK((*fired)["type"] == "noop");
        CHECK((*fired)["stream"] == "downstream");
        CHECK((*fired)["proxy"] == "p");

        close_normally(session);
        check_record_of(fixture, session, normal_close_by_client, "null");
    }

    TEST_CASE("interrupt stall holds the bytes for the duration, then delivers them") {
        ProxyFixture fixture(
            rule_table("link-down", "interrupt", "mode = \"stall\", duration = 400"));
        const auto connected_at = SteadyClock::now();
        Session session = fixture.open_session();
        send_or_fail(session.server.get(), "held back");
        CHECK(read_result(session.client.get(), 150ms).describe() == "timeout");

        CHECK(recv_exact(session.client.get(), 9, 2s).bytes == "held back");
        const auto elapsed = ms_since(connected_at);
        CHECK(elapsed >= 399);
        CHECK(elapsed < 700);
        // The link is back: replies pass at once.
        const auto reply_sent = SteadyClock::now();
        fixture.round_trip(session);
        CHECK(ms_since(reply_sent) < 150);
    }

    TEST_CASE("interrupt discard swallows what is sent during the interruption") {
        SessionFixture fixture(
            rule_table("blip", "interrupt", "mode = \"discard\", duration = 300"), false);
        Session& session = fixture.session;
        send_or_fail(session.server.get(), "gone");
        // Longer than the interruption: "gone" never comes, and neither EOF nor an error.
        CHECK(read_result(session.client.get(), 500ms).describe() == "timeout");
        send_or_fail(session.server.get(), "back");
        std::string seen;
        CHECK(read_result(session.client.get(), 2s, &seen).describe() == "data");
        CHECK(seen == "back");
    }

    TEST_CASE(
        "scenario 1: a pulled cable (interrupt discard) goes unnoticed by the server until the "
        "proxy's idle timeout: Conn-timeout naming the rule") {
        SessionFixture fixture(
            "idle_timeout = \"300ms\"" + rule_table("cable-pulled", "interrupt",
                                                    "mode = \"discard\"", "stream = \"upstream\""),
            false);
        Session& session = fixture.session;
        const auto sent_at = SteadyClock::now();
        send_or_fail(session.client.get(), "are you there?");

        // The server hears nothing at all (no byte, no EOF, no error) until the proxy's own idle
        // timer ends the connection.
        const ReadResult server_end =
            check_end_between(session.server.get(), "EOF", sent_at, 299, 800);
        CHECK(server_end.bytes == 0);
        CHECK(read_to_end(session.client.get()).describe() == "EOF");

        check_fields(check_record_of(fixture, session, idle_closed("timed_out"), "cable-pulled"),
                     {{"bytes_up", 0}});
    }

    TEST_CASE(
        "scenario 3 injected: reset of the client without flush gives the client ECONNRESET and "
        "the server EOF: Deny") {
        ProxyFixture fixture(
            rule_table("server-gone", "reset", "target = \"client\", flush = false"));
        const Connected client = try_connect(fixture.proxy);
        const Fd server = accept_from(fixture.server.fd.get());
        CHECK(first_end(client) == "ECONNRESET");
        REQUIRE(server.is_open());
        CHECK(read_to_end(server.get()).describe() == "EOF");
        check_record(record_of(fixture.faultline, client.local_address),
                     denied("rst_sent", "fin_sent"), "server-gone");
    }

    TEST_CASE("reset with flush delivers the bytes forwarded before the RST") {
        const ResetOutcome outcome =
            reset_after_five_bytes("cut", "target = \"client\", flush = true");
        CHECK(outcome.at_client.bytes == "hello");
        CHECK(errno_name(outcome.at_client.error) == "ECONNRESET");
        CHECK(outcome.server_end == "EOF");
        check_record(outcome.record, denied("rst_sent", "fin_sent"), "cut");
        CHECK(outcome.record["bytes_down"] == 5);
    }

    TEST_CASE("reset of both endpoints without flush: the RST may overtake the bytes") {
        const ResetOutcome outcome =
            reset_after_five_bytes("cut", "target = \"both\", flush = false");
        CHECK(std::string_view("hello").starts_with(outcome.at_client.bytes));
        CHECK(errno_name(outcome.at_client.error) == "ECONNRESET");
        CHECK(outcome.server_end == "ECONNRESET");
        check_record(outcome.record, denied("rst_sent", "rst_sent"), "cut");
    }

    TEST_CASE("reset of the server only: the server gets ECONNRESET, the client a FIN") {
        const ResetOutcome outcome = reset_after_five_bytes("cut-server", "target = \"server\"");
        CHECK(outcome.server_end == "ECONNRESET");
        CHECK((outcome.at_client.eof && outcome.at_client.error == 0));
        check_record(outcome.record, denied("fin_sent", "rst_sent"), "cut-server");
    }

    TEST_CASE("half_close drop_fin: the client's FIN never reaches the server") {
        SessionFixture fixture(
            rule_table("lost-fin", "half_close", "mode = \"drop_fin\"", "stream = \"upstream\""),
            false);
        Session& session = fixture.session;
        send_or_fail(session.client.get(), "last words");
        REQUIRE(::shutdown(session.client.get(), SHUT_WR) == 0);

        CHECK(recv_exact(session.server.get(), 10).bytes == "last words");
        CHECK(read_result(session.server.get(), 400ms).describe() == "timeout");
        // The other direction keeps flowing.
        send_or_fail(session.server.get(), "reply");
        CHECK(recv_exact(session.client.get(), 5).bytes == "reply");
    }

    TEST_CASE(
        "half_close early_fin: the client gets EOF while its own bytes still reach the server") {
        SessionFixture fixture(rule_table("early", "half_close", "mode = \"early_fin\""), false);
        Session& session = fixture.session;
        CHECK(read_result(session.client.get(), 2s).describe() == "EOF");

        send_or_fail(session.client.get(), "still talking");
        CHECK(recv_exact(session.server.get(), 13).bytes == "still talking");

        // Both sides close: the connection ends normally.
        const Json record = close_after_early_fin(fixture, session);
        INFO(record.dump());
        CHECK(record.at("reason") == "TCP FINs");
        CHECK(record.at("client").at("state") == "closed");
        CHECK(record.at("server").at("state") == "closed");
        // faultline sent the first FIN, for the rule.
        CHECK(record.at("initiator") == "faultline");
        CHECK(record.at("rule") == "early");
    }

    TEST_CASE("half_close fin_to_rst: the client's FIN reaches the server as ECONNRESET: Deny") {
        SessionFixture fixture(rule_table("fin-becomes-rst", "half_close", "mode = \"fin_to_rst\"",
                                          "stream = \"upstream\""));
        Session& session = fixture.session;
        send_or_fail(session.client.get(), "bye");
        REQUIRE(::shutdown(session.client.get(), SHUT_WR) == 0);

        const Received at_server = recv_until_eof(session.server.get(), 2s);
        CHECK(at_server.bytes == "bye");
        CHECK(errno_name(at_server.error) == "ECONNRESET");
        CHECK(read_to_end(session.client.get()).describe() == "EOF");
        check_record_of(fixture, session,
                        "reason=Deny initiator=faultline client=closed/TCP FINs "
                        "server=rst_sent/Deny",
                        "fin-becomes-rst");
    }

    TEST_CASE(
        "an interrupted download: with no rule, a client's FIN still lets every byte of the "
        "server's transfer through") {
        SessionFixture fixture("", false);
        Session& session = fixture.session;
        send_or_fail(session.client.get(), "GET /big");
        REQUIRE(::shutdown(session.client.get(), SHUT_WR) == 0);
        CHECK(recv_exact(session.server.get(), 8).bytes == "GET /big");
        CHECK(read_result(session.server.get()).describe() == "EOF");

        const std::string download = pattern(std::size_t{2} << 20);
        int send_error = -1;
        std::thread sender([&] {
            send_error = send_all(session.server.get(), download);
            ::shutdown(session.server.get(), SHUT_WR);
        });
        const Received got = recv_until_eof(session.client.get());
        sender.join();
        CHECK(send_error == 0);
        CHECK(got.eof);
        check_intact(got, download);
        session.client.reset();
        session.server.reset();
        check_record_of(fixture, session, normal_close_by_client);
    }

    TEST_CASE(
        "half_close collapse: after the client's half-close, the server's next bytes draw an "
        "RST: Deny") {
        SessionFixture fixture(
            rule_table("collapse", "half_close", "mode = \"collapse\"", "stream = \"upstream\""),
            false);
        Session& session = fixture.session;
        send_or_fail(session.client.get(), "GET /big");
        REQUIRE(::shutdown(session.client.get(), SHUT_WR) == 0);
        CHECK(recv_exact(session.server.get(), 8).bytes == "GET /big");
        CHECK(read_result(session.server.get()).describe() == "EOF");

        // The first send succeeds (the kernel takes it); faultline answers it with an RST.
        CHECK(send_once(session.server.get(), "the download") == 12);
        const Json record = record_of(fixture, session);
        INFO(record.dump());
        CHECK(record["reason"] == "Deny");
        CHECK(rule_of(record) == "collapse");
        CHECK(record["server"]["state"] == "rst_sent");
        CHECK(record["bytes_down"] == 0);
        // The RST is in: the server's next send fails.
        const long again = send_once(session.server.get(), "more");
        CHECK((again == -ECONNRESET || again == -EPIPE));
        CHECK(read_to_end(session.client.get()).describe() == "ECONNRESET");
    }

    TEST_CASE("refuse reject: connects get ECONNREFUSED until the rule is removed") {
        ProxyFixture fixture(rule_table("service-down", "refuse", "mode = \"reject\""));
        CHECK(fixture.faultline.wait_event(
            [](const Json& value) { return is_listener_state(value, "refusing"); }));
        for (int attempt = 0; attempt < 2; ++attempt) {
            const Connected refused = try_connect(fixture.proxy, 1s);
            CHECK(errno_name(refused.error) == "ECONNREFUSED");
        }
        CHECK_FALSE(has_pending_connection(fixture.server.fd.get(), 0ms));

        reload_applied(fixture, "");
        CHECK(fixture.faultline.wait_event(
            [](const Json& value) { return is_listener_state(value, "accepting"); }));
        Session session = fixture.open_session();
        fixture.round_trip(session);
    }

    TEST_CASE("refuse drop: a new connect hangs") {
        ProxyFixture fixture(rule_table("syn-drop", "refuse", "mode = \"drop\""));
        CHECK(fixture.faultline.wait_event(
            [](const Json& value) { return is_listener_state(value, "dropping"); }));
        const Connected hanging = try_connect(fixture.proxy, 500ms);
        CHECK(errno_name(hanging.error) == "ETIMEDOUT");
        CHECK_FALSE(has_pending_connection(fixture.server.fd.get(), 0ms));
    }

    TEST_CASE("refuse reset: the connect may succeed, then ECONNRESET: Deny") {
        ProxyFixture fixture(rule_table("slam", "refuse", "mode = \"reset\""));
        const Connected client = try_connect(fixture.proxy);
        CHECK(first_end(client) == "ECONNRESET");
        check_record(record_of(fixture.faultline, client.local_address),
                     denied("rst_sent", "rst_sent"), "slam");
    }

    TEST_CASE("idle_timeout fin or rst closes an idle connection after the timeout: Conn-timeout") {
        struct Case {
            const char* action;
            const char* end;    // what each endpoint reads
            const char* state;  // both endpoints' state in the record
        };
        for (const Case& c :
             {Case{"fin", "EOF", "fin_sent"}, Case{"rst", "ECONNRESET", "rst_sent"}}) {
            CAPTURE(c.action);
            SessionFixture fixture(
                rule_table("nat-expiry", "idle_timeout",
                           "timeout = 300, action = \"" + std::string(c.action) + "\""));
            Session& session = fixture.session;
            const auto idle_since = SteadyClock::now();

            check_end_between(session.client.get(), c.end, idle_since, 250, 700);
            CHECK(read_to_end(session.server.get()).describe() == c.end);
            check_record_of(fixture, session, idle_closed(c.state), "nat-expiry");
        }
    }

    TEST_CASE("idle_timeout forget swallows later bytes from either side, silently") {
        SessionFixture fixture(
            rule_table("nat-expiry", "idle_timeout", "timeout = 300, action = \"forget\""));
        Session& session = fixture.session;

        // Past the timeout the flow is forgotten, and nobody is told.
        CHECK(read_result(session.client.get(), 600ms).describe() == "timeout");
        send_or_fail(session.client.get(), "anyone there?");
        CHECK(read_result(session.server.get(), 300ms).describe() == "timeout");
        send_or_fail(session.server.get(), "hello?");
        CHECK(read_result(session.client.get(), 300ms).describe() == "timeout");

        // When both endpoints give up, the record names the rule.
        session.client.reset();
        session.server.reset();
        const Json record = record_of(fixture, session);
        INFO(record.dump());
        CHECK(record["reason"] == "Conn-timeout");
        CHECK(rule_of(record) == "nat-expiry");
        CHECK(record["bytes_up"] == 4);
        CHECK(record["bytes_down"] == 4);
    }
}

}  // namespace faultline::e2e
