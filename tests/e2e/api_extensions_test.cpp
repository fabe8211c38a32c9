// faultline's API beyond Toxiproxy's, on the real binary: live connections listed and killed
// (Xlate Clear), recent teardown records, Prometheus metrics, and the Origin check.
#include <doctest/doctest.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <string>

#include "tests/e2e/api_support.hpp"
#include "tests/e2e/harness.hpp"

namespace faultline::e2e {

TEST_SUITE("e2e api extensions") {
    TEST_CASE("lists live connections and kills one: Xlate Clear in the record and in /events") {
        ProxyFixture fixture;
        sockaddr_in api = api_address_of(fixture.faultline);
        Session session = fixture.open_session();
        fixture.round_trip(session);

        Json connections = api_request(api, "GET", "/connections").json();
        REQUIRE(connections.size() == 1);
        Json connection = connections[0];
        CHECK(connection["proxy"] == "p");
        CHECK(connection["client"] == session.client_address);
        CHECK(connection["bytes_up"] == 4);
        CHECK(connection["bytes_down"] == 4);

        const std::string id = std::to_string(connection["id"].get<std::uint64_t>());
        CHECK(api_request(api, "DELETE", "/connections/" + id).status == 204);
        CHECK(read_to_end(session.client.get()).describe() == "ECONNRESET");
        auto record = fixture.faultline.wait_teardown_of(session.client_address);
        REQUIRE(record);
        CHECK((*record)["reason"] == "Xlate Clear");
        CHECK(api_request(api, "DELETE", "/connections/" + id).status == 404);
        CHECK(api_request(api, "GET", "/connections").json() == Json::array());

        Json events = api_request(api, "GET", "/events").json();
        REQUIRE(events.size() == 1);
        CHECK(events[0]["event"] == "teardown");
        CHECK(events[0]["reason"] == "Xlate Clear");
        CHECK(events[0]["client"]["address"] == session.client_address);
    }

    TEST_CASE("GET /events?follow=1 streams each teardown record as one JSON line") {
        ProxyFixture fixture;
        sockaddr_in api = api_address_of(fixture.faultline);
        std::string stream;
        Fd follower = follow_events(api, stream);

        for (int i = 0; i < 2; ++i) {
            Session session = fixture.open_session();
            set_linger_reset(session.client.get());
            session.client.reset();
            CHECK(read_to_end(session.server.get()).describe() == "ECONNRESET");
        }
        while (std::count(stream.begin(), stream.end(), '\n') < 2) {
            std::string piece;
            REQUIRE(read_result(follower.get(), io_timeout, &piece).kind == ReadResult::Kind::data);
            stream += piece;
        }
        const Json first = Json::parse(stream.substr(0, stream.find('\n')));
        CHECK(first["event"] == "teardown");
        CHECK(first["reason"] == "Reset-I");
    }

    TEST_CASE(
        "a client that sends half a request and stalls does not hold up the others, then gets "
        "408") {
        Faultline faultline(
            std::vector<std::string>{"serve", "--api", "127.0.0.1:0", "--log-format", "json"});
        sockaddr_in api = api_address_of(faultline);
        Fd stalled = connect_to(api);
        REQUIRE(send_all(stalled.get(), "POST /proxies HTTP/1.1\r\nContent-Length: 100\r\n\r\n{") ==
                0);
        for (int i = 0; i < 5; ++i)
            CHECK(api_request(api, "GET", "/version").status == 200);
        CHECK(read_result(stalled.get(), 100ms).describe() == "timeout");
        // After the API's 10 s read limit the stalled client is told why and the connection ends.
        const Received answer = recv_until_eof(stalled.get(), 15s);
        CHECK(answer.eof);
        CHECK(answer.bytes.starts_with("HTTP/1.1 408 "));
        CHECK(answer.bytes.ends_with(
            R"({"error":"the request did not arrive in time","status":408})"));
    }

    TEST_CASE("metrics count connections, bytes and teardowns by reason in Prometheus text") {
        ProxyFixture fixture;
        sockaddr_in api = api_address_of(fixture.faultline);
        Session session = fixture.open_session();
        fixture.round_trip(session);
        REQUIRE(::shutdown(session.client.get(), SHUT_WR) == 0);
        CHECK(read_to_end(session.server.get()).describe() == "EOF");
        session.server.reset();
        CHECK(read_to_end(session.client.get()).describe() == "EOF");
        REQUIRE(fixture.faultline.wait_teardown_of(session.client_address));

        auto metrics = api_request(api, "GET", "/metrics");
        CHECK(metrics.status == 200);
        CHECK(metrics.head.find("Content-Type: text/plain") != std::string::npos);
        CHECK(metrics.body.find("faultline_connections_total{proxy=\"p\"} 1\n") !=
              std::string::npos);
        CHECK(metrics.body.find("faultline_teardowns_total{proxy=\"p\",reason=\"TCP FINs\"} 1\n") !=
              std::string::npos);
        CHECK(metrics.body.find("faultline_bytes_total{proxy=\"p\",direction=\"upstream\"} 4\n") !=
              std::string::npos);
        CHECK(metrics.body.find("faultline_connections_open{proxy=\"p\"} 0\n") !=
              std::string::npos);
    }

    TEST_CASE("GET /config writes the running state as TOML that faultline check accepts") {
        ProxyFixture fixture;
        sockaddr_in api = api_address_of(fixture.faultline);
        REQUIRE(api_request(api, "POST", "/proxies/p/toxics",
                            R"({"type": "latency", "attributes": {"latency": 50}})")
                    .status == 200);
        auto config = api_request(api, "GET", "/config");
        CHECK(config.status == 200);
        CHECK(config.body.find("type = \"latency\"") != std::string::npos);
        TempConfig saved(config.body);
        auto checked = check_config(saved.path());
        INFO(checked.err);
        CHECK(checked.status.code() == 0);
    }

    TEST_CASE("/healthz shows the last reload's errors until a reload succeeds") {
        ProxyFixture fixture;
        sockaddr_in api = api_address_of(fixture.faultline);
        CHECK_FALSE(api_request(api, "GET", "/healthz").json().contains("last_reload_errors"));
        std::string broken = proxy_config(fixture.server.port, "idle_timeout = 5");
        {
            std::FILE* file = std::fopen(fixture.config.path().c_str(), "w");
            REQUIRE(file != nullptr);
            std::fputs(broken.c_str(), file);
            std::fclose(file);
        }
        REQUIRE(fixture.faultline.signal(SIGHUP));
        REQUIRE(fixture.faultline.wait_event("reload_failed"));
        Json health = api_request(api, "GET", "/healthz").json();
        REQUIRE(health.contains("last_reload_errors"));
        CHECK(health["last_reload_errors"][0].get<std::string>().find("idle_timeout") !=
              std::string::npos);
    }

    TEST_CASE("a foreign Origin or a rebound Host is refused with 403; the API's own is served") {
        Faultline faultline(
            std::vector<std::string>{"serve", "--api", "127.0.0.1:0", "--log-format", "json"});
        sockaddr_in api = api_address_of(faultline);
        const std::string own = address_text(api);
        auto foreign = api_request(api, "POST", "/reset", "", "Origin: http://evil.example\r\n");
        CHECK(foreign.status == 403);
        auto rebound =
            api_request(api, "GET", "/proxies", "", "Origin: http://evil.example:8474\r\n");
        CHECK(rebound.status == 403);
        auto same = api_request(api, "POST", "/reset", "", "Origin: http://" + own + "\r\n");
        CHECK(same.status == 204);
        // A page that reached the API through a rebinding DNS name sends no Origin on a GET, but
        // names that name in Host: it may not read either.
        const std::string port = own.substr(own.rfind(':'));
        auto rebound_read = api_send_raw(api, "GET /config HTTP/1.1\r\nHost: evil.example" + port +
                                                  "\r\nConnection: close\r\n\r\n");
        CHECK(rebound_read.status == 403);
        auto local_name = api_send_raw(api, "GET /version HTTP/1.1\r\nHost: localhost" + port +
                                                "\r\nOrigin: http://localhost" + port +
                                                "\r\nConnection: close\r\n\r\n");
        CHECK(local_name.status == 200);
        CHECK(api_request(api, "GET", "/version").status == 200);  // no Origin: any client
    }
}

}  // namespace faultline::e2e
