// Rendering of teardown records.
#include "teardown/record.hpp"

#include <fmt/format.h>

namespace faultline::teardown {
namespace {

nlohmann::ordered_json endpoint_json(const EndpointHistory& endpoint, Side side,
                                     const TeardownRecord& record) {
    nlohmann::ordered_json json;
    if (endpoint.address.empty()) {
        json["address"] = nullptr;
    } else {
        json["address"] = endpoint.address;
    }
    json["state"] = state_name(endpoint.state);
    json["reason"] = reason_name(endpoint_reason(endpoint, side, record.inside, record.cause));
    return json;
}

std::string endpoint_text(const EndpointHistory& endpoint) {
    return fmt::format("{}[{}]", endpoint.address.empty() ? "-" : endpoint.address,
                       state_name(endpoint.state));
}

}  // namespace

nlohmann::ordered_json to_json(const TeardownRecord& record) {
    nlohmann::ordered_json json;
    json["event"] = "teardown";
    json["id"] = record.id;
    json["proxy"] = record.proxy;
    json["reason"] = reason_name(record.cause.reason);
    json["initiator"] = initiator_name(record.cause.initiator);
    json["client"] = endpoint_json(record.client, Side::client, record);
    json["server"] = endpoint_json(record.server, Side::server, record);
    json["duration_ms"] = record.duration.count();
    json["bytes_up"] = record.bytes_up;
    json["bytes_down"] = record.bytes_down;
    if (record.cause.rule.empty()) {
        json["rule"] = nullptr;
    } else {
        json["rule"] = record.cause.rule;
    }
    if (!record.cause.error.empty()) json["error"] = record.cause.error;
    return json;
}

std::string to_text(const TeardownRecord& record) {
    auto millis = record.duration.count();
    std::string text = fmt::format(
        "teardown id={} proxy={} reason=\"{}\" initiator={} client={} server={} "
        "duration={}.{:03}s bytes_up={} bytes_down={} rule={}",
        record.id, record.proxy, reason_name(record.cause.reason),
        initiator_name(record.cause.initiator), endpoint_text(record.client),
        endpoint_text(record.server), millis / 1000, millis % 1000, record.bytes_up,
        record.bytes_down, record.cause.rule.empty() ? "-" : record.cause.rule);
    if (!record.cause.error.empty()) text += " error=" + record.cause.error;
    return text;
}

}  // namespace faultline::teardown
