// The control API under careless and hostile clients: data and control share one event loop, so
// no API client may stall it (a proxied echo must stay fast), none may lock the others out, and
// the API must still answer when the process has run out of descriptors.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <string>
#include <thread>
#include <vector>

#include "tests/e2e/api_support.hpp"
#include "tests/e2e/checks.hpp"
#include "tests/e2e/harness.hpp"

namespace faultline::e2e {
namespace {

using Clock = std::chrono::steady_clock;

// The time of one round trip from the client through faultline to the server and back.
Millis echo_round_trip(Session& session) {
    const auto start = Clock::now();
    REQUIRE(send_all(session.client.get(), "ping") == 0);
    REQUIRE(recv_exact(session.server.get(), 4).bytes == "ping");
    REQUIRE(send_all(session.server.get(), "pong") == 0);
    REQUIRE(recv_exact(session.client.get(), 4).bytes == "pong");
    return std::chrono::duration_cast<Millis>(Clock::now() - start);
}

// Connections through the proxy that open and close, so that GET /events has records to show.
void fill_events(ProxyFixture& fixture, std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) {
        Session session = fixture.open_session();
        close_normally(session);
    }
    REQUIRE(fixture.faultline.wait_teardown_count(count).size() >= count);
}

// A connection to the API that sends `bytes` and then never reads.
Fd send_and_never_read(const sockaddr_in& api, const std::string& bytes) {
    Fd fd = connect_to(api);
    // Non-blocking: what the kernel does not take now, the client never sends.
    (void)send_once(fd.get(), bytes);
    return fd;
}

}  // namespace

TEST_SUITE("e2e api under abuse") {
    TEST_CASE(
        "100 clients pipelining GET /events and 200 followers that never read stall neither "
        "the proxied bytes nor /healthz") {
        ProxyFixture fixture;
        const sockaddr_in api = api_address_of(fixture.faultline);
        fill_events(fixture, 200);
        Session session = fixture.open_session();
        fixture.round_trip(session);

        const std::string request =
            "GET /events HTTP/1.1\r\nHost: " + address_text(api) + "\r\n\r\n";
        std::string pipelined;
        while (pipelined.size() + request.size() <= 4096)
            pipelined += request;
        std::vector<Fd> abusers;
        for (int i = 0; i < 100; ++i)
            abusers.push_back(send_and_never_read(api, pipelined));
        const std::string follow =
            "GET /events?follow=1 HTTP/1.1\r\nHost: " + address_text(api) + "\r\n\r\n";
        for (int i = 0; i < 200; ++i)
            abusers.push_back(send_and_never_read(api, follow));

        // Records keep coming meanwhile, for the followers to be sent.
        std::vector<Millis> round_trips;
        for (int i = 0; i < 20; ++i) {
            round_trips.push_back(echo_round_trip(session));
            Session passing = fixture.open_session();
            close_normally(passing);
        }
        const Millis slowest = *std::max_element(round_trips.begin(), round_trips.end());
        INFO("slowest proxied echo: " << slowest.count() << " ms");
        CHECK(slowest < 50ms);

        const auto start = Clock::now();
        const ApiAnswer health = api_request(api, "GET", "/healthz");
        const auto took = std::chrono::duration_cast<Millis>(Clock::now() - start);
        INFO("GET /healthz took " << took.count() << " ms");
        CHECK(health.status == 200);
        CHECK(took < 1s);
        const Json body = health.json();
        CHECK(body["loop_lag_ms"]["max"].is_number());
        CHECK(body["loop_lag_ms"]["recent_max"].is_number());
    }

    TEST_CASE("followers beyond the cap get 503, and followers leave every other client room") {
        ProxyFixture fixture;
        const sockaddr_in api = api_address_of(fixture.faultline);
        std::vector<Fd> followers;
        std::string rest;
        for (int i = 0; i < 64; ++i)
            followers.push_back(follow_events(api, rest));
        rest.clear();
        const ApiAnswer one_more = api_request(api, "GET", "/events?follow=1");
        CHECK(one_more.status == 503);
        CHECK(one_more.json()["error"].get<std::string>().find("follow") != std::string::npos);
        // Plain requests still get through, on many connections at once.
        std::vector<Fd> clients;
        for (int i = 0; i < 200; ++i)
            clients.push_back(send_and_never_read(api, "GET /version HTTP/1.1\r\n"));
        CHECK(api_request(api, "GET", "/version").status == 200);
        // A follower that leaves frees its place.
        followers.pop_back();
        bool is_followed = false;
        for (Deadline deadline(io_timeout); !is_followed && !deadline.has_passed();) {
            is_followed = api_request(api, "GET", "/events?follow=1").status != 503;
        }
        CHECK(is_followed);
    }

    TEST_CASE("a stalled loop shows in /metrics, and /healthz says degraded while it is recent") {
        ProxyFixture fixture;
        const sockaddr_in api = api_address_of(fixture.faultline);
        const Json calm = api_request(api, "GET", "/healthz").json();
        CHECK(calm["status"] == "ok");
        // Stopped, the process is a loop that blocks for that long.
        REQUIRE(fixture.faultline.signal(SIGSTOP));
        std::this_thread::sleep_for(700ms);
        REQUIRE(fixture.faultline.signal(SIGCONT));
        const Json stalled = api_request(api, "GET", "/healthz").json();
        INFO(stalled.dump());
        CHECK(stalled["status"] == "degraded");
        CHECK(stalled["loop_lag_ms"]["recent_max"].get<double>() >= 600);
        CHECK(stalled["problems"][0].get<std::string>().find("event loop") != std::string::npos);
        const ApiAnswer metrics = api_request(api, "GET", "/metrics");
        const auto max_line = metrics.body.find("\nfaultline_loop_lag_max_seconds ");
        REQUIRE(max_line != std::string::npos);
        CHECK(std::stod(metrics.body.substr(max_line + 32)) >= 0.6);
        CHECK(metrics.body.find("faultline_loop_lag_seconds_bucket{le=\"1\"}") !=
              std::string::npos);
    }

    TEST_CASE("out of descriptors, the API still answers, and the proxy serves again after") {
        ProxyFixture fixture("", SpawnOptions{.max_open_files = 64, .environment = {}});
        const sockaddr_in api = api_address_of(fixture.faultline);
        // Under UndefinedBehaviorSanitizer the first check of each dynamic type needs a free
        // descriptor: one ordinary request and connection first.
        REQUIRE(api_request(api, "GET", "/healthz").status == 200);
        {
            Session warm_up = fixture.open_session();
            close_normally(warm_up);
            (void)record_of(fixture, warm_up);
        }
        std::vector<Connected> clients;
        for (int i = 0; i < 60; ++i)
            clients.push_back(try_connect(fixture.proxy));
        REQUIRE(fixture.faultline.wait_event("accept_paused"));

        const ApiAnswer health = api_request(api, "GET", "/healthz");
        CHECK(health.status == 200);
        const ApiAnswer connections = api_request(api, "GET", "/connections");
        CHECK(connections.status == 200);

        // The clients leave, and the server closes the upstream connections faultline made.
        clients.clear();
        for (Deadline deadline(io_timeout); !deadline.has_passed();) {
            if (!accept_from(fixture.server.fd.get(), 200ms).is_open()) break;
        }
        Session after = fixture.open_session();
        fixture.round_trip(after);
        CHECK(api_request(api, "GET", "/healthz").status == 200);
    }
}

}  // namespace faultline::e2e
