// The control API as it exists so far: GET /version and GET /healthz on the real binary, the
// bearer token, and bounded, well-answered bad input.
#include <doctest/doctest.h>

#include <string>

#include "tests/e2e/api_support.hpp"
#include "tests/e2e/harness.hpp"

namespace faultline::e2e {
namespace {

// One request, as given, on a fresh connection.
ApiAnswer request(const sockaddr_in& api, const std::string& raw) {
    return api_send_raw(api, raw);
}

std::string get(std::string_view path, std::string_view extra_headers = "") {
    return "GET " + std::string(path) + " HTTP/1.1\r\nConnection: close\r\n" +
           std::string(extra_headers) + "\r\n";
}

sockaddr_in api_address(Faultline& faultline) {
    return api_address_of(faultline);
}

}  // namespace

TEST_SUITE("e2e api") {
    TEST_CASE("serves /version and /healthz as JSON without a configuration file") {
        Faultline faultline(
            std::vector<std::string>{"serve", "--api", "127.0.0.1:0", "--log-format", "json"});
        auto api = api_address(faultline);

        auto version = request(api, get("/version"));
        CHECK(version.status == 200);
        CHECK(version.head.find("Content-Type: application/json") != std::string::npos);
        CHECK(Json::parse(version.body)["version"].is_string());

        auto health = request(api, get("/healthz"));
        CHECK(health.status == 200);
        CHECK(Json::parse(health.body)["status"] == "ok");

        auto missing = request(api, get("/nothing"));
        CHECK(missing.status == 404);
        CHECK(Json::parse(missing.body) == Json{{"error", "not found"}, {"status", 404}});

        auto wrong_method = request(api, "DELETE /version HTTP/1.1\r\nConnection: close\r\n\r\n");
        CHECK(wrong_method.status == 405);
    }

    TEST_CASE("serves the dashboard page without a token, and the fault types at /faults") {
        TempConfig config("[api]\nlisten = \"127.0.0.1:0\"\ntoken = \"s3cret\"\n");
        Faultline faultline(
            std::vector<std::string>{"serve", "--config", config.path(), "--log-format", "json"});
        auto api = api_address(faultline);

        auto page = request(api, get("/"));
        CHECK(page.status == 200);
        CHECK(page.head.find("Content-Type: text/html; charset=utf-8") != std::string::npos);
        CHECK(page.head.find("Content-Security-Policy: default-src 'none';") != std::string::npos);
        CHECK(page.body.starts_with("<!doctype html>"));

        CHECK(request(api, get("/faults")).status == 401);
        auto faults = request(api, get("/faults", "Authorization: Bearer s3cret\r\n"));
        REQUIRE(faults.status == 200);
        const Json types = faults.json();
        REQUIRE(types.size() == 13);
        CHECK(types[0] == Json{{"type", "latency"},
                               {"attributes", {"latency", "jitter"}},
                               {"defaults", {{"latency", 0}, {"jitter", 0}}}});
        for (const auto& type : types) {
            if (type["type"] == "half_close") CHECK(type["defaults"].is_null());
        }
    }

    TEST_CASE("answers several requests on one keep-alive connection") {
        Faultline faultline(
            std::vector<std::string>{"serve", "--api", "127.0.0.1:0", "--log-format", "json"});
        auto api = api_address(faultline);
        Fd fd = connect_to(api);
        REQUIRE(send_all(fd.get(),
                         "GET /version HTTP/1.1\r\n\r\nGET /healthz HTTP/1.1\r\n"
                         "Connection: close\r\n\r\n") == 0);
        Received received = recv_until_eof(fd.get());
        CHECK(received.eof);
        auto first = received.bytes.find("HTTP/1.1 200 OK");
        REQUIRE(first != std::string::npos);
        CHECK(received.bytes.find("HTTP/1.1 200 OK", first + 1) != std::string::npos);
    }

    TEST_CASE("with a token, requests without the right bearer token get 401") {
        TempConfig config("[api]\nlisten = \"127.0.0.1:0\"\ntoken = \"s3cret\"\n");
        Faultline faultline(
            std::vector<std::string>{"serve", "--config", config.path(), "--log-format", "json"});
        auto api = api_address(faultline);
        CHECK(request(api, get("/version")).status == 401);
        CHECK(request(api, get("/version", "Authorization: Bearer wrong\r\n")).status == 401);
        CHECK(request(api, get("/version", "Authorization: Bearer s3cret\r\n")).status == 200);
        CHECK(request(api, get("/version", "Authorization: Bearer s3cre\r\n")).status == 401);
        // With a token the page may be reached under any name (a LAN address, a reverse proxy):
        // an Origin must only match the Host it was sent to.
        const std::string lan = "Host: 192.168.1.20:8474\r\nAuthorization: Bearer s3cret\r\n";
        CHECK(request(api, get("/version", lan + "Origin: http://192.168.1.20:8474\r\n")).status ==
              200);
        CHECK(request(api, get("/version", lan + "Origin: https://192.168.1.20:8474\r\n")).status ==
              200);
        CHECK(request(api, get("/version", lan + "Origin: http://evil.example\r\n")).status == 403);
    }

    TEST_CASE("malformed and oversized requests get a 4xx answer and the server stays up") {
        Faultline faultline(
            std::vector<std::string>{"serve", "--api", "127.0.0.1:0", "--log-format", "json"});
        auto api = api_address(faultline);
        CHECK(request(api, "BROKEN\r\n\r\n").status == 400);
        CHECK(request(api, "GET / HTTP/1.1\r\nX: " + std::string(64 * 1024, 'a') + "\r\n\r\n")
                  .status == 431);
        CHECK(request(api, "POST /proxies HTTP/1.1\r\nContent-Length: 999999999\r\n\r\n").status ==
              413);
        CHECK(request(api, get("/version")).status == 200);
        CHECK(faultline.is_running());
    }
}

}  // namespace faultline::e2e
