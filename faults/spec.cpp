// Attribute reading with errors that name the attribute and say what was expected and seen.
#include "faults/spec.hpp"

#include <algorithm>

namespace faultline::faults {
namespace {

std::string kind_of(const nlohmann::json& value) {
    switch (value.type()) {
        case nlohmann::json::value_t::string:
            return "a string";
        case nlohmann::json::value_t::boolean:
            return "a boolean";
        case nlohmann::json::value_t::number_integer:
        case nlohmann::json::value_t::number_unsigned:
            return "an integer";
        case nlohmann::json::value_t::number_float:
            return "a number with a fraction";
        case nlohmann::json::value_t::array:
            return "an array";
        case nlohmann::json::value_t::object:
            return "an object";
        default:
            return "null";
    }
}

std::string listed(const std::vector<std::string_view>& choices) {
    std::string text;
    for (auto c : choices)
        text += (text.empty() ? "" : ", ") + std::string(c);
    return text;
}

}  // namespace

AttributeReader::AttributeReader(const nlohmann::json& attributes,
                                 std::vector<AttributeError>& errors)
    : attributes_(attributes), errors_(errors) {
    if (!attributes_.is_null() && !attributes_.is_object()) {
        errors_.push_back({"", "attributes must be an object, got " + kind_of(attributes_)});
    }
}

std::optional<std::int64_t> AttributeReader::read_integer(std::string_view name) {
    known_.emplace_back(name);
    if (!attributes_.is_object() || !attributes_.contains(name)) return std::nullopt;
    const auto& value = attributes_.at(std::string(name));
    if (value.is_number_unsigned()) {
        auto raw = value.get<std::uint64_t>();
        return raw > static_cast<std::uint64_t>(INT64_MAX) ? INT64_MAX
                                                           : static_cast<std::int64_t>(raw);
    }
    if (value.is_number_integer()) return value.get<std::int64_t>();
    if (value.is_number_float() &&
        value.get<double>() ==
            static_cast<double>(static_cast<std::int64_t>(value.get<double>()))) {
        return static_cast<std::int64_t>(value.get<double>());  // 100.0 from JavaScript clients
    }
    errors_.push_back({std::string(name), "expected an integer, got " + kind_of(value)});
    return std::nullopt;
}

std::int64_t AttributeReader::integer(std::string_view name, std::int64_t fallback,
                                      std::int64_t min, std::int64_t max) {
    auto number = read_integer(name);
    if (!number) return fallback;
    if (*number < min || *number > max) {
        errors_.push_back({std::string(name), "must be between " + std::to_string(min) + " and " +
                                                  std::to_string(max) + ", got " +
                                                  std::to_string(*number)});
        return fallback;
    }
    return *number;
}

std::int64_t AttributeReader::positive_integer(std::string_view name, std::int64_t max) {
    const auto size_before = errors_.size();
    auto number = read_integer(name);
    if (errors_.size() != size_before) return 0;
    auto value = number.value_or(0);
    if (value <= 0) {
        errors_.push_back(
            {std::string(name), "must be greater than 0, got " + std::to_string(value)});
        return 0;
    }
    if (value > max) {
        errors_.push_back({std::string(name), "must be between 1 and " + std::to_string(max) +
                                                  ", got " + std::to_string(value)});
        return 0;
    }
    return value;
}

bool AttributeReader::boolean(std::string_view name, bool fallback) {
    known_.emplace_back(name);
    if (!attributes_.is_object() || !attributes_.contains(name)) return fallback;
    const auto& value = attributes_.at(std::string(name));
    if (!value.is_boolean()) {
        errors_.push_back({std::string(name), "expected a boolean, got " + kind_of(value)});
        return fallback;
    }
    return value.get<bool>();
}

std::optional<std::string> AttributeReader::read_choice(
    std::string_view name, const std::vector<std::string_view>& choices) {
    known_.emplace_back(name);
    if (!attributes_.is_object() || !attributes_.contains(name)) return std::nullopt;
    const auto& value = attributes_.at(std::string(name));
    if (!value.is_string()) {
        errors_.push_back(
            {std::string(name), "expected one of " + listed(choices) + ", got " + kind_of(value)});
        return std::nullopt;
    }
    auto text = value.get<std::string>();
    if (std::find(choices.begin(), choices.end(), text) == choices.end()) {
        errors_.push_back(
            {std::string(name), "unknown value '" + text + "'; known: " + listed(choices)});
        return std::nullopt;
    }
    return text;
}

std::string AttributeReader::choice(std::string_view name, std::string_view fallback,
                                    const std::vector<std::string_view>& choices) {
    return read_choice(name, choices).value_or(std::string(fallback));
}

std::string AttributeReader::required_choice(std::string_view name,
                                             const std::vector<std::string_view>& choices) {
    const auto size_before = errors_.size();
    auto text = read_choice(name, choices);
    if (!text && errors_.size() == size_before) {
        errors_.push_back({std::string(name), "required: one of " + listed(choices)});
    }
    return text.value_or("");
}

void AttributeReader::report(std::string_view name, std::string message) {
    errors_.push_back({std::string(name), std::move(message)});
}

void AttributeReader::reject_unknown() {
    if (!attributes_.is_object()) return;
    std::string listed;
    for (const auto& k : known_)
        listed += (listed.empty() ? "" : ", ") + k;
    for (const auto& [key, value] : attributes_.items()) {
        if (std::find(known_.begin(), known_.end(), key) != known_.end()) continue;
        errors_.push_back({key, known_.empty() ? "unknown attribute; this type has none"
                                               : "unknown attribute; known: " + listed});
    }
}

}  // namespace faultline::faults
