// Black-box tests of changes that cannot be made (docs/run.md): a proxy that cannot listen where
// it is asked to makes the whole change fail, through the API and through a reload alike, and
// then nothing changes: no proxy added or moved, no rule changed, no live connection touched.
#include <doctest/doctest.h>

#include <string>

#include "tests/e2e/api_support.hpp"
#include "tests/e2e/checks.hpp"
#include "tests/e2e/harness.hpp"
#include "tests/e2e/rules_support.hpp"

namespace faultline::e2e {
namespace {

std::string listen_failure(std::string_view address) {
    return "listen on " + std::string(address) + " failed: EADDRINUSE (address already in use)";
}

// A proxy table with a fixed listen address.
std::string proxy_on(std::string_view name, std::string_view listen, std::uint16_t upstream,
                     std::string_view settings = "") {
    return "[[proxy]]\nname = \"" + std::string(name) + "\"\nlisten = \"" + std::string(listen) +
           "\"\nupstream = \"127.0.0.1:" + std::to_string(upstream) + "\"\n" +
           std::string(settings) + "\n";
}

// The connection's bytes still flow both ways, and it has no record: it was not touched.
void check_untouched(Faultline& faultline, ProxyFixture& fixture, Session& session) {
    fixture.round_trip(session);
    CHECK_FALSE(faultline.wait_teardown_of(session.client_address, 300ms));
}

}  // namespace

TEST_SUITE("e2e failed change") {
    TEST_CASE(
        "moving a proxy to a busy port answers 500 with the reason and leaves its live "
        "connection alone") {
        SessionFixture fixture;
        const sockaddr_in api = api_address_of(fixture.faultline);
        const Listener busy = listen_on_loopback();
        const std::string before = api_request(api, "GET", "/proxies/p").json()["listen"];

        const ApiAnswer moved =
            api_request(api, "PATCH", "/proxies/p", Json{{"listen", busy.text()}}.dump());
        INFO(moved.body);
        CHECK(moved.status == 500);
        CHECK(moved.json()["error"] == listen_failure(busy.text()));

        check_untouched(fixture.faultline, fixture, fixture.session);
        CHECK(api_request(api, "GET", "/proxies/p").json()["listen"] == before);
        Session another = fixture.open_session();
        fixture.round_trip(another);
    }

    TEST_CASE(
        "moving a proxy onto the port another proxy keeps answers 500 naming that proxy and "
        "touches neither") {
        ProxyFixture fixture;
        const sockaddr_in api = api_address_of(fixture.faultline);
        const std::string upstream = "127.0.0.1:" + std::to_string(fixture.server.port);
        const ApiAnswer created = api_request(
            api, "POST", "/proxies",
            Json{{"name", "q"}, {"listen", "127.0.0.1:0"}, {"upstream", upstream}}.dump());
        REQUIRE(created.status == 201);
        const std::string q_listen = created.json()["listen"];
        Session on_p = fixture.open_session();
        fixture.round_trip(on_p);

        const std::string p_listen = api_request(api, "GET", "/proxies/p").json()["listen"];
        const ApiAnswer moved =
            api_request(api, "PATCH", "/proxies/q", Json{{"listen", p_listen}}.dump());
        INFO(moved.body);
        CHECK(moved.status == 500);
        CHECK(moved.json()["error"] ==
              "listen on " + p_listen + " failed: proxy 'p' listens there");
        check_untouched(fixture.faultline, fixture, on_p);
        CHECK(api_request(api, "GET", "/proxies/q").json()["listen"] == q_listen);
    }

    TEST_CASE(
        "a reload with a proxy that cannot listen changes nothing: the rules stay, no proxy is "
        "added, the error is in /healthz") {
        SessionFixture fixture;
        const sockaddr_in api = api_address_of(fixture.faultline);
        const Listener busy = listen_on_loopback();

        const std::string quota = rule_table("quota", "limit_data", "bytes = 2");
        const auto failed =
            rewrite_and_wait_reload(fixture.faultline, fixture.config,
                                    proxy_config(fixture.server.port, quota) +
                                        proxy_on("q", busy.text(), fixture.server.port));
        REQUIRE(failed);
        INFO(failed->dump());
        CHECK((*failed)["event"] == "reload_failed");
        CHECK((*failed)["errors"] == Json::array({"proxy q: " + listen_failure(busy.text())}));

        const Json proxies = api_request(api, "GET", "/proxies").json();
        CHECK(proxies.size() == 1);
        CHECK(proxies.contains("p"));
        CHECK(proxies["p"]["toxics"] == Json::array());
        CHECK(api_request(api, "GET", "/healthz").json()["last_reload_errors"] ==
              Json::array({"proxy q: " + listen_failure(busy.text())}));
        // The quota is not in force: all six bytes arrive.
        REQUIRE(send_all(fixture.session.server.get(), "abcdef") == 0);
        CHECK(recv_exact(fixture.session.client.get(), 6).bytes == "abcdef");
        check_untouched(fixture.faultline, fixture, fixture.session);

        // The same change without the busy port applies.
        reload_applied(fixture, quota);
        CHECK(api_request(api, "GET", "/healthz").json().contains("last_reload_errors") == false);
    }

    TEST_CASE("a reload that swaps two proxies' ports moves both") {
        Listener server = listen_on_loopback();
        // Two free ports, different from each other: held together, then let go.
        Listener first_free = listen_on_loopback();
        Listener second_free = listen_on_loopback();
        const std::string first = first_free.text();
        const std::string second = second_free.text();
        first_free.fd.reset();
        second_free.fd.reset();
        TempConfig config(proxy_on("a", first, server.port) + proxy_on("b", second, server.port));
        Faultline faultline(config);
        REQUIRE(faultline.wait_ready());
        const sockaddr_in api = api_address_of(faultline);

        reload_applied(faultline, config,
                       proxy_on("a", second, server.port) + proxy_on("b", first, server.port));
        CHECK(api_request(api, "GET", "/proxies/a").json()["listen"] == second);
        CHECK(api_request(api, "GET", "/proxies/b").json()["listen"] == first);
        Fd client = connect_to(parse_address(second));
        CHECK(accept_from(server.fd.get()).is_open());
    }
}

}  // namespace faultline::e2e
