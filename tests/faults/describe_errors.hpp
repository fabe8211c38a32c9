// Attribute errors as one line of text, "attribute: message; ...", so that a test compares them
// with the exact expected messages and a failure prints what was seen.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "faults/spec.hpp"

namespace faultline::faults {

inline std::string describe(const std::vector<AttributeError>& errors) {
    std::string text;
    for (const auto& error : errors)
        text += (text.empty() ? "" : "; ") + error.attribute + ": " + error.message;
    return text;
}

// The errors a fault type's Config reports for `attributes`, unknown attributes included.
template <typename Config>
std::string config_errors(const nlohmann::json& attributes) {
    std::vector<AttributeError> errors;
    AttributeReader reader(attributes, errors);
    (void)Config::read(reader);
    reader.reject_unknown();
    return describe(errors);
}

}  // namespace faultline::faults
