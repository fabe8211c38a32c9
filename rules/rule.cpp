// The parts of a rule that do not depend on the configuration file: stream names, the name check,
// and the JSON form that the API reads and writes (a Toxiproxy toxic with faultline's "enabled"
// and "match"). The TOML form, with positions, is read in rule_reader.cpp.
#include "rules/rule.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <span>
#include <utility>

#include "faults/registry.hpp"

namespace faultline::rules {
namespace {

using nlohmann::json;
using Fields = std::span<const std::string_view>;

// Toxiproxy's text for any stream but upstream and downstream.
constexpr std::string_view invalid_stream =
    "stream was invalid, can be either upstream or downstream";
constexpr std::string_view toxicity_expected = "a number from 0.0 to 1.0";

template <typename Words>
std::string listed(const Words& words) {
    std::string out;
    for (const auto& word : words) {
        out += (out.empty() ? "" : ", ") + std::string(word);
    }
    return out;
}

std::string member(std::string_view path, std::string_view key) {
    return path.empty() ? std::string(key) : std::string(path) + "." + std::string(key);
}

// "a string", "an object": how messages name the type of a JSON value that was seen.
std::string_view kind_of(const json& value) {
    switch (value.type()) {
        case json::value_t::string:
            return "a string";
        case json::value_t::boolean:
            return "a boolean";
        case json::value_t::number_integer:
        case json::value_t::number_unsigned:
            return "an integer";
        case json::value_t::number_float:
            return "a number with a fraction";
        case json::value_t::array:
            return "an array";
        case json::value_t::object:
            return "an object";
        default:
            return "null";
    }
}

// The field's value, or null when it is absent or JSON null (Go's decoder, which Toxiproxy
// clients expect, treats both alike).
const json* field(const json& object, std::string_view key) {
    const auto found = object.find(std::string(key));
    if (found == object.end() || found->is_null()) return nullptr;
    return &*found;
}

// Reads one toxic object, collecting `key.path: message` errors in key order.
class JsonRuleReader {
  public:
    ParsedRule read(const json& toxic) {
        ParsedRule result;
        if (!toxic.is_object()) {
            mismatch(toxic, "", "an object");
            result.errors = std::move(errors_);
            return result;
        }
        // Unknown top-level fields are ignored, as Toxiproxy ignores them: its clients send
        // fields of their own. faultline's own `match` object stays strict.
        Rule rule;
        if (const auto* name = field(toxic, "name")) read_name(*name, rule);
        const std::string type = read_type(toxic);
        if (const auto* stream = field(toxic, "stream")) read_stream(*stream, rule);
        if (rule.name.empty()) rule.name = type + "_" + std::string(stream_name(rule.stream));
        if (const auto* toxicity = field(toxic, "toxicity")) read_toxicity(*toxicity, rule);
        rule.fault = read_fault(field(toxic, "attributes"), type);
        if (const auto* enabled = field(toxic, "enabled")) {
            if (enabled->is_boolean()) {
                rule.enabled = enabled->get<bool>();
            } else {
                mismatch(*enabled, "enabled", "a boolean");
            }
        }
        if (const auto* match = field(toxic, "match")) rule.match = read_match(*match);
        if (auto problem = listener_rule_problem(rule)) error("", *problem);
        if (errors_.empty()) result.rule = std::move(rule);
        result.errors = std::move(errors_);
        return result;
    }

  private:
    void error(std::string_view path, std::string_view message) {
        errors_.push_back(path.empty() ? std::string(message)
                                       : std::string(path) + ": " + std::string(message));
    }
    void mismatch(const json& value, std::string_view path, std::string_view expected) {
        error(path, "expected " + std::string(expected) + ", got " + std::string(kind_of(value)));
    }

    void check_fields(const json& object, std::string_view path, Fields known) {
        for (const auto& [key, value] : object.items()) {
            if (std::find(known.begin(), known.end(), key) != known.end()) continue;
            error(member(path, key), "unknown field; known: " + listed(known));
        }
    }

    // An empty name is no name: the default applies, as in Toxiproxy.
    void read_name(const json& name, Rule& rule) {
        if (!name.is_string()) return mismatch(name, "name", "a string");
        const auto& text = name.get_ref<const std::string&>();
        if (!text.empty() && !is_valid_name(text)) {
            return error("name", "invalid name '" + text + "'; " + std::string(valid_name_hint));
        }
        rule.name = text;
    }

    // The type when it is a known one, else "" (and reported).
    std::string read_type(const json& toxic) {
        const auto* type = field(toxic, "type");
        if (type == nullptr) {
            error("", "missing required field 'type'");
            return {};
        }
        if (!type->is_string()) {
            mismatch(*type, "type", "a string");
            return {};
        }
        auto text = type->get<std::string>();
        if (faults::is_known_type(text)) return text;
        error("", "invalid toxic type '" + text + "'; known: " + listed(faults::known_types()));
        return {};
    }

    // Any case, as Toxiproxy accepts it.
    void read_stream(const json& stream, Rule& rule) {
        std::string word = stream.is_string() ? stream.get<std::string>() : std::string();
        std::transform(word.begin(), word.end(), word.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        if (word == "upstream") {
            rule.stream = faults::Stream::upstream;
        } else if (word == "downstream") {
            rule.stream = faults::Stream::downstream;
        } else {
            error("", invalid_stream);
        }
    }

    void read_toxicity(const json& toxicity, Rule& rule) {
        if (!toxicity.is_number()) return mismatch(toxicity, "toxicity", toxicity_expected);
        const auto value = toxicity.get<double>();
        if (value < 0.0 || value > 1.0) {
            return error("toxicity",
                         "expected " + std::string(toxicity_expected) + ", got " + toxicity.dump());
        }
        rule.toxicity = value;
    }

    // Attribute errors only for a known type: an unknown type's attributes mean nothing.
    std::shared_ptr<const faults::FaultSpec> read_fault(const json* attributes,
                                                        const std::string& type) {
        if (attributes != nullptr && !attributes->is_object()) {
            mismatch(*attributes, "attributes", "an object");
            return nullptr;
        }
        if (type.empty()) return nullptr;
        auto parsed = faults::parse_fault(type, attributes != nullptr ? *attributes : json());
        for (const auto& failure : parsed.errors) {
            error(
                failure.attribute.empty() ? "attributes" : member("attributes", failure.attribute),
                failure.message);
        }
        return parsed.spec;
    }

    Match read_match(const json& conditions) {
        Match match;
        if (!conditions.is_object()) {
            mismatch(conditions, "match", "an object");
            return match;
        }
        check_fields(conditions, "match", match_keys);
        for (const auto& condition : match_conditions) {
            const auto* value = field(conditions, condition.key);
            if (!value) continue;
            const std::string path = member("match", condition.key);
            std::visit(ForEachKind{
                           [&](NetworksField field) { match.*field = read_clients(*value, path); },
                           [&](CountField field) {
                               match.*field = read_count(*value, path, condition.min_count);
                           },
                           [&](DurationField field) { match.*field = read_duration(*value, path); },
                       },
                       condition.field);
        }
        return match;
    }

    std::vector<Cidr> read_clients(const json& clients, std::string_view clients_path) {
        std::vector<Cidr> networks;
        if (!clients.is_array()) {
            mismatch(clients, clients_path, "an array of CIDR strings");
            return networks;
        }
        for (std::size_t i = 0; i < clients.size(); ++i) {
            const auto& client = clients[i];
            const auto path = std::string(clients_path) + "[" + std::to_string(i) + "]";
            if (!client.is_string()) {
                mismatch(client, path, "a CIDR string");
            } else if (auto cidr = Cidr::parse(client.get_ref<const std::string&>())) {
                networks.push_back(*cidr);
            } else {
                error(path, "invalid network '" + client.get<std::string>() +
                                R"('; expected an address or CIDR like "10.0.0.0/8" or "::1/128")");
            }
        }
        return networks;
    }

    // An integer of at least `min` (0 or 1).
    std::optional<std::uint64_t> read_count(const json& value, std::string_view path,
                                            std::uint64_t min) {
        const std::string_view expected =
            min == 0 ? "a non-negative integer" : "a positive integer";
        if (!value.is_number_integer()) {
            mismatch(value, path, expected);
            return std::nullopt;
        }
        if (value.is_number_unsigned() || value.get<std::int64_t>() >= 0) {
            const auto count = value.get<std::uint64_t>();
            if (count >= min) return count;
        }
        error(path, "expected " + std::string(expected) + ", got " + value.dump());
        return std::nullopt;
    }

    std::optional<Duration> read_duration(const json& value, std::string_view path) {
        if (!value.is_string()) {
            mismatch(value, path, R"(a duration string like "30s")");
            return std::nullopt;
        }
        const auto& text = value.get_ref<const std::string&>();
        auto duration = parse_duration(text);
        if (!duration) {
            error(path,
                  R"(expected a duration like "500ms", "30s", "1m30s" or "0", got ')" + text + "'");
        }
        return duration;
    }

    std::vector<std::string> errors_;
};

nlohmann::ordered_json match_to_json(const Match& match) {
    auto out = nlohmann::ordered_json::object();
    for (const auto& condition : match_conditions) {
        const std::string key(condition.key);
        std::visit(ForEachKind{
                       [&](NetworksField field) {
                           if ((match.*field).empty()) return;
                           auto& networks = out[key] = nlohmann::ordered_json::array();
                           for (const auto& network : match.*field)
                               networks.push_back(network.text());
                       },
                       [&](CountField field) {
                           if (match.*field) out[key] = *(match.*field);
                       },
                       [&](DurationField field) {
                           if (match.*field) out[key] = format_duration(*(match.*field));
                       },
                   },
                   condition.field);
    }
    return out;
}

}  // namespace

std::string_view stream_name(faults::Stream stream) {
    return stream == faults::Stream::upstream ? "upstream" : "downstream";
}

bool is_valid_name(std::string_view name) {
    const auto valid = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '_' || c == '-';
    };
    return !name.empty() && std::all_of(name.begin(), name.end(), valid);
}

ParsedRule parse_rule_json(const nlohmann::json& toxic) {
    return JsonRuleReader().read(toxic);
}

nlohmann::ordered_json rule_to_json(const Rule& rule) {
    nlohmann::ordered_json out;
    out["name"] = rule.name;
    out["type"] = std::string(rule.type());
    out["stream"] = std::string(stream_name(rule.stream));
    out["toxicity"] = rule.toxicity;
    out["attributes"] = rule.fault ? rule.fault->attributes() : nlohmann::ordered_json::object();
    out["enabled"] = rule.enabled;
    if (!(rule.match == Match{})) out["match"] = match_to_json(rule.match);
    return out;
}

std::optional<std::string> listener_rule_problem(const Rule& rule) {
    if (!rule.fault || rule.fault->listener_action() == faults::ListenerAction::none) {
        return std::nullopt;
    }
    if (rule.toxicity == 1.0 && rule.match == Match{}) return std::nullopt;
    return "this mode acts on the listener, for every connection at once: toxicity and match do "
           "not apply (mode \"reset\" acts per connection and honours them)";
}

}  // namespace faultline::rules
