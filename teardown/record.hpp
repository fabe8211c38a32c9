// The teardown record: how each endpoint's side of one connection ended and the one reason for
// the connection, rendered as a log line (text) and as the stable JSON interface that scripts,
// the API's event stream and the dashboard read.
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "teardown/classification.hpp"

namespace faultline::teardown {

struct TeardownRecord {
    std::uint64_t id = 0;
    std::string proxy;
    Cause cause;
    Side inside = Side::client;
    EndpointHistory client;
    EndpointHistory server;
    std::chrono::milliseconds duration{0};
    std::uint64_t bytes_up = 0;
    std::uint64_t bytes_down = 0;
};

// event, id, proxy, reason, initiator, client, server, duration_ms, bytes_up, bytes_down, rule,
// and error only when there is one.
[[nodiscard]] nlohmann::ordered_json to_json(const TeardownRecord& record);
// teardown id=42 proxy=pg reason="Reset-O" initiator=server client=127.0.0.1:51374[rst_sent] ...
[[nodiscard]] std::string to_text(const TeardownRecord& record);

}  // namespace faultline::teardown
