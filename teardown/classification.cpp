// Which reason each endpoint's side ends with.
#include "teardown/classification.hpp"

namespace faultline::teardown {

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

}  // namespace faultline::teardown
