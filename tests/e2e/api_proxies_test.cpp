// Toxiproxy's routes on the real binary: proxies and toxics created, read, updated and deleted
// over HTTP with the exact status codes and messages, populate, reset, and a toxic added through
// the API acting on a connection that is already open.
#include <doctest/doctest.h>

#include <string>

#include "tests/e2e/api_support.hpp"
#include "tests/e2e/harness.hpp"

namespace faultline::e2e {
namespace {

struct ApiFixture {
    Listener server = listen_on_loopback();
    Faultline faultline{
        std::vector<std::string>{"serve", "--api", "127.0.0.1:0", "--log-format", "json"}};
    sockaddr_in api = api_address_of(faultline);

    std::string proxy_body(std::string_view name) const {
        return R"({"name": ")" + std::string(name) +
               R"(", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:)" +
               std::to_string(server.port) + R"("})";
    }
};

void check_error(const ApiAnswer& answer, int status, std::string_view message) {
    INFO(answer.head << "\n" << answer.body);
    CHECK(answer.status == status);
    CHECK(answer.json() == Json{{"error", message}, {"status", status}});
}

}  // namespace

TEST_SUITE("e2e api proxies") {
    TEST_CASE("creates, lists, shows, updates and deletes a proxy with Toxiproxy's answers") {
        ApiFixture f;
        INFO(f.faultline.log_tail());
        CHECK(api_request(f.api, "GET", "/proxies").json() == Json::object());

        auto created = api_request(f.api, "POST", "/proxies", f.proxy_body("db"));
        REQUIRE(created.status == 201);
        Json proxy = created.json();
        CHECK(proxy["name"] == "db");
        CHECK(proxy["enabled"] == true);
        CHECK(proxy["toxics"] == Json::array());
        const std::string listen = proxy["listen"];
        CHECK(listen.starts_with("127.0.0.1:"));
        CHECK_FALSE(listen.ends_with(":0"));

        check_error(api_request(f.api, "POST", "/proxies", f.proxy_body("db")), 409,
                    "proxy already exists");
        check_error(api_request(f.api, "POST", "/proxies", R"({"upstream": "127.0.0.1:1"})"), 400,
                    "missing required field: name");
        check_error(api_request(f.api, "POST", "/proxies", R"({"name": "x"})"), 400,
                    "missing required field: upstream");
        check_error(api_request(f.api, "GET", "/proxies/nope"), 404, "proxy not found");
        CHECK(api_request(f.api, "GET", "/proxies").json().contains("db"));
        CHECK(api_request(f.api, "GET", "/proxies/db").json()["listen"] == listen);

        // Disabled: connects are refused; enabled again: the same port at once.
        auto disabled = api_request(f.api, "PATCH", "/proxies/db", R"({"enabled": false})");
        CHECK(disabled.status == 200);
        CHECK(disabled.json()["enabled"] == false);
        CHECK(errno_name(try_connect(parse_address(listen), 1s).error) == "ECONNREFUSED");
        auto enabled = api_request(f.api, "POST", "/proxies/db", R"({"enabled": true})");
        CHECK(enabled.json()["listen"] == listen);
        Fd client = connect_to(parse_address(listen));
        Fd accepted = accept_from(f.server.fd.get());
        CHECK(accepted.is_open());

        CHECK(api_request(f.api, "DELETE", "/proxies/db").status == 204);
        check_error(api_request(f.api, "DELETE", "/proxies/db"), 404, "proxy not found");
        CHECK(api_request(f.api, "GET", "/proxies").json() == Json::object());
    }

    TEST_CASE("adds, shows, updates and removes toxics with Toxiproxy's defaults and errors") {
        ApiFixture f;
        INFO(f.faultline.log_tail());
        REQUIRE(api_request(f.api, "POST", "/proxies", f.proxy_body("db")).status == 201);

        auto added = api_request(f.api, "POST", "/proxies/db/toxics",
                                 R"({"type": "latency", "attributes": {"latency": 100}})");
        REQUIRE(added.status == 200);
        Json toxic = added.json();
        CHECK(toxic["name"] == "latency_downstream");
        CHECK(toxic["stream"] == "downstream");
        CHECK(toxic["toxicity"] == 1.0);
        CHECK(toxic["attributes"] == Json{{"latency", 100}, {"jitter", 0}});

        check_error(api_request(f.api, "POST", "/proxies/db/toxics", R"({"type": "latency"})"), 409,
                    "toxic already exists");
        check_error(api_request(f.api, "POST", "/proxies/db/toxics",
                                R"({"type": "latency", "stream": "sideways"})"),
                    400, "stream was invalid, can be either upstream or downstream");
        auto unknown = api_request(f.api, "POST", "/proxies/db/toxics", R"({"type": "latncy"})");
        CHECK(unknown.status == 400);
        CHECK(unknown.json()["error"].get<std::string>().starts_with("invalid toxic type"));
        CHECK(api_request(f.api, "POST", "/proxies/db/toxics", "{not json").status == 400);
        CHECK(api_request(f.api, "POST", "/proxies/db/toxics", "{not json")
                  .json()["error"]
                  .get<std::string>()
                  .starts_with("bad request body: "));

        // An update merges the attributes it names and keeps toxicity.
        auto updated = api_request(f.api, "POST", "/proxies/db/toxics/latency_downstream",
                                   R"({"attributes": {"jitter": 5}})");
        CHECK(updated.status == 200);
        CHECK(updated.json()["attributes"] == Json{{"latency", 100}, {"jitter", 5}});
        CHECK(updated.json()["toxicity"] == 1.0);

        CHECK(api_request(f.api, "GET", "/proxies/db/toxics").json().size() == 1);
        CHECK(api_request(f.api, "GET", "/proxies/db").json()["toxics"].size() == 1);
        check_error(api_request(f.api, "GET", "/proxies/db/toxics/nope"), 404, "toxic not found");
        CHECK(api_request(f.api, "DELETE", "/proxies/db/toxics/latency_downstream").status == 204);
        check_error(api_request(f.api, "DELETE", "/proxies/db/toxics/latency_downstream"), 404,
                    "toxic not found");
    }

    TEST_CASE("a toxic added through the API acts on a connection that is already open") {
        ApiFixture f;
        INFO(f.faultline.log_tail());
        auto created = api_request(f.api, "POST", "/proxies", f.proxy_body("db"));
        REQUIRE(created.status == 201);
        Fd client = connect_to(parse_address(created.json()["listen"].get<std::string>()));
        Fd server = accept_from(f.server.fd.get());
        REQUIRE(server.is_open());
        REQUIRE(api_request(f.api, "POST", "/proxies/db/toxics",
                            R"({"type": "limit_data", "attributes": {"bytes": 4}})")
                    .status == 200);
        REQUIRE(send_all(server.get(), "abcdefgh") == 0);
        const Received got = recv_until_eof(client.get());
        CHECK(got.bytes == "abcd");
        CHECK(got.eof);
    }

    TEST_CASE("populate creates what is missing, keeps what is unchanged, and checks first") {
        ApiFixture f;
        INFO(f.faultline.log_tail());
        REQUIRE(api_request(f.api, "POST", "/proxies", f.proxy_body("a")).status == 201);
        REQUIRE(api_request(f.api, "POST", "/proxies/a/toxics", R"({"type": "noop"})").status ==
                200);
        const std::string a_listen = api_request(f.api, "GET", "/proxies/a").json()["listen"];

        check_error(api_request(f.api, "POST", "/populate",
                                "[" + f.proxy_body("b") + R"(, {"name": "c"}])"),
                    400, "missing required field: upstream at proxy 2");
        check_error(api_request(f.api, "GET", "/proxies/b"), 404, "proxy not found");

        const std::string same_a = R"({"name": "a", "listen": ")" + a_listen +
                                   R"(", "upstream": "127.0.0.1:)" + std::to_string(f.server.port) +
                                   R"("})";
        auto populated =
            api_request(f.api, "POST", "/populate", "[" + same_a + ", " + f.proxy_body("b") + "]");
        REQUIRE(populated.status == 201);
        CHECK(populated.json()["proxies"].size() == 2);
        CHECK(api_request(f.api, "GET", "/proxies/a").json()["toxics"].size() == 1);
        CHECK(api_request(f.api, "POST", "/populate", "[]").json() ==
              Json{{"proxies", Json::array()}});
    }

    TEST_CASE("reset re-enables every proxy and removes every toxic; unknown routes are 404/405") {
        ApiFixture f;
        INFO(f.faultline.log_tail());
        REQUIRE(api_request(f.api, "POST", "/proxies", f.proxy_body("a")).status == 201);
        REQUIRE(api_request(f.api, "POST", "/proxies/a/toxics", R"({"type": "noop"})").status ==
                200);
        REQUIRE(api_request(f.api, "POST", "/proxies/a", R"({"enabled": false})").status == 200);
        CHECK(api_request(f.api, "POST", "/reset").status == 204);
        Json proxy = api_request(f.api, "GET", "/proxies/a").json();
        CHECK(proxy["enabled"] == true);
        CHECK(proxy["toxics"] == Json::array());

        check_error(api_request(f.api, "GET", "/nothing"), 404, "not found");
        CHECK(api_request(f.api, "PUT", "/proxies").status == 405);
        CHECK(api_request(f.api, "GET", "/reset").status == 405);
    }
}

}  // namespace faultline::e2e
