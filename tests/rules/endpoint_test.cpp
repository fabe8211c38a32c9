// Tests for rules/endpoint.hpp: what "host:port" text is accepted, how it is printed, and the
// exact message for each kind of mistake.
#include "rules/endpoint.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace faultline::rules {
namespace {

struct Rejected {
    std::string text;
    std::string error;
};

}  // namespace

TEST_CASE("parses an IPv4 literal and its port") {
    const auto parsed = parse_endpoint("127.0.0.1:5432");
    REQUIRE(parsed.endpoint);
    CHECK(parsed.endpoint->host == "127.0.0.1");
    CHECK(parsed.endpoint->port == 5432);
    CHECK(parsed.error.empty());
}

TEST_CASE("parses a bracketed IPv6 literal and stores the host without brackets") {
    const auto parsed = parse_endpoint("[::1]:8474");
    REQUIRE(parsed.endpoint);
    CHECK(parsed.endpoint->host == "::1");
    CHECK(parsed.endpoint->port == 8474);
}

TEST_CASE("writes IPv6 hosts in their canonical form so equal addresses compare equal") {
    const auto parsed = parse_endpoint("[0:0:0:0:0:0:0:1]:80");
    REQUIRE(parsed.endpoint);
    CHECK(*parsed.endpoint == Endpoint{"::1", 80});
}

TEST_CASE("accepts host names for upstreams and keeps them for resolution at connect time") {
    const auto parsed = parse_endpoint("db.internal:5432");
    REQUIRE(parsed.endpoint);
    CHECK(parsed.endpoint->host == "db.internal");
    CHECK_FALSE(parsed.endpoint->is_ip_literal());
}

TEST_CASE("accepts the port range ends 0 and 65535") {
    CHECK(parse_endpoint("127.0.0.1:0").endpoint == Endpoint{"127.0.0.1", 0});
    CHECK(parse_endpoint("127.0.0.1:65535").endpoint == Endpoint{"127.0.0.1", 65535});
}

TEST_CASE("rejects malformed endpoints with a message that quotes the input") {
    const std::vector<Rejected> cases{
        {"abc", "expected host:port, got 'abc'"},
        {"", "expected host:port, got ''"},
        {":80", "expected host:port, got ':80'"},
        {"localhost:", "expected host:port, got 'localhost:'"},
        {"127.0.0.1:70000", "port 70000 out of range 0-65535"},
        {"127.0.0.1:99999999999999999999", "port 99999999999999999999 out of range 0-65535"},
        {"127.0.0.1:http", "invalid port 'http'; expected a number 0-65535"},
        {"127.0.0.1:-1", "invalid port '-1'; expected a number 0-65535"},
        {"::1:80", "an IPv6 address needs brackets, as in [::1]:8474, got '::1:80'"},
        {"[::1]80", "expected host:port, got '[::1]80'"},
        {"[::1:80", "expected host:port, got '[::1:80'"},
        {"[::g]:80", "invalid IPv6 address '[::g]'"},
        {"256.0.0.1:80", "invalid IPv4 address '256.0.0.1'"},
        {"1.2.3:80", "invalid IPv4 address '1.2.3'"},
        {"bad_name:80", "invalid host name 'bad_name'"},
        {"-db.internal:80", "invalid host name '-db.internal'"},
        {"db..internal:80", "invalid host name 'db..internal'"},
    };
    for (const auto& rejected : cases) {
        CAPTURE(rejected.text);
        const auto parsed = parse_endpoint(rejected.text);
        CHECK_FALSE(parsed.endpoint);
        CHECK(parsed.error == rejected.error);
    }
}

TEST_CASE("turns localhost into 127.0.0.1 for listen addresses") {
    CHECK(parse_listen_endpoint("localhost:8474").endpoint == Endpoint{"127.0.0.1", 8474});
    CHECK(parse_listen_endpoint("LocalHost:1").endpoint == Endpoint{"127.0.0.1", 1});
}

TEST_CASE("accepts IP literals as listen addresses") {
    CHECK(parse_listen_endpoint("0.0.0.0:15432").endpoint == Endpoint{"0.0.0.0", 15432});
    CHECK(parse_listen_endpoint("[::]:0").endpoint == Endpoint{"::", 0});
}

TEST_CASE("refuses host names other than localhost as listen addresses") {
    const auto parsed = parse_listen_endpoint("example.com:80");
    CHECK_FALSE(parsed.endpoint);
    CHECK(parsed.error == "listen address must be an IP literal or localhost, got 'example.com'");
}

TEST_CASE("reports syntax errors of listen addresses like any endpoint") {
    CHECK(parse_listen_endpoint("127.0.0.1:70000").error == "port 70000 out of range 0-65535");
}

TEST_CASE("prints host:port, with brackets around IPv6 hosts") {
    CHECK(Endpoint{"127.0.0.1", 80}.text() == "127.0.0.1:80");
    CHECK(Endpoint{"::1", 80}.text() == "[::1]:80");
    CHECK(Endpoint{"db.internal", 5432}.text() == "db.internal:5432");
}

TEST_CASE("recognises loopback addresses among IP literals only") {
    CHECK(Endpoint{"127.0.0.1", 1}.is_loopback());
    CHECK(Endpoint{"127.255.0.9", 1}.is_loopback());
    CHECK(Endpoint{"::1", 1}.is_loopback());
    CHECK(Endpoint{"::ffff:127.0.0.1", 1}.is_loopback());
    CHECK_FALSE(Endpoint{"0.0.0.0", 1}.is_loopback());
    CHECK_FALSE(Endpoint{"::", 1}.is_loopback());
    CHECK_FALSE(Endpoint{"10.0.0.1", 1}.is_loopback());
    CHECK_FALSE(Endpoint{"localhost", 1}.is_loopback());
}

TEST_CASE("tells IP literals from host names") {
    CHECK(Endpoint{"10.1.2.3", 1}.is_ip_literal());
    CHECK(Endpoint{"fe80::1", 1}.is_ip_literal());
    CHECK_FALSE(Endpoint{"db.internal", 1}.is_ip_literal());
}

TEST_CASE("two listen addresses overlap on the same port when a host equals or covers the other") {
    struct Row {
        Endpoint a;
        Endpoint b;
        bool overlaps;
    };
    const std::vector<Row> rows{
        {{"127.0.0.1", 80}, {"127.0.0.1", 80}, true},
        {{"127.0.0.1", 80}, {"127.0.0.1", 81}, false},
        {{"127.0.0.1", 80}, {"127.0.0.2", 80}, false},
        {{"0.0.0.0", 80}, {"127.0.0.2", 80}, true},
        {{"127.0.0.2", 80}, {"0.0.0.0", 80}, true},
        {{"0.0.0.0", 80}, {"::1", 80}, false},
        {{"::", 80}, {"127.0.0.1", 80}, true},
        {{"10.0.0.1", 80}, {"::", 80}, true},
        {{"::1", 80}, {"::1", 80}, true},
        {{"::1", 80}, {"127.0.0.1", 80}, false},
        {{"::ffff:127.0.0.1", 80}, {"127.0.0.1", 80}, true},
        {{"0.0.0.0", 0}, {"0.0.0.0", 0}, false},  // port 0: each gets a port of its own
    };
    for (const Row& row : rows) {
        CAPTURE(row.a.text());
        CAPTURE(row.b.text());
        CHECK(listens_overlap(row.a, row.b) == row.overlaps);
    }
}

TEST_CASE("an upstream reaches a listener on the same port at its address, or through a wildcard") {
    auto endpoint = [](std::string_view text) { return *parse_endpoint(text).endpoint; };
    struct Case {
        std::string_view upstream;
        std::string_view listener;
        bool reaches;
    };
    const Case cases[] = {
        {"127.0.0.1:5000", "127.0.0.1:5000", true},
        {"0.0.0.0:5000", "0.0.0.0:5000", true},
        {"0.0.0.0:5000", "127.0.0.1:5000", true},  // the kernel dials 127.0.0.1
        {"127.0.0.2:5000", "0.0.0.0:5000", true},  // loopback, on a wildcard listener
        {"localhost:5000", "127.0.0.1:5000", true},
        {"LocalHost:5000", "[::1]:5000", true},
        {"[::]:5000", "[::]:5000", true},
        {"[::]:5000", "[::1]:5000", true},
        {"[::1]:5000", "[::]:5000", true},
        {"127.0.0.1:5001", "127.0.0.1:5000", false},  // another port
        {"127.0.0.2:5000", "127.0.0.1:5000", false},  // another loopback address
        {"0.0.0.0:5000", "127.0.0.2:5000", false},
        {"[::1]:5000", "0.0.0.0:5000", false},  // another family
        {"db.example:5000", "0.0.0.0:5000", false},
        {"127.0.0.1:0", "127.0.0.1:0", false},  // a port not known yet
    };
    for (const auto& c : cases) {
        INFO(c.upstream << " -> " << c.listener);
        CHECK(reaches(endpoint(c.upstream), endpoint(c.listener)) == c.reaches);
    }
}

}  // namespace faultline::rules
