// What the black-box tests check again and again: a connection's teardown record and its
// classification, how and when an endpoint's reads end, and a normal close by both endpoints.
#pragma once

#include <doctest/doctest.h>
#include <sys/socket.h>

#include <optional>
#include <string>
#include <string_view>

#include "tests/e2e/harness.hpp"
#include "tests/e2e/rules_support.hpp"

namespace faultline::e2e {

// Classifications that many tests expect.
inline const std::string normal_close_by_client =
    "reason=TCP FINs initiator=client client=closed/TCP FINs server=closed/TCP FINs";
inline const std::string cleared_by_operator =
    "reason=Xlate Clear initiator=faultline client=rst_sent/Xlate Clear "
    "server=rst_sent/Xlate Clear";

// The record of the connection from `client_address`, which the test expects by now.
inline Json record_of(Faultline& faultline, std::string_view client_address,
                      Millis timeout = event_timeout) {
    auto record = faultline.wait_teardown_of(client_address, timeout);
    REQUIRE_MESSAGE(record, "no teardown record for " << client_address);
    return *record;
}

inline Json record_of(ProxyFixture& fixture, const Session& session) {
    return record_of(fixture.faultline, session.client_address);
}

// Checks a record's classification (as summary() writes it) and, when given, the rule it names
// ("null" for none). Returns the record, for more checks.
inline Json check_record(const Json& record, std::string_view classification,
                         std::optional<std::string_view> rule = std::nullopt) {
    INFO(record.dump());
    CHECK(summary(record) == classification);
    if (rule) CHECK(rule_of(record) == *rule);
    return record;
}

// The record of the session, checked as above.
inline Json check_record_of(ProxyFixture& fixture, const Session& session,
                            std::string_view classification,
                            std::optional<std::string_view> rule = std::nullopt) {
    return check_record(record_of(fixture, session), classification, rule);
}

// Checks that each field of `expected` has that value in `record`.
inline void check_fields(const Json& record, const Json& expected) {
    INFO(record.dump());
    for (const auto& [key, value] : expected.items()) {
        CAPTURE(key);
        CHECK(record.at(key) == value);
    }
}

// Checks how each endpoint's reads end ("EOF", "ECONNRESET"), the client's first.
inline void check_ends(Session& session, std::string_view client_end, std::string_view server_end) {
    CHECK(read_to_end(session.client.get()).describe() == client_end);
    CHECK(read_to_end(session.server.get()).describe() == server_end);
}

// Both endpoints close their sides normally, the client first (or the server): each reads EOF.
inline void close_normally(Session& session, bool client_first = true) {
    Fd& first = client_first ? session.client : session.server;
    Fd& second = client_first ? session.server : session.client;
    REQUIRE(::shutdown(first.get(), SHUT_WR) == 0);
    CHECK(read_to_end(second.get()).describe() == "EOF");
    second.reset();
    CHECK(read_to_end(first.get()).describe() == "EOF");
    first.reset();
}

// After faultline has sent the client its FIN early (half_close early_fin), both endpoints close:
// the client shuts down, the server reads EOF, and both let go. Returns the connection's record.
inline Json close_after_early_fin(ProxyFixture& fixture, Session& session) {
    REQUIRE(::shutdown(session.client.get(), SHUT_WR) == 0);
    CHECK(read_to_end(session.server.get()).describe() == "EOF");
    session.server.reset();
    session.client.reset();
    return record_of(fixture.faultline, session.client_address, 2s);
}

inline void send_or_fail(int fd, std::string_view bytes) {
    REQUIRE(send_all(fd, bytes) == 0);
}

// Reads `fd` to its end (2 s at most) and checks that it ended `how` ("EOF", "ECONNRESET")
// between `min_ms` and `max_ms` after `since`. Returns the end, for more checks.
inline ReadResult check_end_between(int fd, std::string_view how, SteadyClock::time_point since,
                                    long long min_ms, long long max_ms) {
    const ReadResult end = read_to_end(fd, 2s);
    const auto elapsed = ms_since(since);
    CHECK(end.describe() == how);
    CHECK(elapsed >= min_ms);
    CHECK(elapsed < max_ms);
    return end;
}

// Checks that `bytes` arrived whole: as many as were sent, and the same.
inline void check_intact(const Received& got, const std::string& sent) {
    CHECK(errno_name(got.error) == "0");
    CHECK(got.bytes.size() == sent.size());
    CHECK((got.bytes == sent));
}

}  // namespace faultline::e2e
