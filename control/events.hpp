// The teardown records the API serves: the latest ones for GET /events, and each new one to the
// clients that follow the stream (GET /events?follow=1).
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <nlohmann/json.hpp>

namespace faultline::control {

class EventLog {
  public:
    static constexpr std::size_t recent_limit = 1000;

    // A new record: passed to `on_publish`, then kept among the recent ones.
    void publish(nlohmann::ordered_json record);
    // The latest records, oldest first (at most recent_limit).
    [[nodiscard]] const std::deque<nlohmann::ordered_json>& recent() const { return recent_; }

    // Called with each published record.
    std::function<void(const nlohmann::ordered_json& record)> on_publish;

  private:
    std::deque<nlohmann::ordered_json> recent_;
};

}  // namespace faultline::control
