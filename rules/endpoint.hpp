// An address as written in configuration and API input: "127.0.0.1:5432", "[::1]:8474",
// "localhost:8474", "db.internal:5432". Listen addresses must be IP literals (localhost is
// accepted and reported as 127.0.0.1); upstream hosts may be names, resolved at connect time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace faultline::rules {

struct Endpoint {
    std::string host;  // without brackets for IPv6
    std::uint16_t port = 0;

    // "host:port", with brackets around an IPv6 host.
    [[nodiscard]] std::string text() const;
    [[nodiscard]] bool is_ip_literal() const;
    [[nodiscard]] bool is_loopback() const;  // 127.0.0.0/8, ::1 (literal hosts only)
    bool operator==(const Endpoint&) const = default;
};

// Whether a connection to `upstream` certainly arrives at a socket listening on `listener` on
// this machine: the same port, and the same address; or a wildcard listener (0.0.0.0, ::) and an
// upstream on this machine (a wildcard, loopback, localhost, an address of one of its
// interfaces); or a wildcard upstream, which the kernel dials as loopback (127.0.0.1, ::1), and
// that loopback listener. Host names other than localhost are not looked up: false.
[[nodiscard]] bool reaches(const Endpoint& upstream, const Endpoint& listener);

// Parses "host:port". Returns an error message (without location) on failure.
struct EndpointParse {
    std::optional<Endpoint> endpoint;
    std::string error;
};
[[nodiscard]] EndpointParse parse_endpoint(std::string_view text);

// For listen addresses: "localhost" becomes 127.0.0.1; anything else must be an IP literal.
[[nodiscard]] EndpointParse parse_listen_endpoint(std::string_view text);

// Whether two listen addresses cannot both be listened on: the same port (not 0) and the same
// host, or a wildcard host that covers the other one. 0.0.0.0 covers every IPv4 address; [::]
// covers every address, IPv4 too, since faultline's sockets are dual-stack.
[[nodiscard]] bool listens_overlap(const Endpoint& a, const Endpoint& b);

}  // namespace faultline::rules
