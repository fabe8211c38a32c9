// Black-box tests of every fault type (DESIGN section 4 and reference scenarios 1 and 3): a real
// client and server talk through the faultline binary with one [[proxy.rule]], and each test
// asserts what the two endpoints observe (bytes, EOF, ECONNRESET, EPIPE, ECONNREFUSED, a connect
// that hangs, silence) and the teardown record of a connection that a rule ended.
#include <doctest/doctest.h>
#include <sys/socket.h>

#include <cerrno>
#include <string>
#include <thread>

#include "tests/e2e/harness.hpp"
#include "tests/e2e/rules_support.hpp"

namespace faultline::e2e {
namespace {

// The teardown record of the session, which the test expects to be over by now.
Json record_of(ProxyFixture& fixture, const Session& session) {
    auto record = fixture.faultline.wait_teardown_of(session.client_address);
    REQUIRE_MESSAGE(record, "no teardown record for " << session.client_address);
    return *record;
}

// Both endpoints close their sides normally, client first.
void close_normally(Session& session) {
    REQUIRE(::shutdown(session.client.get(), SHUT_WR) == 0);
    CHECK(read_to_end(session.server.get()).describe() == "EOF");
    session.server.reset();
    CHECK(read_to_end(session.client.get()).describe() == "EOF");
    session.client.reset();
}

void send_or_fail(int fd, std::string_view bytes) {
    REQUIRE(send_all(fd, bytes) == 0);
}

bool is_listener_state(const Json& value, std::string_view state) {
    return value.value("event", "") == "listener" && value.value("state", "") == state;
}

}  // namespace

TEST_SUITE("e2e faults") {
    TEST_CASE("latency delays every reply by the configured latency, without adding up") {
        ProxyFixture fixture(rule_table("slow-replies", "latency", "latency = 200"));
        INFO(fixture.faultline.log_tail());
        Session session = fixture.open_session();
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
        const Json record = record_of(fixture, session);
        INFO(record.dump());
        CHECK(summary(record) ==
              "reason=TCP FINs initiator=client client=closed/TCP FINs server=closed/TCP FINs");
        CHECK(record["rule"].is_null());
    }

    TEST_CASE("latency with jitter keeps each delay within latency plus or minus jitter") {
        ProxyFixture fixture(rule_table("wobbly", "latency", "latency = 200, jitter = 50"));
        INFO(fixture.faultline.log_tail());
        Session session = fixture.open_session();
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
        ProxyFixture fixture(rule_table("narrow", "bandwidth", "rate = 200"));
        INFO(fixture.faultline.log_tail());
        Session session = fixture.open_session();
        const std::string payload = pattern(400'000);

        const auto started = SteadyClock::now();
        int send_error = -1;
        std::thread sender([&] { send_error = send_all(session.server.get(), payload, 8s); });
        const Received got = recv_exact(session.client.get(), payload.size(), 8s);
        const auto elapsed = ms_since(started);
        sender.join();

        CHECK(send_error == 0);
        CHECK(errno_name(got.error) == "0");
        CHECK(got.bytes.size() == payload.size());
        CHECK((got.bytes == payload));
        CHECK(elapsed >= 1800);
        CHECK(elapsed <= 2200);
    }

    TEST_CASE("bandwidth of rate 0 stalls the stream, and removing the rule delivers every byte") {
        ProxyFixture fixture(rule_table("stalled", "bandwidth", "rate = 0"));
        INFO(fixture.faultline.log_tail());
        Session session = fixture.open_session();
        const std::string payload = pattern(100'000, 3);
        send_or_fail(session.server.get(), payload);
        CHECK(read_result(session.client.get(), 300ms).describe() == "timeout");
        // The other direction is not stalled.
        send_or_fail(session.client.get(), "ping");
        CHECK(recv_exact(session.server.get(), 4).bytes == "ping");

        reload_applied(fixture, "");
        const Received got = recv_exact(session.client.get(), payload.size());
        CHECK(errno_name(got.error) == "0");
        CHECK(got.bytes.size() == payload.size());
        CHECK((got.bytes == payload));
        // Nothing more than what was sent, and the connection goes on normally.
        fixture.round_trip(session);
    }

    TEST_CASE("slow_close forwards the bytes at once and the FIN only after the delay") {
        ProxyFixture fixture(rule_table("lingering", "slow_close", "delay = 300"));
        INFO(fixture.faultline.log_tail());
        Session session = fixture.open_session();
        fixture.round_trip(session);

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
        const Json record = record_of(fixture, session);
        INFO(record.dump());
        CHECK(summary(record) ==
              "reason=TCP FINs initiator=server client=closed/TCP FINs server=closed/TCP FINs");
        CHECK(record["rule"].is_null());
    }

    TEST_CASE("timeout drops the bytes and closes both sides after the timeout: Deny") {
        ProxyFixture fixture(rule_table("black-hole", "timeout", "timeout = 300"));
        INFO(fixture.faultline.log_tail());
        Session session = fixture.open_session();
        send_or_fail(session.client.get(), "ping");  // upstream has no rule
        CHECK(recv_exact(session.server.get(), 4).bytes == "ping");

        const auto sent_at = SteadyClock::now();
        send_or_fail(session.server.get(), "lost");
        const ReadResult client_end = read_to_end(session.client.get(), 2s);
        const auto elapsed = ms_since(sent_at);
        CHECK(client_end.describe() == "EOF");
        CHECK(client_end.bytes == 0);
        CHECK(elapsed >= 299);
        CHECK(elapsed < 600);
        CHECK(read_to_end(session.server.get()).describe() == "EOF");

        const Json record = record_of(fixture, session);
        INFO(record.dump());
        CHECK(summary(record) ==
              "reason=Deny initiator=faultline client=fin_sent/Deny server=fin_sent/Deny");
        CHECK(rule_of(record) == "black-hole");
        CHECK(record["bytes_down"] == 0);
    }

    TEST_CASE("reset_peer resets both endpoints the timeout after the first byte: Deny") {
        ProxyFixture fixture(rule_table("hang-up", "reset_peer", "timeout = 300"));
        INFO(fixture.faultline.log_tail());
        Session session = fixture.open_session();

        const auto first_byte_at = SteadyClock::now();
        send_or_fail(session.server.get(), "first");
        CHECK(recv_exact(session.client.get(), 5).bytes == "first");
        const ReadResult client_end = read_to_end(session.client.get(), 2s);
        const auto elapsed = ms_since(first_byte_at);
        CHECK(client_end.describe() == "ECONNRESET");
        CHECK(elapsed >= 299);
        CHECK(elapsed < 600);
        CHECK(read_to_end(session.server.get()).describe() == "ECONNRESET");

        const Json record = record_of(fixture, session);
        INFO(record.dump());
        CHECK(summary(record) ==
              "reason=Deny initiator=faultline client=rst_sent/Deny server=rst_sent/Deny");
        CHECK(rule_of(record) == "hang-up");
    }

    TEST_CASE("slicer cuts the streams into small pieces and delivers every byte intact") {
        ProxyFixture fixture(rule_table("crumbs", "slicer",
                                        "average_size = 7, size_variation = 3, delay = 50",
                                        "stream = \"both\""));
        INFO(fixture.faultline.log_tail());
        Session session = fixture.open_session();
        CHECK(rule_fired(fixture.faultline, "crumbs_upstream", event_timeout));
        CHECK(rule_fired(fixture.faultline, "crumbs_downstream", event_timeout));

        const std::string up = pattern(10'000, 1);
        const std::string down = pattern(10'000, 2);
        send_or_fail(session.client.get(), up);
        const Received at_server = recv_exact(session.server.get(), up.size());
        CHECK(at_server.bytes.size() == up.size());
        CHECK((at_server.bytes == up));
        send_or_fail(session.server.get(), down);
        const Received at_client = recv_exact(session.client.get(), down.size());
        CHECK(at_client.bytes.size() == down.size());
        CHECK((at_client.bytes == down));

        close_normally(session);
        const Json record = record_of(fixture, session);
        INFO(record.dump());
        CHECK(record["reason"] == "TCP FINs");
        CHECK(record["bytes_up"] == up.size());
        CHECK(record["bytes_down"] == down.size());
    }

    TEST_CASE("slicer with an invalid size fails faultline check with exit 2 and a message") {
        const TempConfig zero(
            proxy_config(unused_port(), rule_table("bad", "slicer", "average_size = 0")));
        const ProcessResult zero_result = check_config(zero.path());
        INFO(zero_result.err);
        CHECK(zero_result.status.describe() == "exit 2");
        CHECK(zero_result.err.find("proxy[0].rule[0].attributes.average_size: must be greater "
                                   "than 0, got 0") != std::string::npos);

        const TempConfig wide(proxy_config(
            unused_port(), rule_table("bad", "slicer", "average_size = 10, size_variation = 11")));
        const ProcessResult wide_result = check_config(wide.path());
        INFO(wide_result.err);
        CHECK(wide_result.status.describe() == "exit 2");
        CHECK(wide_result.err.find("size_variation: must not be greater than average_size") !=
              std::string::npos);
    }

    TEST_CASE("limit_data lets exactly that many bytes through, then closes: Deny") {
        ProxyFixture fixture(rule_table("quota", "limit_data", "bytes = 100"));
        INFO(fixture.faultline.log_tail());
        Session session = fixture.open_session();
        const std::string payload = pattern(1000);
        send_or_fail(session.server.get(), payload);

        const Received got = recv_until_eof(session.client.get(), 2s);
        CHECK(got.eof);
        CHECK(errno_name(got.error) == "0");
        CHECK(got.bytes == payload.substr(0, 100));
        CHECK(read_to_end(session.server.get()).describe() == "EOF");

        const Json record = record_of(fixture, session);
        INFO(record.dump());
        CHECK(summary(record) ==
              "reason=Deny initiator=faultline client=fin_sent/Deny server=fin_sent/Deny");
        CHECK(rule_of(record) == "quota");
        CHECK(record["bytes_down"] == 100);
    }

    TEST_CASE("noop changes nothing but logs that it fired") {
        ProxyFixture fixture(rule_table("watching", "noop"));
        INFO(fixture.faultline.log_tail());
        Session session = fixture.open_session();
        fixture.round_trip(session);
        const auto fired = fixture.faultline.wait_event([](const Json& value) {
            return value.value("event", "") == "rule_fired" &&
                   value.value("rule", "") == "watching";
        });
        REQUIRE(fired);
        CHECK((*fired)["type"] == "noop");
        CHECK((*fired)["stream"] == "downstream");
        CHECK((*fired)["proxy"] == "p");

        close_normally(session);
        const Json record = record_of(fixture, session);
        INFO(record.dump());
        CHECK(summary(record) ==
              "reason=TCP FINs initiator=client client=closed/TCP FINs server=closed/TCP FINs");
        CHECK(record["rule"].is_null());
    }

    TEST_CASE("interrupt stall holds the bytes for the duration, then delivers them") {
        ProxyFixture fixture(
            rule_table("link-down", "interrupt", "mode = \"stall\", duration = 400"));
        INFO(fixture.faultline.log_tail());
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
        ProxyFixture fixture(rule_table("blip", "interrupt", "mode = \"discard\", duration = 300"));
        INFO(fixture.faultline.log_tail());
        Session session = fixture.open_session();
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
        ProxyFixture fixture("idle_timeout = \"300ms\"" + rule_table("cable-pulled", "interrupt",
                                                                     "mode = \"discard\"",
                                                                     "stream = \"upstream\""));
        INFO(fixture.faultline.log_tail());
        Session session = fixture.open_session();
        const auto sent_at = SteadyClock::now();
        send_or_fail(session.client.get(), "are you there?");

        // The server hears nothing at all (no byte, no EOF, no error) until the proxy's own idle
        // timer ends the connection.
        const ReadResult server_end = read_to_end(session.server.get(), 2s);
        const auto elapsed = ms_since(sent_at);
        CHECK(server_end.bytes == 0);
        CHECK(server_end.describe() == "EOF");
        CHECK(elapsed >= 299);
        CHECK(elapsed < 800);
        CHECK(read_to_end(session.client.get()).describe() == "EOF");

        const Json record = record_of(fixture, session);
        INFO(record.dump());
        CHECK(summary(record) ==
              "reason=Conn-timeout initiator=faultline client=timed_out/Conn-timeout "
              "server=timed_out/Conn-timeout");
        CHECK(rule_of(record) == "cable-pulled");
        CHECK(record["bytes_up"] == 0);
    }

    TEST_CASE(
        "scenario 3 injected: reset of the client without flush gives the client ECONNRESET and "
        "the server EOF: Deny") {
        ProxyFixture fixture(
            rule_table("server-gone", "reset", "target = \"client\", flush = false"));
        INFO(fixture.faultline.log_tail());
        const Connected client = try_connect(fixture.proxy);
        const Fd server = accept_from(fixture.server.fd.get());
        CHECK(first_end(client) == "ECONNRESET");
        REQUIRE(server.is_open());
        CHECK(read_to_end(server.get()).describe() == "EOF");

        const auto record = fixture.faultline.wait_teardown_of(client.local_address);
        REQUIRE(record);
        INFO(record->dump());
        CHECK(summary(*record) ==
              "reason=Deny initiator=faultline client=rst_sent/Deny server=fin_sent/Deny");
        CHECK(rule_of(*record) == "server-gone");
    }

    TEST_CASE("reset with flush delivers the bytes forwarded before the RST") {
        ProxyFixture fixture(rule_table("cut", "reset", "target = \"client\", flush = true",
                                        "match = { after_bytes = 5 }"));
        INFO(fixture.faultline.log_tail());
        Session session = fixture.open_session();
        send_or_fail(session.server.get(), "hello world");

        const Received got = recv_until_eof(session.client.get(), 2s);
        CHECK(got.bytes == "hello");
        CHECK(errno_name(got.error) == "ECONNRESET");
        CHECK(read_to_end(session.server.get()).describe() == "EOF");

        const Json record = record_of(fixture, session);
        INFO(record.dump());
        CHECK(summary(record) ==
              "reason=Deny initiator=faultline client=rst_sent/Deny server=fin_sent/Deny");
        CHECK(rule_of(record) == "cut");
        CHECK(record["bytes_down"] == 5);
    }

    TEST_CASE("reset of both endpoints without flush: the RST may overtake the bytes") {
        ProxyFixture fixture(rule_table("cut", "reset", "target = \"both\", flush = false",
                                        "match = { after_bytes = 5 }"));
        INFO(fixture.faultline.log_tail());
        Session session = fixture.open_session();
        send_or_fail(session.server.get(), "hello world");

        const Received got = recv_until_eof(session.client.get(), 2s);
        CHECK(std::string_view("hello").starts_with(got.bytes));
        CHECK(errno_name(got.error) == "ECONNRESET");
        CHECK(read_to_end(session.server.get()).describe() == "ECONNRESET");

        const Json record = record_of(fixture, session);
        INFO(record.dump());
        CHECK(summary(record) ==
              "reason=Deny initiator=faultline client=rst_sent/Deny server=rst_sent/Deny");
        CHECK(rule_of(record) == "cut");
    }

    TEST_CASE("reset of the server only: the server gets ECONNRESET, the client a FIN") {
        ProxyFixture fixture(rule_table("cut-server", "reset", "target = \"server\"",
                                        "match = { after_bytes = 5 }"));
        INFO(fixture.faultline.log_tail());
        Session session = fixture.open_session();
        send_or_fail(session.server.get(), "hello world");

        CHECK(read_to_end(session.server.get()).describe() == "ECONNRESET");
        CHECK(read_to_end(session.client.get()).describe() == "EOF");

        const Json record = record_of(fixture, session);
        INFO(record.dump());
        CHECK(summary(record) ==
              "reason=Deny initiator=faultline client=fin_sent/Deny server=rst_sent/Deny");
        CHECK(rule_of(record) == "cut-server");
    }

    TEST_CASE("half_close drop_fin: the client's FIN never reaches the server") {
        ProxyFixture fixture(
            rule_table("lost-fin", "half_close", "mode = \"drop_fin\"", "stream = \"upstream\""));
        INFO(fixture.faultline.log_tail());
        Session session = fixture.open_session();
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
        ProxyFixture fixture(rule_table("early", "half_close", "mode = \"early_fin\""));
        INFO(fixture.faultline.log_tail());
        Session session = fixture.open_session();
        CHECK(read_result(session.client.get(), 2s).describe() == "EOF");

        send_or_fail(session.client.get(), "still talking");
        CHECK(recv_exact(session.server.get(), 13).bytes == "still talking");

        // Both sides close: the connection ends normally.
        REQUIRE(::shutdown(session.client.get(), SHUT_WR) == 0);
        CHECK(read_to_end(session.server.get()).describe() == "EOF");
        session.server.reset();
        session.client.reset();
        const auto record = fixture.faultline.wait_teardown_of(session.client_address, 2s);
        REQUIRE_MESSAGE(record, "the session did not end after both endpoints closed");
        INFO(record->dump());
        CHECK(record->at("reason") == "TCP FINs");
        CHECK(record->at("client").at("state") == "closed");
        CHECK(record->at("server").at("state") == "closed");
        // faultline sent the first FIN, for the rule.
        CHECK(record->at("initiator") == "faultline");
        CHECK(record->at("rule") == "early");
    }

    TEST_CASE("half_close fin_to_rst: the client's FIN reaches the server as ECONNRESET: Deny") {
        ProxyFixture fixture(rule_table("fin-becomes-rst", "half_close", "mode = \"fin_to_rst\"",
                                        "stream = \"upstream\""));
        INFO(fixture.faultline.log_tail());
        Session session = fixture.open_session();
        fixture.round_trip(session);
        send_or_fail(session.client.get(), "bye");
        REQUIRE(::shutdown(session.client.get(), SHUT_WR) == 0);

        const Received at_server = recv_until_eof(session.server.get(), 2s);
        CHECK(at_server.bytes == "bye");
        CHECK(errno_name(at_server.error) == "ECONNRESET");
        CHECK(read_to_end(session.client.get()).describe() == "EOF");

        const Json record = record_of(fixture, session);
        INFO(record.dump());
        CHECK(summary(record) ==
              "reason=Deny initiator=faultline client=closed/TCP FINs server=rst_sent/Deny");
        CHECK(rule_of(record) == "fin-becomes-rst");
    }

    TEST_CASE(
        "an interrupted download: with no rule, a client's FIN still lets every byte of the "
        "server's transfer through") {
        ProxyFixture fixture;
        INFO(fixture.faultline.log_tail());
        Session session = fixture.open_session();
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
        CHECK(got.bytes.size() == download.size());
        CHECK((got.bytes == download));
        session.client.reset();
        session.server.reset();

        const Json record = record_of(fixture, session);
        INFO(record.dump());
        CHECK(summary(record) ==
              "reason=TCP FINs initiator=client client=closed/TCP FINs server=closed/TCP FINs");
    }

    TEST_CASE(
        "half_close collapse: after the client's half-close, the server's next bytes draw an "
        "RST: Deny") {
        ProxyFixture fixture(
            rule_table("collapse", "half_close", "mode = \"collapse\"", "stream = \"upstream\""));
        INFO(fixture.faultline.log_tail());
        Session session = fixture.open_session();
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
        INFO(fixture.faultline.log_tail());
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
        INFO(fixture.faultline.log_tail());
        CHECK(fixture.faultline.wait_event(
            [](const Json& value) { return is_listener_state(value, "dropping"); }));
        const Connected hanging = try_connect(fixture.proxy, 500ms);
        CHECK(errno_name(hanging.error) == "ETIMEDOUT");
        CHECK_FALSE(has_pending_connection(fixture.server.fd.get(), 0ms));
    }

    TEST_CASE("refuse reset: the connect may succeed, then ECONNRESET: Deny") {
        ProxyFixture fixture(rule_table("slam", "refuse", "mode = \"reset\""));
        INFO(fixture.faultline.log_tail());
        const Connected client = try_connect(fixture.proxy);
        CHECK(first_end(client) == "ECONNRESET");

        const auto record = fixture.faultline.wait_teardown_of(client.local_address);
        REQUIRE(record);
        INFO(record->dump());
        CHECK(summary(*record) ==
              "reason=Deny initiator=faultline client=rst_sent/Deny server=rst_sent/Deny");
        CHECK(rule_of(*record) == "slam");
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
            ProxyFixture fixture(
                rule_table("nat-expiry", "idle_timeout",
                           "timeout = 300, action = \"" + std::string(c.action) + "\""));
            INFO(fixture.faultline.log_tail());
            Session session = fixture.open_session();
            fixture.round_trip(session);
            const auto idle_since = SteadyClock::now();

            CHECK(read_to_end(session.client.get(), 2s).describe() == c.end);
            const auto elapsed = ms_since(idle_since);
            CHECK(elapsed >= 250);
            CHECK(elapsed < 700);
            CHECK(read_to_end(session.server.get()).describe() == c.end);

            const Json record = record_of(fixture, session);
            INFO(record.dump());
            CHECK(summary(record) ==
                  "reason=Conn-timeout initiator=faultline client=" + std::string(c.state) +
                      "/Conn-timeout server=" + c.state + "/Conn-timeout");
            CHECK(rule_of(record) == "nat-expiry");
        }
    }

    TEST_CASE("idle_timeout forget swallows later bytes from either side, silently") {
        ProxyFixture fixture(
            rule_table("nat-expiry", "idle_timeout", "timeout = 300, action = \"forget\""));
        INFO(fixture.faultline.log_tail());
        Session session = fixture.open_session();
        fixture.round_trip(session);

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
