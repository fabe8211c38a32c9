// The fault types faultline knows, as an explicit list (static self-registration in a static
// library is silently dropped by the linker). A new type is one header in faults/ and one line in
// registry.cpp.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string_view>
#include <vector>

#include "faults/spec.hpp"

namespace faultline::faults {

using ParsedSpec = ParsedSpecResult;

// Validates `attributes` (a JSON object; null means none) for the named type. An unknown type is
// reported as an error on the attribute "" with the list of known types.
[[nodiscard]] ParsedSpec parse_fault(std::string_view type, const nlohmann::json& attributes);
[[nodiscard]] bool is_known_type(std::string_view type);
// The known type names, in the order of the list.
[[nodiscard]] std::vector<std::string_view> known_types();
// The same, as messages list them: "latency, bandwidth, ...".
[[nodiscard]] std::string known_type_list();

// A type as the API describes it: its attributes and, where every attribute has a default, the
// defaults (null for a type with a required attribute, such as half_close's mode).
struct FaultTypeInfo {
    std::string_view type;
    std::vector<std::string> attributes;
    nlohmann::ordered_json defaults;
};
[[nodiscard]] std::vector<FaultTypeInfo> fault_types();

}  // namespace faultline::faults
