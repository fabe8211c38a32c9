// The teardown records the API serves: the latest ones for GET /events, and each new one to the
// clients that follow the stream (GET /events?follow=1).
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace faultline::control {

class EventLog {
  public:
    static constexpr std::size_t recent_limit = 1000;

    // A new record: passed to `on_publish`, then kept among the recent ones.
    void publish(nlohmann::ordered_json record);
    // The latest records, oldest first (at most recent_limit).
    [[nodiscard]] const std::deque<nlohmann::ordered_json>& recent() const { return recent_; }
    // The same as a JSON array, written once per change however often it is asked for: clients
    // that poll GET /events cost a copy each, not a serialisation of a thousand records.
    [[nodiscard]] const std::string& recent_text() const;

    // Called with each published record.
    std::function<void(const nlohmann::ordered_json& record)> on_publish;

  private:
    std::deque<nlohmann::ordered_json> recent_;
    mutable std::optional<std::string> recent_text_;  // dropped by each publish
};

}  // namespace faultline::control
