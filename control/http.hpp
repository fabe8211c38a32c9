// A bounded HTTP/1.1 request parser (on Debian's http-parser library) and response writer for
// the control API. Input is fed as it arrives; headers and body have size limits, and malformed
// input yields a 4xx status with a message rather than an exception.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace faultline::control {

struct HttpRequest {
    std::string method;
    std::string path;                                          // without the query
    std::string query;                                         // after '?', empty when none
    std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
    std::string body;
    bool keep_alive = true;

    // The first header of that (lower-case) name, empty when absent.
    [[nodiscard]] std::string_view header(std::string_view name) const;
};

struct HttpResponse {
    int status = 200;
    std::string body;
    std::string content_type = "application/json";
    std::vector<std::pair<std::string, std::string>> headers;
    // A stream: the head goes out now (no length; the body ends when the connection closes) and
    // the server keeps the connection to send lines as they come (GET /events?follow=1).
    bool is_stream = false;
};

[[nodiscard]] std::string serialize(const HttpResponse& response, bool keep_alive);
[[nodiscard]] std::string_view status_text(int status);
// {"error": message, "status": status} as Toxiproxy answers errors.
[[nodiscard]] HttpResponse error_response(int status, std::string_view message);

class HttpParser {
  public:
    static constexpr std::size_t max_header_bytes = std::size_t{16} * 1024;
    static constexpr std::size_t max_body_bytes = std::size_t{1024} * 1024;

    enum class State { incomplete, complete, failed };

    HttpParser();
    HttpParser(const HttpParser&) = delete;
    HttpParser& operator=(const HttpParser&) = delete;
    ~HttpParser();

    // Parses input as far as the end of one request. After `complete`, take() the request; bytes
    // after it stay buffered for the next one (pipelining).
    State feed(std::string_view input);
    [[nodiscard]] HttpRequest take();
    // After `failed`: the status to answer with and why.
    [[nodiscard]] int error_status() const { return error_status_; }
    [[nodiscard]] const std::string& error_message() const { return error_message_; }
    [[nodiscard]] bool has_buffered_input() const { return !pending_.empty(); }
    // Part of a request has arrived, not all of it.
    [[nodiscard]] bool is_mid_request() const { return in_request_ && state_ == State::incomplete; }

    // http-parser's callbacks reach these.
    struct Callbacks;
    friend struct Callbacks;

  private:
    State run(std::string_view input);
    State fail(int status, std::string message);

    struct Machine;  // http-parser's state, kept out of this header
    std::unique_ptr<Machine> machine_;
    HttpRequest request_;
    std::string header_field_;
    bool is_header_value_ = false;
    bool in_request_ = false;  // between the first byte of a request and its end
    std::size_t header_bytes_ = 0;
    std::string pending_;  // input after a complete request, for the next one
    State state_ = State::incomplete;
    int error_status_ = 400;
    std::string error_message_;
};

}  // namespace faultline::control
