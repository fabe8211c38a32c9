// CIDR networks for client address lists: parsing with inet_pton, prefix matching on the raw
// address bytes, and the allow/deny decision a listener makes for each accepted client.
#include "rules/cidr.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace faultline::rules {
namespace {

constexpr std::size_t ipv4_size = 4;
constexpr std::size_t ipv6_size = 16;

// The IPv4 address inside ::ffff:a.b.c.d starts at byte 12.
constexpr std::size_t mapped_ipv4_offset = 12;

// Clears every bit after the first `prefix` bits.
void mask_host_bits(std::array<std::uint8_t, 16>& bytes, unsigned prefix) {
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        const std::size_t first_bit = i * 8;
        if (first_bit >= prefix) {
            bytes[i] = 0;
        } else if (prefix - first_bit < 8) {
            const auto keep = static_cast<unsigned>(0xff00U >> (prefix - first_bit));
            bytes[i] = static_cast<std::uint8_t>(bytes[i] & keep);
        }
    }
}

bool same_prefix(const std::uint8_t* network, const std::uint8_t* address, unsigned prefix) {
    const std::size_t whole_bytes = prefix / 8;
    if (std::memcmp(network, address, whole_bytes) != 0) return false;
    const unsigned rest = prefix % 8;
    if (rest == 0) return true;
    const auto mask = static_cast<unsigned>(0xff00U >> rest) & 0xffU;
    return (network[whole_bytes] & mask) == (address[whole_bytes] & mask);
}

std::optional<unsigned> parse_prefix(std::string_view text, unsigned max_prefix) {
    if (text.empty() || text.size() > 3) return std::nullopt;
    unsigned value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc{} || end != text.data() + text.size() || value > max_prefix) {
        return std::nullopt;
    }
    return value;
}

}  // namespace

std::optional<Cidr> Cidr::parse(std::string_view text) {
    const auto slash = text.find('/');
    const std::string address(text.substr(0, slash));
    Cidr cidr;
    if (inet_pton(AF_INET, address.c_str(), cidr.bytes_.data()) == 1) {
        cidr.is_v6_ = false;
    } else if (inet_pton(AF_INET6, address.c_str(), cidr.bytes_.data()) == 1) {
        cidr.is_v6_ = true;
    } else {
        return std::nullopt;
    }
    const unsigned max_prefix = cidr.is_v6_ ? 128 : 32;
    if (slash == std::string_view::npos) {
        cidr.prefix_ = max_prefix;
    } else {
        const auto prefix = parse_prefix(text.substr(slash + 1), max_prefix);
        if (!prefix) return std::nullopt;
        cidr.prefix_ = *prefix;
    }
    mask_host_bits(cidr.bytes_, cidr.prefix_);
    return cidr;
}

bool Cidr::contains(const sockaddr& address) const {
    if (address.sa_family == AF_INET) {
        if (is_v6_) return false;
        const auto& v4 = reinterpret_cast<const sockaddr_in&>(address);
        std::array<std::uint8_t, ipv4_size> bytes{};
        std::memcpy(bytes.data(), &v4.sin_addr, bytes.size());
        return same_prefix(bytes_.data(), bytes.data(), prefix_);
    }
    if (address.sa_family != AF_INET6) return false;
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(address);
    std::array<std::uint8_t, ipv6_size> bytes{};
    std::memcpy(bytes.data(), &v6.sin6_addr, bytes.size());
    if (is_v6_) return same_prefix(bytes_.data(), bytes.data(), prefix_);
    if (!IN6_IS_ADDR_V4MAPPED(&v6.sin6_addr)) return false;
    return same_prefix(bytes_.data(), bytes.data() + mapped_ipv4_offset, prefix_);
}

std::string Cidr::text() const {
    std::array<char, INET6_ADDRSTRLEN> address{};
    const int family = is_v6_ ? AF_INET6 : AF_INET;
    if (inet_ntop(family, bytes_.data(), address.data(), address.size()) == nullptr) return {};
    return std::string(address.data()) + "/" + std::to_string(prefix_);
}

bool client_allowed(const std::vector<Cidr>& allow, const std::vector<Cidr>& deny,
                    const sockaddr& client) {
    const auto matches = [&client](const Cidr& cidr) { return cidr.contains(client); };
    if (std::any_of(deny.begin(), deny.end(), matches)) return false;
    return allow.empty() || std::any_of(allow.begin(), allow.end(), matches);
}

}  // namespace faultline::rules
