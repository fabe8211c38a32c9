// The teardown record: how each endpoint's side of a connection ended and the one reason for the
// connection, in the vocabulary of the Cisco ASA teardown log (syslog 302014). This part knows no
// sockets: the session reports what happened to each leg, and the functions here classify it and
// render the record as a log line (text or JSON).
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "rules/config.hpp"

namespace faultline::proxy {

using rules::Side;

enum class Reason {
    reset_i,
    reset_o,
    tcp_fins,
    fin_timeout,
    syn_timeout,
    xlate_clear,
    deny,
    syn_control,
    uauth_deny,
    unknown,
    conn_timeout,
};

// How faultline's connection to one endpoint ended (the last state reached).
enum class EndpointState {
    open,  // not ended yet; never appears in a finished record
    not_connected,
    fin_received,
    fin_sent,
    rst_received,
    rst_sent,
    refused,
    connect_timeout,
    timed_out,
    closed,
    error,
};

enum class Initiator { client, server, faultline };

[[nodiscard]] std::string_view reason_name(Reason reason);
[[nodiscard]] std::string_view state_name(EndpointState state);
[[nodiscard]] std::string_view initiator_name(Initiator initiator);
[[nodiscard]] Initiator initiator_of(Side side);

// What one endpoint did and what was done to it, as the session saw it.
struct EndpointHistory {
    std::string address;  // empty when unknown
    EndpointState state = EndpointState::open;
    bool sent_fin = false;  // we read EOF from it
    bool sent_rst = false;  // we read or wrote ECONNRESET/EPIPE on it
    bool refused = false;   // its connect answered ECONNREFUSED
    bool connect_timed_out = false;
};

// The first terminal cause in time; later events only change endpoint states.
struct Cause {
    Reason reason = Reason::unknown;
    Initiator initiator = Initiator::faultline;
    std::string error;  // libuv error name, for Unknown
    std::string rule;   // the rule that caused it, empty for none
};

// Reset by an endpoint: Reset-I when that endpoint is the inside one.
[[nodiscard]] Reason reset_reason(Side endpoint, Side inside);

// How one endpoint's side ended: its own RST or refusal, its own SYN timeout, its own FIN, or
// else whatever ended the connection.
[[nodiscard]] Reason endpoint_reason(const EndpointHistory& endpoint, Side side, Side inside,
                                     const Cause& cause);

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

// The stable JSON interface: event, id, proxy, reason, initiator, client, server, duration_ms,
// bytes_up, bytes_down, rule, and error only when there is one.
[[nodiscard]] nlohmann::ordered_json to_json(const TeardownRecord& record);
// teardown id=42 proxy=pg reason="Reset-O" initiator=server client=127.0.0.1:51374[rst_sent] ...
[[nodiscard]] std::string to_text(const TeardownRecord& record);

}  // namespace faultline::proxy
