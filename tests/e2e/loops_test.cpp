// Black-box tests of connections that come back into faultline: a proxy whose upstream leads
// back to itself, directly (refused when the configuration is read or changed) or through
// another proxy and a wildcard or IPv6 address (refused at connect time: SYN Control), and a
// proxy in front of the control API (refused by the API, and its connections refused by the
// API's listener).
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <string>
#include <vector>

#include "tests/e2e/api_support.hpp"
#include "tests/e2e/checks.hpp"
#include "tests/e2e/harness.hpp"
#include "tests/e2e/rules_support.hpp"

namespace faultline::e2e {
namespace {

std::uint16_t port_of(const std::string& address) {
    return static_cast<std::uint16_t>(std::stoi(address.substr(address.rfind(':') + 1)));
}

// Whether this machine has IPv6 loopback (a listener on [::1] can be opened).
bool has_ipv6_loopback() {
    Fd fd(::socket(AF_INET6, SOCK_STREAM, 0));
    sockaddr_in6 address{};
    address.sin6_family = AF_INET6;
    address.sin6_addr = in6addr_loopback;
    return fd.is_open() &&
           ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
}

struct ApiFaultline {
    Faultline faultline{
        std::vector<std::string>{"serve", "--api", "127.0.0.1:0", "--log-format", "json"}};
    sockaddr_in api = api_address_of(faultline);

    // Creates a proxy and returns the address it listens on.
    std::string create(std::string_view name, std::string_view listen, std::string_view upstream) {
        auto answer =
            api_request(api, "POST", "/proxies",
                        Json{{"name", name}, {"listen", listen}, {"upstream", upstream}}.dump());
        INFO(answer.body);
        REQUIRE(answer.status == 201);
        return answer.json()["listen"].get<std::string>();
    }
    void set_upstream(std::string_view name, std::string_view upstream) {
        auto answer = api_request(api, "PATCH", "/proxies/" + std::string(name),
                                  Json{{"upstream", upstream}}.dump());
        INFO(answer.body);
        REQUIRE(answer.status == 200);
    }
};

// Proxy a listens on `a_listen`; proxy b on `b_listen` sends its connections to a through
// `b_to_a` (a's port is appended); a sends them to b through `a_to_b` (b's port appended). A
// client of a starts a loop a -> b -> a, which faultline must end at once: every connection of
// the chain is reset and recorded as SYN Control, and no other connection is made.
void check_loop_through_two_proxies(std::string_view a_listen, std::string_view b_listen,
                                    std::string_view b_to_a, std::string_view a_to_b) {
    ApiFaultline f;
    const std::string a = f.create("a", a_listen, "127.0.0.1:9");
    const std::string b = f.create("b", b_listen, std::string(b_to_a) + std::to_string(port_of(a)));
    f.set_upstream("a", std::string(a_to_b) + std::to_string(port_of(b)));

    // The reset may come before the connect is seen to complete: first_end tells either way.
    const Connected client = try_connect(loopback(port_of(a)));
    CHECK(first_end(client) == "ECONNRESET");
    // The client's session on a, b's session, and the looped session on a.
    const std::vector<Json> records = f.faultline.wait_teardown_count(3);
    REQUIRE(records.size() == 3);
    for (const Json& record : records) {
        INFO(record.dump());
        CHECK(record["reason"] == "SYN Control");
    }
    CHECK(std::count_if(records.begin(), records.end(),
                        [](const Json& record) { return record["proxy"] == "b"; }) == 1);
    CHECK(f.faultline.wait_teardown_count(4, 500ms).size() == 3);
}

}  // namespace

TEST_SUITE("e2e loops") {
    TEST_CASE("a proxy whose upstream reaches its own listen address is refused when read") {
        const std::uint16_t port = unused_port();
        for (const auto& [listen, upstream] :
             {std::pair<std::string, std::string>{"127.0.0.1", "127.0.0.1"},
              {"0.0.0.0", "0.0.0.0"},
              {"0.0.0.0", "127.0.0.1"},
              {"127.0.0.1", "0.0.0.0"},
              {"[::]", "[::]"},
              {"[::]", "[::1]"}}) {
            const std::string listen_address = listen + ":" + std::to_string(port);
            const std::string upstream_address = upstream + ":" + std::to_string(port);
            const TempConfig config("[[proxy]]\nname = \"loop\"\nlisten = \"" + listen_address +
                                    "\"\nupstream = \"" + upstream_address + "\"\n");
            const auto result = check_config(config.path());
            INFO(result.err);
            CHECK(result.status.code() == 2);
            CHECK(result.err == config.path() + ":4:12: proxy[0].upstream: " + upstream_address +
                                    " reaches the proxy's own listen address " + listen_address +
                                    ": every connection would loop back into the proxy\n");
        }
    }

    TEST_CASE("the API refuses a proxy whose upstream reaches its own listen address: 400") {
        ApiFaultline f;
        const std::string a = f.create("a", "0.0.0.0:0", "127.0.0.1:9");
        const std::string upstream = "127.0.0.1:" + std::to_string(port_of(a));
        auto answer =
            api_request(f.api, "PATCH", "/proxies/a", Json{{"upstream", upstream}}.dump());
        CHECK(answer.status == 400);
        CHECK(answer.json()["error"] ==
              "bad request body: upstream " + upstream +
                  " reaches the proxy's own listen address 0.0.0.0:" + std::to_string(port_of(a)) +
                  ": every connection would loop back into the proxy");
        CHECK(api_request(f.api, "GET", "/proxies/a").json()["upstream"] == "127.0.0.1:9");
    }

    TEST_CASE("a loop through another proxy and a wildcard upstream is SYN Control at once") {
        check_loop_through_two_proxies("0.0.0.0:0", "127.0.0.1:0", "0.0.0.0:", "127.0.0.1:");
    }

    TEST_CASE("a loop through another local address of a wildcard listener is SYN Control") {
        check_loop_through_two_proxies("0.0.0.0:0", "127.0.0.1:0", "127.0.0.2:", "127.0.0.1:");
    }

    TEST_CASE("a loop into a dual-stack listener, seen as [::ffff:127.0.0.1], is SYN Control") {
        if (!has_ipv6_loopback()) return;
        check_loop_through_two_proxies("[::]:0", "127.0.0.1:0", "127.0.0.1:", "127.0.0.1:");
    }

    TEST_CASE("a loop through IPv6 wildcard and loopback upstreams is SYN Control") {
        if (!has_ipv6_loopback()) return;
        check_loop_through_two_proxies("[::]:0", "[::1]:0", "[::]:", "[::1]:");
    }
}

TEST_SUITE("e2e the API's own address") {
    TEST_CASE("the API refuses a proxy whose upstream reaches the API: 400") {
        ApiFaultline f;
        const std::string port = std::to_string(ntohs(f.api.sin_port));
        for (const std::string host : {"127.0.0.1", "0.0.0.0", "localhost"}) {
            const std::string upstream = host + ":" + port;
            auto answer = api_request(
                f.api, "POST", "/proxies",
                Json{{"name", "api"}, {"listen", "127.0.0.1:0"}, {"upstream", upstream}}.dump());
            INFO(answer.body);
            CHECK(answer.status == 400);
            CHECK(answer.json()["error"] ==
                  "bad request body: upstream " + upstream + " reaches the control API at " +
                      address_text(f.api) + ": the proxy would open the API to its clients");
        }
        auto populated =
            api_request(f.api, "POST", "/populate",
                        Json::array({{{"name", "api"}, {"upstream", "127.0.0.1:" + port}}}).dump());
        CHECK(populated.status == 400);
        CHECK(api_request(f.api, "GET", "/proxies").json() == Json::object());
    }

    TEST_CASE("a connection to the API from one of faultline's own upstream sockets is refused") {
        // The file read at start knows nothing of the API's address (--api 127.0.0.1:0); a
        // reload then sends a proxy to it, which only the API's listener can still refuse.
        const Listener server = listen_on_loopback();
        const TempConfig config(proxy_config(server.port));
        Faultline faultline(config);
        const sockaddr_in api = api_address_of(faultline);
        REQUIRE(faultline.wait_ready());
        const std::string toml =
            "[[proxy]]\nname = \"p\"\nlisten = \"127.0.0.1:0\"\nupstream = \"" + address_text(api) +
            "\"\n";
        reload_applied(faultline, config, toml);
        const sockaddr_in proxy = faultline.proxy_sockaddr("p");

        Fd client = connect_to(proxy);
        REQUIRE(send_all(client.get(),
                         "GET /version HTTP/1.1\r\nHost: " + address_text(api) + "\r\n\r\n") == 0);
        const Received answer = recv_until_eof(client.get());
        INFO(answer.bytes);
        CHECK(answer.bytes.empty());
        // The API itself still answers its own clients.
        CHECK(api_request(api, "GET", "/version").status == 200);
    }
}

}  // namespace faultline::e2e
