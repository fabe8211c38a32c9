// Tests for rules/cidr.hpp: parsing networks, matching client addresses of both families, and
// the allow/deny decision.
#include "rules/cidr.hpp"

#include <arpa/inet.h>
#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <vector>

namespace faultline::rules {
namespace {

// A client address as accept() would report it, built from its text.
struct ClientAddress {
    sockaddr_storage storage{};

    explicit ClientAddress(const std::string& ip) {
        sockaddr_in v4{};
        sockaddr_in6 v6{};
        if (inet_pton(AF_INET, ip.c_str(), &v4.sin_addr) == 1) {
            v4.sin_family = AF_INET;
            std::memcpy(&storage, &v4, sizeof v4);
        } else {
            REQUIRE(inet_pton(AF_INET6, ip.c_str(), &v6.sin6_addr) == 1);
            v6.sin6_family = AF_INET6;
            std::memcpy(&storage, &v6, sizeof v6);
        }
    }
    [[nodiscard]] const sockaddr& get() const { return reinterpret_cast<const sockaddr&>(storage); }
};

bool contains(std::string_view network, const std::string& ip) {
    const auto cidr = Cidr::parse(network);
    REQUIRE(cidr);
    return cidr->contains(ClientAddress(ip).get());
}

std::vector<Cidr> networks(const std::vector<std::string>& texts) {
    std::vector<Cidr> out;
    for (const auto& text : texts) {
        const auto cidr = Cidr::parse(text);
        REQUIRE(cidr);
        out.push_back(*cidr);
    }
    return out;
}

}  // namespace

TEST_CASE("parses IPv4 and IPv6 networks and prints them with their prefix") {
    for (const std::string text : {"10.0.0.0/8", "0.0.0.0/0", "::1/128", "fe80::/10", "::/0"}) {
        CAPTURE(text);
        const auto cidr = Cidr::parse(text);
        REQUIRE(cidr);
        CHECK(cidr->text() == text);
    }
}

TEST_CASE("treats a bare address as a network of one") {
    CHECK(Cidr::parse("127.0.0.1")->text() == "127.0.0.1/32");
    CHECK(Cidr::parse("::1")->text() == "::1/128");
    CHECK(contains("192.168.1.7", "192.168.1.7"));
    CHECK_FALSE(contains("192.168.1.7", "192.168.1.8"));
}

TEST_CASE("clears the host bits of a network written with them set") {
    CHECK(Cidr::parse("10.1.2.3/8")->text() == "10.0.0.0/8");
    CHECK(Cidr::parse("192.168.255.255/20")->text() == "192.168.240.0/20");
    CHECK(Cidr::parse("fe80::1234/10")->text() == "fe80::/10");
}

TEST_CASE("rejects malformed networks and prefixes longer than the address") {
    for (const std::string text :
         {"", "10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/x", "10.0.0.0/-1", "10.0.0.0/+8",
          "10.0.0/8", "300.0.0.0/8", "fe80::1%eth0", "localhost", "10.0.0.0/8/8", " 10.0.0.0/8"}) {
        CAPTURE(text);
        CHECK_FALSE(Cidr::parse(text));
    }
}

TEST_CASE("matches addresses inside the prefix and no others") {
    CHECK(contains("10.0.0.0/8", "10.255.1.2"));
    CHECK_FALSE(contains("10.0.0.0/8", "11.0.0.0"));
    CHECK(contains("192.168.240.0/20", "192.168.255.255"));
    CHECK_FALSE(contains("192.168.240.0/20", "192.168.239.255"));
    CHECK(contains("0.0.0.0/0", "203.0.113.9"));
    CHECK(contains("fe80::/10", "febf::1"));
    CHECK_FALSE(contains("fe80::/10", "fec0::1"));
    CHECK(contains("::/0", "2001:db8::1"));
}

TEST_CASE("matches IPv4-mapped IPv6 clients against IPv4 networks") {
    CHECK(contains("127.0.0.0/8", "::ffff:127.0.0.1"));
    CHECK_FALSE(contains("127.0.0.0/8", "::ffff:10.0.0.1"));
    CHECK_FALSE(contains("127.0.0.0/8", "::1"));
}

TEST_CASE("never matches a client of the other family") {
    CHECK_FALSE(contains("::/0", "127.0.0.1"));
    CHECK_FALSE(contains("0.0.0.0/0", "::1"));
}

TEST_CASE("allows every client when the allow list is empty") {
    CHECK(client_allowed({}, {}, ClientAddress("203.0.113.9").get()));
}

TEST_CASE("refuses clients outside a non-empty allow list") {
    const auto allow = networks({"127.0.0.0/8", "::1"});
    CHECK(client_allowed(allow, {}, ClientAddress("127.0.0.1").get()));
    CHECK(client_allowed(allow, {}, ClientAddress("::1").get()));
    CHECK_FALSE(client_allowed(allow, {}, ClientAddress("10.0.0.1").get()));
}

TEST_CASE("lets deny win over allow") {
    const auto allow = networks({"10.0.0.0/8"});
    const auto deny = networks({"10.0.0.13"});
    CHECK(client_allowed(allow, deny, ClientAddress("10.0.0.12").get()));
    CHECK_FALSE(client_allowed(allow, deny, ClientAddress("10.0.0.13").get()));
    CHECK_FALSE(client_allowed({}, deny, ClientAddress("10.0.0.13").get()));
}

}  // namespace faultline::rules
