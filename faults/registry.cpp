// The list of fault types.
#include "faults/registry.hpp"

#include <string>

#include "faults/bandwidth.hpp"
#include "faults/half_close.hpp"
#include "faults/idle_timeout.hpp"
#include "faults/interrupt.hpp"
#include "faults/latency.hpp"
#include "faults/limit_data.hpp"
#include "faults/noop.hpp"
#include "faults/refuse.hpp"
#include "faults/reset.hpp"
#include "faults/reset_peer.hpp"
#include "faults/slicer.hpp"
#include "faults/slow_close.hpp"
#include "faults/timeout.hpp"

namespace faultline::faults {
namespace {

using Reader = ParsedSpec (*)(std::string_view type, const nlohmann::json& attributes);

struct Entry {
    std::string_view type;
    Reader read;
};

// One line per fault type.
constexpr Entry registry[] = {
    {"latency", read_basic_spec<LatencyConfig, LatencyFault>},
    {"bandwidth", read_basic_spec<BandwidthConfig, BandwidthFault>},
    {"slow_close", read_basic_spec<SlowCloseConfig, SlowCloseFault>},
    {"timeout", read_basic_spec<TimeoutConfig, TimeoutFault>},
    {"reset_peer", read_basic_spec<ResetPeerConfig, ResetPeerFault>},
    {"slicer", read_basic_spec<SlicerConfig, SlicerFault>},
    {"limit_data", read_basic_spec<LimitDataConfig, LimitDataFault>},
    {"noop", read_basic_spec<NoopConfig, NoopFault>},
    {"interrupt", read_basic_spec<InterruptConfig, InterruptFault>},
    {"reset", read_basic_spec<ResetConfig, ResetFault>},
    {"half_close", read_basic_spec<HalfCloseConfig, HalfCloseFault>},
    {"refuse", read_refuse_spec},
    {"idle_timeout", read_basic_spec<IdleTimeoutConfig, IdleTimeoutFault>},
};

}  // namespace

ParsedSpec parse_fault(std::string_view type, const nlohmann::json& attributes) {
    for (const auto& entry : registry) {
        // The list's own name: the spec keeps the view, which must outlive the caller's string.
        if (entry.type == type) return entry.read(entry.type, attributes);
    }
    ParsedSpec result;
    result.errors.push_back(
        {"", "unknown fault type '" + std::string(type) + "'; known: " + known_type_list()});
    return result;
}

std::string known_type_list() {
    std::string known;
    for (const auto& entry : registry)
        known += (known.empty() ? "" : ", ") + std::string(entry.type);
    return known;
}

bool is_known_type(std::string_view type) {
    for (const auto& entry : registry) {
        if (entry.type == type) return true;
    }
    return false;
}

std::vector<std::string_view> known_types() {
    std::vector<std::string_view> types;
    for (const auto& entry : registry)
        types.push_back(entry.type);
    return types;
}

std::vector<FaultTypeInfo> fault_types() {
    std::vector<FaultTypeInfo> types;
    for (const auto& entry : registry) {
        ParsedSpec parsed = entry.read(entry.type, nlohmann::json::object());
        types.push_back({entry.type, std::move(parsed.attribute_names),
                         parsed.spec ? parsed.spec->attributes() : nlohmann::ordered_json()});
    }
    return types;
}

}  // namespace faultline::faults
