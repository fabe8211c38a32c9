// Classification and rendering of teardown records.
#include "proxy/teardown.hpp"

#include <fmt/format.h>

#include "rules/config.hpp"

namespace faultline::proxy {

// The names live with the configuration, which checks [[expect]] reason = "..." against them;
// the list follows the order of enum Reason.
std::string_view reason_name(Reason reason) {
    return rules::teardown_reason_names().at(static_cast<std::size_t>(reason));
}

std::string_view state_name(EndpointState state) {
    switch (state) {
        case EndpointState::open:
            return "open";
        case EndpointState::not_connected:
            return "not_connected";
        case EndpointState::fin_received:
            return "fin_received";
        case EndpointState::fin_sent:
            return "fin_sent";
        case EndpointState::rst_received:
            return "rst_received";
        case EndpointState::rst_sent:
            return "rst_sent";
        case EndpointState::refused:
            return "refused";
        case EndpointState::connect_timeout:
            return "connect_timeout";
        case EndpointState::timed_out:
            return "timed_out";
        case EndpointState::closed:
            return "closed";
        case EndpointState::error:
            return "error";
    }
    return "error";
}

std::string_view initiator_name(Initiator initiator) {
    switch (initiator) {
        case Initiator::client:
            return "client";
        case Initiator::server:
            return "server";
        case Initiator::faultline:
            return "faultline";
    }
    return "faultline";
}

Initiator initiator_of(Side side) {
    return side == Side::client ? Initiator::client : Initiator::server;
}

Reason reset_reason(Side endpoint, Side inside) {
    return endpoint == inside ? Reason::reset_i : Reason::reset_o;
}

Reason endpoint_reason(const EndpointHistory& endpoint, Side side, Side inside,
                       const Cause& cause) {
    if (endpoint.sent_rst || endpoint.refused) return reset_reason(side, inside);
    if (endpoint.connect_timed_out) return Reason::syn_timeout;
    if (endpoint.sent_fin) return Reason::tcp_fins;
    return cause.reason;
}

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

}  // namespace faultline::proxy
