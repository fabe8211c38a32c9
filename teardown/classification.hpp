// Classification: from what each endpoint did and what was done to it, the reason of each
// endpoint's side and of the connection. No sockets here: the session reports events, these
// functions name them.
#pragma once

#include <string>

#include "teardown/vocabulary.hpp"

namespace faultline::teardown {

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

[[nodiscard]] Initiator initiator_of(Side side);

// Reset by an endpoint: Reset-I when that endpoint is the inside one.
[[nodiscard]] Reason reset_reason(Side endpoint, Side inside);

// How one endpoint's side ended: its own RST or refusal, its own SYN timeout, its own FIN, or
// else whatever ended the connection.
[[nodiscard]] Reason endpoint_reason(const EndpointHistory& endpoint, Side side, Side inside,
                                     const Cause& cause);

}  // namespace faultline::teardown
