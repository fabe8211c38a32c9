// A rule: one fault, aimed at one stream of one proxy's connections, with the probability and the
// conditions under which it acts. Rules are immutable values; a changed rule is a new value.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "faults/fault.hpp"
#include "faults/spec.hpp"
#include "rules/cidr.hpp"
#include "rules/match.hpp"
#include "rules/units.hpp"

namespace faultline::rules {

struct Rule {
    std::string name;
    faults::Stream stream = faults::Stream::downstream;
    double toxicity = 1.0;  // probability that a connection is affected, drawn once per connection
    bool enabled = true;
    std::shared_ptr<const faults::FaultSpec> fault;
    Match match;

    [[nodiscard]] std::string_view type() const { return fault ? fault->type() : "none"; }
};

// "upstream" or "downstream", as configuration files and the API write them.
[[nodiscard]] std::string_view stream_name(faults::Stream stream);

// A rule whose fault acts on the proxy's listener (refuse reject, refuse drop) affects every
// connection at once: toxicity below 1 or match conditions would silently do nothing, so they are
// an error. Returns the message, or nullopt when the rule is consistent.
[[nodiscard]] std::optional<std::string> listener_rule_problem(const Rule& rule);

// Names of proxies and rules: letters, digits, '.', '_' and '-' (they appear in API paths and
// in log lines unquoted). The hint completes "invalid name 'x'; ".
[[nodiscard]] bool is_valid_name(std::string_view name);
inline constexpr std::string_view valid_name_hint = "use only letters, digits, '.', '_' and '-'";

// The API's form of a rule: a Toxiproxy toxic {"name", "type", "stream", "toxicity",
// "attributes"} plus faultline's "enabled" and "match". With Toxiproxy's defaults: name
// `<type>_<stream>` (also for an empty name), stream downstream, toxicity 1.0; null is absent.
// Errors are `key.path: message` (Toxiproxy's own text where it has one), in key order.
struct ParsedRule {
    std::optional<Rule> rule;  // absent when there were errors
    std::vector<std::string> errors;
};

[[nodiscard]] ParsedRule parse_rule_json(const nlohmann::json& toxic);
// Every key, attributes with their defaults; "match" only when the rule has conditions.
[[nodiscard]] nlohmann::ordered_json rule_to_json(const Rule& rule);

}  // namespace faultline::rules
