// HTTP requests to faultline's control API from black-box tests: one request per connection,
// answered in full.
#pragma once

#include <doctest/doctest.h>

#include <string>

#include "tests/e2e/harness.hpp"

namespace faultline::e2e {

struct ApiAnswer {
    int status = 0;
    std::string head;
    std::string body;
    [[nodiscard]] Json json() const { return Json::parse(body); }
};

// Sends `raw` as it is on a fresh connection and reads the answer to EOF.
inline ApiAnswer api_send_raw(const sockaddr_in& api, std::string_view raw) {
    Fd fd = connect_to(api);
    REQUIRE(send_all(fd.get(), raw) == 0);
    Received received = recv_until_eof(fd.get());
    ApiAnswer answer;
    auto split = received.bytes.find("\r\n\r\n");
    answer.head = received.bytes.substr(0, split);
    if (split != std::string::npos) answer.body = received.bytes.substr(split + 4);
    if (answer.head.starts_with("HTTP/1.1 ")) answer.status = std::stoi(answer.head.substr(9, 3));
    return answer;
}

inline ApiAnswer api_request(const sockaddr_in& api, std::string_view method, std::string_view path,
                             std::string_view body = {}, std::string_view extra_headers = {}) {
    std::string raw = std::string(method) + " " + std::string(path) +
                      " HTTP/1.1\r\nHost: " + address_text(api) + "\r\nConnection: close\r\n" +
                      std::string(extra_headers);
    if (!body.empty()) raw += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    raw += "\r\n" + std::string(body);
    return api_send_raw(api, raw);
}

// A connection that follows the event stream (GET /events?follow=1), once the answer's head has
// arrived; what came after the head is left in `rest`.
inline Fd follow_events(const sockaddr_in& api, std::string& rest) {
    Fd follower = connect_to(api);
    REQUIRE(send_all(follower.get(), "GET /events?follow=1 HTTP/1.1\r\nHost: " + address_text(api) +
                                         "\r\n\r\n") == 0);
    while (rest.find("\r\n\r\n") == std::string::npos) {
        std::string piece;
        REQUIRE(read_result(follower.get(), io_timeout, &piece).kind == ReadResult::Kind::data);
        rest += piece;
    }
    CHECK(rest.starts_with("HTTP/1.1 200 OK\r\n"));
    rest.erase(0, rest.find("\r\n\r\n") + 4);
    return follower;
}

inline sockaddr_in api_address_of(Faultline& faultline) {
    auto event = faultline.wait_event(
        [](const Json& line) { return line["event"] == "listening" && line["kind"] == "api"; });
    REQUIRE(event);
    return parse_address((*event)["address"].get<std::string>());
}

}  // namespace faultline::e2e
