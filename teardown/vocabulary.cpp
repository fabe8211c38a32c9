// The names of the teardown vocabulary: one table per enum, each entry naming its value, so the
// names cannot drift from the enums' order.
#include "teardown/vocabulary.hpp"

#include <algorithm>
#include <array>
#include <utility>

namespace faultline::teardown {
namespace {

template <typename Enum, std::size_t size>
using Names = std::array<std::pair<Enum, std::string_view>, size>;

constexpr Names<Reason, 11> reasons{{
    {Reason::reset_i, "Reset-I"},
    {Reason::reset_o, "Reset-O"},
    {Reason::tcp_fins, "TCP FINs"},
    {Reason::fin_timeout, "FIN Timeout"},
    {Reason::syn_timeout, "SYN Timeout"},
    {Reason::xlate_clear, "Xlate Clear"},
    {Reason::deny, "Deny"},
    {Reason::syn_control, "SYN Control"},
    {Reason::uauth_deny, "Uauth Deny"},
    {Reason::unknown, "Unknown"},
    {Reason::conn_timeout, "Conn-timeout"},
}};

constexpr Names<EndpointState, 11> states{{
    {EndpointState::open, "open"},
    {EndpointState::not_connected, "not_connected"},
    {EndpointState::fin_received, "fin_received"},
    {EndpointState::fin_sent, "fin_sent"},
    {EndpointState::rst_received, "rst_received"},
    {EndpointState::rst_sent, "rst_sent"},
    {EndpointState::refused, "refused"},
    {EndpointState::connect_timeout, "connect_timeout"},
    {EndpointState::timed_out, "timed_out"},
    {EndpointState::closed, "closed"},
    {EndpointState::error, "error"},
}};

constexpr Names<Initiator, 3> initiators{{
    {Initiator::client, "client"},
    {Initiator::server, "server"},
    {Initiator::faultline, "faultline"},
}};

constexpr Names<Side, 2> sides{{{Side::client, "client"}, {Side::server, "server"}}};

template <typename Enum, std::size_t size>
std::string_view name_in(const Names<Enum, size>& names, Enum value) {
    auto it = std::find_if(names.begin(), names.end(),
                           [value](const auto& entry) { return entry.first == value; });
    return it == names.end() ? std::string_view("unknown") : it->second;
}

}  // namespace

std::string_view reason_name(Reason reason) {
    return name_in(reasons, reason);
}

std::optional<Reason> reason_from_name(std::string_view name) {
    auto it = std::find_if(reasons.begin(), reasons.end(),
                           [name](const auto& entry) { return entry.second == name; });
    if (it == reasons.end()) return std::nullopt;
    return it->first;
}

const std::vector<std::string_view>& reason_names() {
    static const std::vector<std::string_view> names = [] {
        std::vector<std::pair<Reason, std::string_view>> sorted(reasons.begin(), reasons.end());
        std::sort(sorted.begin(), sorted.end());
        std::vector<std::string_view> list;
        list.reserve(sorted.size());
        for (const auto& [reason, name] : sorted)
            list.push_back(name);
        return list;
    }();
    return names;
}

std::string_view state_name(EndpointState state) {
    return name_in(states, state);
}

std::string_view initiator_name(Initiator initiator) {
    return name_in(initiators, initiator);
}

std::string_view side_name(Side side) {
    return name_in(sides, side);
}

}  // namespace faultline::teardown
