// Client address lists (`allow`, `deny`, and later a rule's `match.clients`): IPv4 and IPv6
// networks in CIDR notation; a bare address is a network of one.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace faultline::rules {

class Cidr {
  public:
    // "10.0.0.0/8", "127.0.0.1", "::1/128", "fe80::/10"; nullopt when malformed or when the
    // prefix is longer than the address.
    [[nodiscard]] static std::optional<Cidr> parse(std::string_view text);

    // IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) match IPv4 networks.
    [[nodiscard]] bool contains(const sockaddr& address) const;
    [[nodiscard]] std::string text() const;
    bool operator==(const Cidr&) const = default;

  private:
    bool is_v6_ = false;
    std::array<std::uint8_t, 16> bytes_{};  // network address, first 4 bytes for IPv4
    unsigned prefix_ = 0;
};

// allow empty = everyone allowed; deny wins over allow.
[[nodiscard]] bool client_allowed(const std::vector<Cidr>& allow, const std::vector<Cidr>& deny,
                                  const sockaddr& client);

}  // namespace faultline::rules
