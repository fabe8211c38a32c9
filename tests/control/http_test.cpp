// The control API's request parser: complete, partial, pipelined, oversized and malformed input.
#include "control/http.hpp"

#include <doctest/doctest.h>

#include <string>

namespace faultline::control {

TEST_SUITE("control/http") {
    TEST_CASE("parses a request with headers and a body") {
        HttpParser parser;
        auto state = parser.feed(
            "POST /proxies?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nX-Thing:  v "
            "\r\n\r\nbody");
        REQUIRE(state == HttpParser::State::complete);
        auto request = parser.take();
        CHECK(request.method == "POST");
        CHECK(request.path == "/proxies");
        CHECK(request.query == "x=1");
        CHECK(request.header("x-thing") == "v");
        CHECK(request.body == "body");
        CHECK(request.keep_alive);
    }

    TEST_CASE("waits for the rest of a request that arrives in pieces") {
        HttpParser parser;
        CHECK_FALSE(parser.is_mid_request());
        CHECK(parser.feed("GET /ver") == HttpParser::State::incomplete);
        CHECK(parser.is_mid_request());
        CHECK(parser.feed("sion HTTP/1.1\r\n") == HttpParser::State::incomplete);
        CHECK(parser.feed("\r\n") == HttpParser::State::complete);
        CHECK_FALSE(parser.is_mid_request());
        CHECK(parser.take().path == "/version");
        CHECK(parser.feed({}) == HttpParser::State::incomplete);
        CHECK_FALSE(parser.is_mid_request());
    }

    TEST_CASE("keeps a pipelined second request for after the first") {
        HttpParser parser;
        REQUIRE(parser.feed("GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.0\r\n\r\n") ==
                HttpParser::State::complete);
        CHECK(parser.take().path == "/a");
        REQUIRE(parser.feed({}) == HttpParser::State::complete);
        auto second = parser.take();
        CHECK(second.path == "/b");
        CHECK_FALSE(second.keep_alive);
    }

    TEST_CASE("rejects oversized headers and bodies with 431 and 413") {
        HttpParser headers;
        CHECK(headers.feed("GET / HTTP/1.1\r\nX: " + std::string(20000, 'a')) ==
              HttpParser::State::failed);
        CHECK(headers.error_status() == 431);

        HttpParser body;
        CHECK(body.feed("POST / HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n") ==
              HttpParser::State::failed);
        CHECK(body.error_status() == 413);
    }

    TEST_CASE("rejects malformed input with a 4xx or 5xx status and a message") {
        struct Case {
            const char* input;
            int status;
        };
        for (auto [input, status] :
             {Case{"NONSENSE\r\n\r\n", 400}, Case{"GET nopath HTTP/1.1\r\n\r\n", 400},
              Case{"GET / HTTP/2.0\r\n\r\n", 505},
              Case{"GET / HTTP/1.1\r\nbad header\r\n\r\n", 400},
              Case{"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n", 400}}) {
            CAPTURE(std::string(input));
            HttpParser parser;
            CHECK(parser.feed(input) == HttpParser::State::failed);
            CHECK(parser.error_status() == status);
            CHECK_FALSE(parser.error_message().empty());
        }
    }

    TEST_CASE("decodes a chunked request body") {
        HttpParser parser;
        REQUIRE(parser.feed("POST /p HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                            "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n") == HttpParser::State::complete);
        CHECK(parser.take().body == "abcde");
    }

    TEST_CASE("serialises errors as Toxiproxy does") {
        auto response = error_response(404, "proxy not found");
        CHECK(response.body == R"({"error":"proxy not found","status":404})");
        auto text = serialize(response, true);
        CHECK(text.starts_with("HTTP/1.1 404 Not Found\r\n"));
        CHECK(text.find("Content-Type: application/json\r\n") != std::string::npos);
        CHECK(text.ends_with("\r\n\r\n" + response.body));
    }
}

}  // namespace faultline::control
