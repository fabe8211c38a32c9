// The shared TOML checks: each converts one value, or reports what was expected and what was seen
// at the value's position.
#include "rules/toml_reader.hpp"

#include <algorithm>
#include <array>
#include <utility>

namespace faultline::rules {
namespace {

constexpr std::string_view duration_message =
    R"(expected a duration like "500ms", "30s", "1m30s" or "0", got )";

// The start of a `key = value` entry or of a `[table]` header: whichever of the key and the value
// comes first (a header's table starts at its `[`, the key inside it).
toml::source_position entry_position(const toml::key& key, const toml::node& node) {
    const auto key_at = key.source().begin;
    const auto node_at = node.source().begin;
    if (!node_at) return key_at;
    if (!key_at) return node_at;
    return std::min(key_at, node_at);
}

}  // namespace

std::string member(std::string_view path, std::string_view key) {
    return path.empty() ? std::string(key) : std::string(path) + "." + std::string(key);
}

std::string element(std::string_view path, std::size_t index) {
    return std::string(path) + "[" + std::to_string(index) + "]";
}

std::string single_quoted(std::string_view text) {
    return "'" + std::string(text) + "'";
}

std::string_view type_phrase(toml::node_type type) {
    static_assert(toml::node_type::table == toml::node_type{1} &&
                  toml::node_type::date_time == toml::node_type{9});
    constexpr std::array<std::string_view, 10> phrases{
        "nothing",   "a table", "an array", "a string",   "an integer", "a floating-point number",
        "a boolean", "a date",  "a time",   "a date-time"};
    return phrases.at(static_cast<std::size_t>(type));
}

std::string TomlReader::location(toml::source_position where) const {
    return source_ + ":" + std::to_string(where.line) + ":" + std::to_string(where.column);
}

void TomlReader::error(toml::source_position where, std::string_view path,
                       std::string_view message) {
    errors_.push_back(
        {where, location(where) + ": " + std::string(path) + ": " + std::string(message)});
}

void TomlReader::mismatch(const toml::node& node, std::string_view path,
                          std::string_view expected) {
    error(node, path,
          "expected " + std::string(expected) + ", got " + std::string(type_phrase(node.type())));
}

void TomlReader::check_keys(const toml::table& table, std::string_view path, Keys known) {
    for (const auto& [key, node] : table) {
        const auto name = key.str();
        if (std::find(known.begin(), known.end(), name) != known.end()) continue;
        error(entry_position(key, node), member(path, name),
              "unknown key; known: " + join(known, ", "));
    }
}

bool TomlReader::require(const toml::table& table, std::string_view path, std::string_view key) {
    if (table.contains(key)) return true;
    error(table, path, "missing required key " + single_quoted(key));
    return false;
}

std::optional<std::string> TomlReader::read_string(const toml::table& table, std::string_view key,
                                                   std::string_view path) {
    const auto* value = typed<std::string>(table, key, path, "a string");
    if (value == nullptr) return std::nullopt;
    if (value->get().empty()) {
        error(*value, member(path, key), "expected a non-empty string, got ''");
        return std::nullopt;
    }
    return value->get();
}

std::optional<std::size_t> TomlReader::read_choice(const toml::table& table, std::string_view key,
                                                   std::string_view path, std::string_view noun,
                                                   Keys choices) {
    const auto* value = typed<std::string>(table, key, path, "a string");
    if (value == nullptr) return std::nullopt;
    const auto found = std::find(choices.begin(), choices.end(), value->get());
    if (found != choices.end()) return static_cast<std::size_t>(found - choices.begin());
    error(*value, member(path, key),
          "unknown " + std::string(noun) + " " + single_quoted(value->get()) +
              "; known: " + join(choices, ", "));
    return std::nullopt;
}

std::optional<Duration> TomlReader::read_duration(const toml::table& table, std::string_view key,
                                                  std::string_view path) {
    const auto* value = typed<std::string>(table, key, path, R"(a duration string like "30s")");
    if (value == nullptr) return std::nullopt;
    auto duration = parse_duration(value->get());
    if (!duration) {
        error(*value, member(path, key),
              std::string(duration_message) + single_quoted(value->get()));
    }
    return duration;
}

std::optional<std::uint64_t> TomlReader::read_count(const toml::table& table, std::string_view key,
                                                    std::string_view path, std::uint64_t min) {
    const std::string_view expected = min == 0 ? "a non-negative integer" : "a positive integer";
    const auto* value = typed<std::int64_t>(table, key, path, expected);
    if (value == nullptr) return std::nullopt;
    if (value->get() < 0 || static_cast<std::uint64_t>(value->get()) < min) {
        error(*value, member(path, key),
              "expected " + std::string(expected) + ", got " + std::to_string(value->get()));
        return std::nullopt;
    }
    return static_cast<std::uint64_t>(value->get());
}

std::vector<Cidr> TomlReader::read_networks(const toml::table& table, std::string_view key,
                                            std::string_view path) {
    std::vector<Cidr> networks;
    const auto* array = typed<toml::array>(table, key, path, "an array of CIDR strings");
    if (array == nullptr) return networks;
    const auto array_path = member(path, key);
    for (std::size_t i = 0; i < array->size(); ++i) {
        const auto& node = *array->get(i);
        const auto* text = node.as_string();
        if (text == nullptr) {
            mismatch(node, element(array_path, i), "a CIDR string");
        } else if (auto cidr = Cidr::parse(text->get())) {
            networks.push_back(*cidr);
        } else {
            error(node, element(array_path, i),
                  "invalid network " + single_quoted(text->get()) +
                      R"(; expected an address or CIDR like "10.0.0.0/8" or "::1/128")");
        }
    }
    return networks;
}

std::vector<std::string> TomlReader::errors() {
    std::stable_sort(errors_.begin(), errors_.end(),
                     [](const Error& a, const Error& b) { return a.where < b.where; });
    std::vector<std::string> texts;
    texts.reserve(errors_.size());
    for (auto& entry : errors_) {
        texts.push_back(std::move(entry.text));
    }
    return texts;
}

}  // namespace faultline::rules
