// A small blocking HTTP client for faultline's control API, what `faultline ctl` is built on: one
// request per connection, answered in full, or an answer read line by line (the event stream).
// Failures (the API cannot be reached, or answers with an error) are ApiClient::Failure with a
// message for people.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace faultline::cli {

class ApiClient {
  public:
    class Failure : public std::runtime_error {
      public:
        using std::runtime_error::runtime_error;
    };
    struct Answer {
        int status = 0;
        std::string body;
    };

    // `url`: "http://host:port"; `token`: sent as a bearer token when given.
    ApiClient(std::string url, std::optional<std::string> token);

    // One request, answered in full.
    [[nodiscard]] Answer request(std::string_view method, const std::string& path,
                                 const std::string& body = {}) const;
    // The answer's JSON; Failure with the API's error message when it is an error.
    [[nodiscard]] nlohmann::json call(std::string_view method, const std::string& path,
                                      const std::string& body = {}) const;
    // An answer's JSON, or Failure with the API's error message when the status is an error.
    [[nodiscard]] static nlohmann::json checked(const Answer& answer);
    // An answer that streams lines (GET /events?follow=1): `on_open` once the answer has started,
    // then each line to `on_line` as it arrives, until the API closes the stream. Failure when
    // the answer is an error.
    void follow(const std::string& path, const std::function<void()>& on_open,
                const std::function<void(const std::string&)>& on_line) const;

    [[nodiscard]] const std::string& url() const { return url_; }

  private:
    // A connected socket with the request sent.
    [[nodiscard]] int send_request(std::string_view method, const std::string& path,
                                   const std::string& body) const;
    // The status line and headers taken off `reply`; Failure when it is not HTTP.
    [[nodiscard]] int take_head(std::string& reply) const;

    std::string url_;
    std::optional<std::string> token_;
};

}  // namespace faultline::cli
