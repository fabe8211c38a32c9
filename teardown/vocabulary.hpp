// The teardown vocabulary, in one place: the reasons of the Cisco ASA teardown log (syslog
// 302014), the states one endpoint's side of a connection ends in, who started the ending, and
// which endpoint is the ASA "inside". Each value's name is written once, beside the value.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

namespace faultline::teardown {

// Why a connection ended: the first cause in time.
enum class Reason {
    reset_i,       // Reset-I: the inside endpoint sent the first RST
    reset_o,       // Reset-O: the outside endpoint sent the first RST, or refused the connect
    tcp_fins,      // TCP FINs: both directions ended with FIN
    fin_timeout,   // FIN Timeout: one direction ended, the other did not within half_closed_timeout
    syn_timeout,   // SYN Timeout: the upstream connect did not finish within connect_timeout
    xlate_clear,   // Xlate Clear: the operator removed it (API kill, reload, shutdown)
    deny,          // Deny: a fault rule ended it
    syn_control,   // SYN Control: the connection came back from faultline's own upstream side
    uauth_deny,    // Uauth Deny: the client's address is not allowed
    unknown,       // Unknown: anything else (EMFILE, an internal error)
    conn_timeout,  // Conn-timeout: idle longer than idle_timeout
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

// Who started the ending, in plain words.
enum class Initiator { client, server, faultline };

// One endpoint of a connection. As a setting, the one that is the ASA "inside" (higher-security)
// endpoint: it decides between Reset-I and Reset-O.
enum class Side { client, server };

[[nodiscard]] std::string_view reason_name(Reason reason);
// The reason of a log name ("Reset-I"), or nullopt.
[[nodiscard]] std::optional<Reason> reason_from_name(std::string_view name);
// Every reason's log name, in the order of the enum.
[[nodiscard]] const std::vector<std::string_view>& reason_names();
[[nodiscard]] std::string_view state_name(EndpointState state);
[[nodiscard]] std::string_view initiator_name(Initiator initiator);
[[nodiscard]] std::string_view side_name(Side side);

}  // namespace faultline::teardown
