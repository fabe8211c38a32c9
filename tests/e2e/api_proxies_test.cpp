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
    TEST_CASE("a listen that fails is a 500 that adds nothing; populate stops there") {
        ApiFixture f;
        const Listener occupied = listen_on_loopback();
        const std::string busy = occupied.text();
        const std::string failure =
            "listen on " + busy + " failed: EADDRINUSE (address already in use)";
        const std::string upstream = "127.0.0.1:" + std::to_string(f.server.port);
        auto body = [&](std::string_view name, std::string_view listen) {
            return Json{{"name", name}, {"listen", listen}, {"upstream", upstream}}.dump();
        };

        check_error(api_request(f.api, "POST", "/proxies", body("x", busy)), 500, failure);
        check_error(api_request(f.api, "GET", "/proxies/x"), 404, "proxy not found");

        // An update that cannot listen leaves the proxy where it was, still working.
        REQUIRE(api_request(f.api, "POST", "/proxies", f.proxy_body("b")).status == 201);
        const std::string b_listen = api_request(f.api, "GET", "/proxies/b").json()["listen"];
        check_error(api_request(f.api, "POST", "/proxies/b", Json{{"listen", busy}}.dump()), 500,
                    failure);
        CHECK(api_request(f.api, "GET", "/proxies/b").json()["listen"] == b_listen);
        Fd client = connect_to(parse_address(b_listen));
        CHECK(accept_from(f.server.fd.get()).is_open());

        auto populated = api_request(
            f.api, "POST", "/populate",
            "[" + f.proxy_body("e") + ", " + body("f", busy) + ", " + f.proxy_body("g") + "]");
        INFO(populated.body);
        CHECK(populated.status == 500);
        Json answer = populated.json();
        CHECK(answer["error"] == failure);
        CHECK(answer["status"] == 500);
        REQUIRE(answer["proxies"].size() == 1);
        CHECK(answer["proxies"][0]["name"] == "e");
        CHECK(api_request(f.api, "GET", "/proxies/e").status == 200);
        check_error(api_request(f.api, "GET", "/proxies/f"), 404, "proxy not found");
        check_error(api_request(f.api, "GET", "/proxies/g"), 404, "proxy not found");
    }

    TEST_CASE(
        "proxy fields: localhost, omitted listen, disabled echo, fixed name, missing fields") {
        ApiFixture f;
        const std::string upstream = "127.0.0.1:" + std::to_string(f.server.port);
        auto local = api_request(
            f.api, "POST", "/proxies",
            Json{{"name", "l"}, {"listen", "localhost:0"}, {"upstream", upstream}}.dump());
        REQUIRE(local.status == 201);
        CHECK(local.json()["listen"].get<std::string>().starts_with("127.0.0.1:"));

        auto anywhere = api_request(f.api, "POST", "/proxies",
                                    Json{{"name", "any"}, {"upstream", upstream}}.dump());
        REQUIRE(anywhere.status == 201);
        CHECK(anywhere.json()["listen"].get<std::string>().starts_with("0.0.0.0:"));
        CHECK_FALSE(anywhere.json()["listen"].get<std::string>().ends_with(":0"));

        auto disabled = api_request(f.api, "POST", "/proxies",
                                    Json{{"name", "d"},
                                         {"listen", "localhost:0"},
                                         {"upstream", "db.example:5432"},
                                         {"enabled", false}}
                                        .dump());
        REQUIRE(disabled.status == 201);
        CHECK(disabled.json()["listen"] == "localhost:0");
        CHECK(disabled.json()["upstream"] == "db.example:5432");

        auto renamed = api_request(f.api, "POST", "/proxies/l", R"({"name": "other"})");
        CHECK(renamed.status == 200);
        CHECK(renamed.json()["name"] == "l");
        check_error(api_request(f.api, "GET", "/proxies/other"), 404, "proxy not found");

        check_error(api_request(f.api, "POST", "/populate", R"([{"upstream": "127.0.0.1:1"}])"),
                    400, "missing required field: name at proxy 1");
        check_error(api_request(f.api, "POST", "/proxies", ""), 400,
                    "bad request body: empty body");
        check_error(api_request(f.api, "POST", "/populate", R"({"name": "x"})"), 400,
                    "bad request body: expected an array");
    }

    TEST_CASE(
        "toxic fields: stream case, null attributes, fractions, order, ignored update fields") {
        ApiFixture f;
        REQUIRE(api_request(f.api, "POST", "/proxies", f.proxy_body("db")).status == 201);

        REQUIRE(api_request(f.api, "POST", "/proxies/db/toxics",
                            R"({"type": "timeout", "name": "down"})")
                    .status == 200);
        auto upper =
            api_request(f.api, "POST", "/proxies/db/toxics",
                        R"({"type": "latency", "stream": "UPSTREAM", "attributes": null})");
        REQUIRE(upper.status == 200);
        CHECK(upper.json() == Json{{"name", "latency_upstream"},
                                   {"type", "latency"},
                                   {"stream", "upstream"},
                                   {"toxicity", 1.0},
                                   {"attributes", {{"latency", 0}, {"jitter", 0}}},
                                   {"enabled", true}});
        check_error(api_request(f.api, "POST", "/proxies/db/toxics",
                                R"({"type": "latency", "name": "e", "stream": ""})"),
                    400, "stream was invalid, can be either upstream or downstream");
        check_error(
            api_request(f.api, "POST", "/proxies/db/toxics",
                        R"({"type": "latency", "name": "frac", "attributes": {"latency": 1.5}})"),
            400,
            "bad request body: attributes.latency: expected an integer, got a number with "
            "a fraction");
        check_error(
            api_request(f.api, "POST", "/proxies/db/toxics", R"({"type": "noop", "name": "down"})"),
            409, "toxic already exists");

        // Upstream toxics first, then downstream, each in the order they were added.
        Json listed = api_request(f.api, "GET", "/proxies/db/toxics").json();
        REQUIRE(listed.size() == 2);
        CHECK(listed[0]["name"] == "latency_upstream");
        CHECK(listed[1]["name"] == "down");

        auto updated = api_request(f.api, "PATCH", "/proxies/db/toxics/down",
                                   R"({"name": "x", "type": "latency", "stream": "upstream",
                                       "toxicity": 0.5, "attributes": {"timeout": 20}})");
        CHECK(updated.status == 200);
        CHECK(updated.json() == Json{{"name", "down"},
                                     {"type", "timeout"},
                                     {"stream", "downstream"},
                                     {"toxicity", 0.5},
                                     {"attributes", {{"timeout", 20}}},
                                     {"enabled", true}});
        check_error(api_request(f.api, "PATCH", "/proxies/db/toxics/none", R"({"toxicity": 1})"),
                    404, "toxic not found");
        check_error(api_request(f.api, "GET", "/proxies/nope/toxics"), 404, "proxy not found");
    }

    TEST_CASE("extensions on toxics: enabled switches a rule, match limits it") {
        ApiFixture f;
        auto created = api_request(f.api, "POST", "/proxies", f.proxy_body("db"));
        REQUIRE(created.status == 201);
        const sockaddr_in proxy = parse_address(created.json()["listen"].get<std::string>());
        auto added = api_request(
            f.api, "POST", "/proxies/db/toxics",
            R"({"type": "limit_data", "name": "cut", "attributes": {"bytes": 2}, "match": {"every": 2}})");
        REQUIRE(added.status == 200);
        CHECK(added.json()["match"] == Json{{"every", 2}});

        // A limit of 2 bytes on every second connection: the first passes, the second is cut.
        auto exchange = [&] {
            Fd client = connect_to(proxy);
            Fd server = accept_from(f.server.fd.get());
            REQUIRE(server.is_open());
            REQUIRE(send_all(server.get(), "abcd") == 0);
            server.reset();
            return recv_until_eof(client.get()).bytes;
        };
        CHECK(exchange() == "abcd");
        CHECK(exchange() == "ab");

        auto off = api_request(f.api, "PATCH", "/proxies/db/toxics/cut", R"({"enabled": false})");
        CHECK(off.status == 200);
        CHECK(off.json()["enabled"] == false);
        CHECK(exchange() == "abcd");
        CHECK(exchange() == "abcd");
        check_error(
            api_request(f.api, "PATCH", "/proxies/db/toxics/cut", R"({"match": {"nth": 2}})"), 400,
            "bad request body: match.nth: unknown field; known: clients, after_bytes, after, "
            "first, every");
    }
}

}  // namespace faultline::e2e
