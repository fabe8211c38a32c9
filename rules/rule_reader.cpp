// Each [[proxy.rule]] table is checked key by key; its attributes are converted to JSON and
// validated by the fault type (faults::parse_fault), whose errors are placed back on the line of
// the attribute they name.
#include "rules/rule_reader.hpp"

#include <array>
#include <charconv>
#include <cstddef>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "faults/registry.hpp"

namespace faultline::rules {
namespace {

constexpr std::array<std::string_view, 7> rule_keys{"name",    "type",       "stream", "toxicity",
                                                    "enabled", "attributes", "match"};
constexpr std::array<std::string_view, 3> stream_words{"upstream", "downstream", "both"};
constexpr std::size_t both_streams = 2;  // index of "both" in stream_words
constexpr std::string_view toxicity_expected = "a number from 0.0 to 1.0";

// What one [[proxy.rule]] table says: a rule, which stands for one rule per stream when
// `is_both`. The name is empty when it was missing or wrong (and reported).
struct RuleEntry {
    Rule rule;
    bool is_both = false;
};

// Which rule a name belongs to, for the uniqueness message.
struct NameOwner {
    std::size_t index = 0;
    bool is_both = false;
};

// The shortest text that reads back as the same double: "1.5", "0.25", "nan".
std::string number_text(double value) {
    std::array<char, 32> text{};
    const auto end = std::to_chars(text.data(), text.data() + text.size(), value).ptr;
    return {text.data(), end};
}

class RuleReader {
  public:
    explicit RuleReader(TomlReader& toml) : toml_(toml) {}

    std::vector<Rule> read(const toml::node& node, std::string_view proxy_path) {
        const auto path = member(proxy_path, "rule");
        std::vector<Rule> rules;
        const auto* array = node.as_array();
        if (array == nullptr) {
            toml_.mismatch(node, path, "an array of tables ([[proxy.rule]])");
            return rules;
        }
        std::map<std::string, NameOwner> owners;
        for (std::size_t i = 0; i < array->size(); ++i) {
            const auto& entry = *array->get(i);
            const auto* table = entry.as_table();
            if (table == nullptr) {
                toml_.mismatch(entry, element(path, i), "a table");
                continue;
            }
            auto [rule, is_both] = read_rule(*table, element(path, i));
            std::vector<Rule> expanded;
            if (is_both) {
                expanded.push_back(with_stream(rule, faults::Stream::upstream));
                expanded.push_back(with_stream(rule, faults::Stream::downstream));
            } else {
                expanded.push_back(std::move(rule));
            }
            if (!expanded.front().name.empty()) {
                claim_names(expanded, {i, is_both}, owners, *table, path);
            }
            for (auto& one : expanded) {
                rules.push_back(std::move(one));
            }
        }
        return rules;
    }

  private:
    static Rule with_stream(const Rule& rule, faults::Stream stream) {
        Rule one = rule;
        one.stream = stream;
        if (!one.name.empty()) one.name += "_" + std::string(stream_name(stream));
        return one;
    }

    // Reports the first name of `rules` that an earlier rule of the proxy already has.
    void claim_names(const std::vector<Rule>& rules, NameOwner owner,
                     std::map<std::string, NameOwner>& owners, const toml::table& table,
                     std::string_view path) {
        for (const auto& rule : rules) {
            const auto [found, is_new] = owners.emplace(rule.name, owner);
            if (is_new) continue;
            std::string message = "name " + single_quoted(rule.name) + " is already used by " +
                                  element(path, found->second.index);
            if (owner.is_both || found->second.is_both) {
                message += R"( (stream = "both" adds _upstream and _downstream to a rule's name))";
            }
            toml_.error(*table.get("name"), member(element(path, owner.index), "name"), message);
            return;
        }
    }

    RuleEntry read_rule(const toml::table& table, std::string_view path) {
        toml_.check_keys(table, path, rule_keys);
        RuleEntry entry;
        Rule& rule = entry.rule;
        if (toml_.require(table, path, "name")) rule.name = read_name(table, path);
        std::string type;
        if (toml_.require(table, path, "type")) type = read_type(table, path);
        if (const auto stream = toml_.read_choice(table, "stream", path, "stream", stream_words)) {
            entry.is_both = *stream == both_streams;
            rule.stream = *stream == 0 ? faults::Stream::upstream : faults::Stream::downstream;
        }
        if (const auto toxicity = read_toxicity(table, path)) rule.toxicity = *toxicity;
        if (const auto* enabled = toml_.typed<bool>(table, "enabled", path, "a boolean")) {
            rule.enabled = enabled->get();
        }
        rule.fault = read_fault(table, path, type);
        if (const auto* match = toml_.typed<toml::table>(table, "match", path, "a table")) {
            rule.match = read_match(*match, member(path, "match"));
        }
        if (auto problem = listener_rule_problem(rule)) toml_.error(table, path, *problem);
        return entry;
    }

    std::string read_name(const toml::table& table, std::string_view path) {
        auto name = toml_.read_string(table, "name", path);
        if (!name) return {};
        if (is_valid_name(*name)) return std::move(*name);
        toml_.error(*table.get("name"), member(path, "name"),
                    "invalid name " + single_quoted(*name) + "; " + std::string(valid_name_hint));
        return {};
    }

    // The type when it is a known one, else "" (and reported).
    std::string read_type(const toml::table& table, std::string_view path) {
        auto type = toml_.read_string(table, "type", path);
        if (!type) return {};
        if (faults::is_known_type(*type)) return std::move(*type);
        toml_.error(*table.get("type"), member(path, "type"),
                    "unknown fault type " + single_quoted(*type) +
                        "; known: " + join(faults::known_types(), ", "));
        return {};
    }

    std::optional<double> read_toxicity(const toml::table& table, std::string_view path) {
        const toml::node* node = table.get("toxicity");
        if (node == nullptr) return std::nullopt;
        const auto key_path = member(path, "toxicity");
        double value = 0.0;
        std::string seen;
        if (const auto* integer = node->as_integer()) {
            value = static_cast<double>(integer->get());
            seen = std::to_string(integer->get());
        } else if (const auto* number = node->as_floating_point()) {
            value = number->get();
            seen = number_text(value);
        } else {
            toml_.mismatch(*node, key_path, toxicity_expected);
            return std::nullopt;
        }
        if (!(value >= 0.0 && value <= 1.0)) {  // NaN too
            toml_.error(*node, key_path,
                        "expected " + std::string(toxicity_expected) + ", got " + seen);
            return std::nullopt;
        }
        return value;
    }

    // The fault type validates the attributes; its errors are reported at the attribute's value,
    // else at the attributes table, else at the rule. Nothing is validated for an unknown type.
    std::shared_ptr<const faults::FaultSpec> read_fault(const toml::table& table,
                                                        std::string_view path,
                                                        const std::string& type) {
        const auto attributes_path = member(path, "attributes");
        const auto* attributes = toml_.typed<toml::table>(table, "attributes", path, "a table");
        const auto values =
            attributes != nullptr ? to_json(*attributes, attributes_path) : nlohmann::json();
        if (type.empty()) return nullptr;
        auto parsed = faults::parse_fault(type, values);
        for (const auto& failure : parsed.errors) {
            const toml::node* at = &table;
            if (attributes != nullptr) at = attributes;
            if (attributes != nullptr && !failure.attribute.empty()) {
                if (const auto* value = attributes->get(failure.attribute)) at = value;
            }
            toml_.error(*at,
                        failure.attribute.empty() ? attributes_path
                                                  : member(attributes_path, failure.attribute),
                        failure.message);
        }
        return parsed.spec;
    }

    // Attributes as the API would send them; values other than scalars are reported and left out.
    nlohmann::json to_json(const toml::table& attributes, std::string_view path) {
        auto values = nlohmann::json::object();
        for (const auto& [key, node] : attributes) {
            const std::string name(key.str());
            if (const auto* integer = node.as_integer()) {
                values[name] = integer->get();
            } else if (const auto* number = node.as_floating_point()) {
                values[name] = number->get();
            } else if (const auto* flag = node.as_boolean()) {
                values[name] = flag->get();
            } else if (const auto* text = node.as_string()) {
                values[name] = text->get();
            } else {
                toml_.mismatch(node, member(path, name), "a number, a boolean or a string");
            }
        }
        return values;
    }

    Match read_match(const toml::table& table, std::string_view path) {
        toml_.check_keys(table, path, match_keys);
        Match match;
        for (const auto& condition : match_conditions) {
            const std::string_view key = condition.key;
            std::visit(ForEachKind{
                           [&](NetworksField field) {
                               match.*field = toml_.read_networks(table, key, path);
                           },
                           [&](CountField field) {
                               match.*field =
                                   toml_.read_count(table, key, path, condition.min_count);
                           },
                           [&](DurationField field) {
                               match.*field = toml_.read_duration(table, key, path);
                           },
                       },
                       condition.field);
        }
        return match;
    }

    TomlReader& toml_;
};

}  // namespace

std::vector<Rule> read_rules(TomlReader& reader, const toml::node& rules,
                             std::string_view proxy_path) {
    return RuleReader(reader).read(rules, proxy_path);
}

}  // namespace faultline::rules
