// The list of fault types.
#include "faults/registry.hpp"

#include <string>

#include "faults/noop.hpp"

namespace faultline::faults {
namespace {

using Reader = ParsedSpec (*)(std::string_view type, const nlohmann::json& attributes);

struct Entry {
    std::string_view type;
    Reader read;
};

// One line per fault type.
constexpr Entry registry[] = {
    {"noop", read_basic_spec<NoopConfig, NoopFault>},
};

}  // namespace

ParsedSpec parse_fault(std::string_view type, const nlohmann::json& attributes) {
    for (const auto& entry : registry) {
        if (entry.type == type) return entry.read(type, attributes);
    }
    std::string known;
    for (const auto& entry : registry)
        known += (known.empty() ? "" : ", ") + std::string(entry.type);
    ParsedSpec result;
    result.errors.push_back(
        {"", "unknown fault type '" + std::string(type) + "'; known: " + known});
    return result;
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

}  // namespace faultline::faults
