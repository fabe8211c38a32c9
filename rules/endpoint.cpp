// Parsing and printing of "host:port" endpoints, with the checks that keep a typo in an address
// from reaching the socket layer: IP literals through inet_pton, names by the hostname rules.
#include "rules/endpoint.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace faultline::rules {
namespace {

bool is_ipv4_literal(const std::string& host) {
    in_addr address{};
    return inet_pton(AF_INET, host.c_str(), &address) == 1;
}

std::optional<in6_addr> ipv6_address(const std::string& host) {
    in6_addr address{};
    if (inet_pton(AF_INET6, host.c_str(), &address) != 1) return std::nullopt;
    return address;
}

// The canonical text of an IPv6 address, so that "::1" and "0:0::1" compare equal.
std::string canonical_ipv6(const in6_addr& address) {
    std::array<char, INET6_ADDRSTRLEN> text{};
    if (inet_ntop(AF_INET6, &address, text.data(), text.size()) == nullptr) return {};
    return text.data();
}

bool is_alnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// RFC 1123 host names: dot-separated labels of letters, digits and inner hyphens.
bool is_hostname(std::string_view host) {
    if (host.empty() || host.size() > 253) return false;
    while (!host.empty()) {
        const auto dot = host.find('.');
        const auto label = host.substr(0, dot);
        if (label.empty() || label.size() > 63) return false;
        if (label.front() == '-' || label.back() == '-') return false;
        const auto is_label_char = [](char c) { return is_alnum(c) || c == '-'; };
        if (!std::all_of(label.begin(), label.end(), is_label_char)) return false;
        if (dot == std::string_view::npos) break;
        host.remove_prefix(dot + 1);
        if (host.empty()) return false;  // trailing dot
    }
    return true;
}

bool looks_numeric(std::string_view host) {
    return std::all_of(host.begin(), host.end(),
                       [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
}

EndpointParse failure(std::string message) {
    return {std::nullopt, std::move(message)};
}

std::string quoted(std::string_view text) {
    return "'" + std::string(text) + "'";
}

EndpointParse parse_port(std::string_view text, std::string_view port, Endpoint endpoint) {
    if (port.empty()) return failure("expected host:port, got " + quoted(text));
    if (!std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return failure("invalid port " + quoted(port) + "; expected a number 0-65535");
    }
    unsigned long value = 0;
    const auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (error != std::errc{} || end != port.data() + port.size() || value > 65535) {
        return failure("port " + std::string(port) + " out of range 0-65535");
    }
    endpoint.port = static_cast<std::uint16_t>(value);
    return {std::move(endpoint), {}};
}

EndpointParse parse_bracketed(std::string_view text) {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return failure("expected host:port, got " + quoted(text));
    const std::string host(text.substr(1, close - 1));
    const auto address = ipv6_address(host);
    if (!address) return failure("invalid IPv6 address " + quoted(text.substr(0, close + 1)));
    const auto rest = text.substr(close + 1);
    if (rest.empty() || rest.front() != ':') {
        return failure("expected host:port, got " + quoted(text));
    }
    return parse_port(text, rest.substr(1), Endpoint{canonical_ipv6(*address), 0});
}

// An IP literal as the 16 bytes of an IPv6 address (IPv4 as ::ffff:a.b.c.d), so that both
// families compare in one way.
std::optional<in6_addr> as_ipv6(const std::string& host) {
    in_addr v4{};
    if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
        in6_addr mapped{};
        mapped.s6_addr[10] = 0xff;
        mapped.s6_addr[11] = 0xff;
        std::memcpy(&mapped.s6_addr[12], &v4, sizeof v4);
        return mapped;
    }
    return ipv6_address(host);
}

// An IP address as the kernel compares it: the family and its bytes.
struct IpAddress {
    int family = AF_UNSPEC;
    std::array<unsigned char, 16> bytes{};

    bool operator==(const IpAddress&) const = default;
};

std::optional<IpAddress> ip_address(const std::string& host) {
    IpAddress ip;
    if (inet_pton(AF_INET, host.c_str(), ip.bytes.data()) == 1) {
        ip.family = AF_INET;
        return ip;
    }
    if (inet_pton(AF_INET6, host.c_str(), ip.bytes.data()) == 1) {
        ip.family = AF_INET6;
        return ip;
    }
    return std::nullopt;
}

bool is_wildcard(const IpAddress& ip) {
    return ip == IpAddress{ip.family, {}};
}

// The address the kernel connects to for a wildcard destination: 127.0.0.1, or ::1.
IpAddress dialled_loopback(int family) {
    return *ip_address(family == AF_INET ? "127.0.0.1" : "::1");
}

bool is_loopback(const IpAddress& ip) {
    return ip.family == AF_INET ? ip.bytes[0] == 127 : ip == dialled_loopback(AF_INET6);
}

// One of the addresses of this machine's network interfaces.
bool is_interface_address(const IpAddress& ip) {
    ifaddrs* list = nullptr;
    if (getifaddrs(&list) != 0) return false;
    bool is_found = false;
    for (const ifaddrs* entry = list; entry && !is_found; entry = entry->ifa_next) {
        if (!entry->ifa_addr || entry->ifa_addr->sa_family != ip.family) continue;
        if (ip.family == AF_INET) {
            const auto& v4 = reinterpret_cast<const sockaddr_in&>(*entry->ifa_addr);
            is_found = std::memcmp(&v4.sin_addr, ip.bytes.data(), sizeof v4.sin_addr) == 0;
        } else {
            const auto& v6 = reinterpret_cast<const sockaddr_in6&>(*entry->ifa_addr);
            is_found = std::memcmp(&v6.sin6_addr, ip.bytes.data(), sizeof v6.sin6_addr) == 0;
        }
    }
    freeifaddrs(list);
    return is_found;
}

}  // namespace

bool listens_overlap(const Endpoint& a, const Endpoint& b) {
    if (a.port == 0 || a.port != b.port) return false;
    const auto first = as_ipv6(a.host);
    const auto second = as_ipv6(b.host);
    if (!first || !second) return a.host == b.host;
    const auto is_ipv4 = [](const in6_addr& address) { return IN6_IS_ADDR_V4MAPPED(&address); };
    const auto is_ipv4_any = [&](const in6_addr& address) {
        return is_ipv4(address) && address.s6_addr[12] == 0 && address.s6_addr[13] == 0 &&
               address.s6_addr[14] == 0 && address.s6_addr[15] == 0;
    };
    if (IN6_IS_ADDR_UNSPECIFIED(&*first) || IN6_IS_ADDR_UNSPECIFIED(&*second)) return true;
    if (is_ipv4_any(*first)) return is_ipv4(*second);
    if (is_ipv4_any(*second)) return is_ipv4(*first);
    return IN6_ARE_ADDR_EQUAL(&*first, &*second);
}

bool reaches(const Endpoint& upstream, const Endpoint& listener) {
    if (upstream.port != listener.port || listener.port == 0) return false;
    const auto listening = ip_address(listener.host);
    if (!listening) return false;
    std::vector<IpAddress> dialled;
    std::string host = upstream.host;
    std::transform(host.begin(), host.end(), host.begin(), [](char c) {
        return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
    });
    if (host == "localhost") {
        dialled = {dialled_loopback(AF_INET), dialled_loopback(AF_INET6)};
    } else if (auto ip = ip_address(host)) {
        dialled = {*ip};
    }
    for (const IpAddress& ip : dialled) {
        if (ip.family != listening->family) continue;
        if (ip == *listening) return true;
        if (is_wildcard(ip) && *listening == dialled_loopback(ip.family)) return true;
        if (is_wildcard(*listening) &&
            (is_wildcard(ip) || is_loopback(ip) || is_interface_address(ip))) {
            return true;
        }
    }
    return false;
}

std::string Endpoint::text() const {
    const auto port_text = std::to_string(port);
    if (host.find(':') != std::string::npos) return "[" + host + "]:" + port_text;
    return host + ":" + port_text;
}

bool Endpoint::is_ip_literal() const {
    return is_ipv4_literal(host) || ipv6_address(host).has_value();
}

bool Endpoint::is_loopback() const {
    in_addr v4{};
    if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
        return (ntohl(v4.s_addr) >> 24) == 127;
    }
    const auto v6 = ipv6_address(host);
    if (!v6) return false;
    if (IN6_IS_ADDR_LOOPBACK(&*v6)) return true;
    // ::ffff:127.x.y.z is IPv4 loopback seen through an IPv6 socket.
    return IN6_IS_ADDR_V4MAPPED(&*v6) && v6->s6_addr[12] == 127;
}

EndpointParse parse_endpoint(std::string_view text) {
    if (!text.empty() && text.front() == '[') return parse_bracketed(text);
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0) {
        return failure("expected host:port, got " + quoted(text));
    }
    const std::string host(text.substr(0, colon));
    if (host.find(':') != std::string::npos) {
        return failure("an IPv6 address needs brackets, as in [::1]:8474, got " + quoted(text));
    }
    if (looks_numeric(host)) {
        if (!is_ipv4_literal(host)) return failure("invalid IPv4 address " + quoted(host));
    } else if (!is_hostname(host)) {
        return failure("invalid host name " + quoted(host));
    }
    return parse_port(text, text.substr(colon + 1), Endpoint{host, 0});
}

EndpointParse parse_listen_endpoint(std::string_view text) {
    auto parsed = parse_endpoint(text);
    if (!parsed.endpoint) return parsed;
    auto& host = parsed.endpoint->host;
    const auto lower = [](char c) {
        return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
    };
    std::string folded(host.size(), '\0');
    std::transform(host.begin(), host.end(), folded.begin(), lower);
    if (folded == "localhost") {
        host = "127.0.0.1";
    } else if (!parsed.endpoint->is_ip_literal()) {
        return failure("listen address must be an IP literal or localhost, got " + quoted(host));
    }
    return parsed;
}

}  // namespace faultline::rules
