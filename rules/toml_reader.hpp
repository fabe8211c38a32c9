// Reading the configuration's TOML with located, collected errors: the checks that every section
// shares (known keys, value types, durations, counts, client networks), each reporting
// `file:line:col: key.path: message`. The configuration reader and the rule reader build on it.
#pragma once

#include <toml++/toml.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rules/cidr.hpp"
#include "rules/units.hpp"

namespace faultline::rules {

using Keys = std::span<const std::string_view>;

template <typename Words>
std::string join(const Words& words, std::string_view separator) {
    std::string out;
    for (const auto& word : words) {
        if (!out.empty()) out += separator;
        out += word;
    }
    return out;
}

// The paths that messages name: `proxy[0]`, `proxy[0].rule[2].type`.
[[nodiscard]] std::string member(std::string_view path, std::string_view key);
[[nodiscard]] std::string element(std::string_view path, std::size_t index);
[[nodiscard]] std::string single_quoted(std::string_view text);
// "a string", "an integer": how messages name the type of a value that was seen.
[[nodiscard]] std::string_view type_phrase(toml::node_type type);

class TomlReader {
  public:
    // `source` names the input in messages (the file's path as given).
    explicit TomlReader(std::string_view source) : source_(source) {}

    void error(toml::source_position where, std::string_view path, std::string_view message);
    void error(const toml::node& node, std::string_view path, std::string_view message) {
        error(node.source().begin, path, message);
    }
    // "expected <expected>, got <the node's type>".
    void mismatch(const toml::node& node, std::string_view path, std::string_view expected);

    // The value at `key` if it has type T; reports a mismatch and returns null otherwise.
    template <typename T>
    auto typed(const toml::table& table, std::string_view key, std::string_view path,
               std::string_view expected) -> decltype(table.get(key)->template as<T>()) {
        const toml::node* node = table.get(key);
        if (node == nullptr) return nullptr;
        const auto* value = node->template as<T>();
        if (value == nullptr) mismatch(*node, member(path, key), expected);
        return value;
    }

    // Reports every key of `table` that is not in `known`, at the key.
    void check_keys(const toml::table& table, std::string_view path, Keys known);
    // Reports a missing key at the table; true when the key is there.
    bool require(const toml::table& table, std::string_view path, std::string_view key);

    // Each reader returns nothing when the key is absent or its value is wrong (and reported).
    std::optional<std::string> read_string(const toml::table& table, std::string_view key,
                                           std::string_view path);
    // The index of the value in `choices`; `noun` names the kind of value in the message.
    std::optional<std::size_t> read_choice(const toml::table& table, std::string_view key,
                                           std::string_view path, std::string_view noun,
                                           Keys choices);
    std::optional<Duration> read_duration(const toml::table& table, std::string_view key,
                                          std::string_view path);
    // An integer of at least `min` (0 or 1).
    std::optional<std::uint64_t> read_count(const toml::table& table, std::string_view key,
                                            std::string_view path, std::uint64_t min);
    std::vector<Cidr> read_networks(const toml::table& table, std::string_view key,
                                    std::string_view path);

    // The errors found, in file order.
    [[nodiscard]] std::vector<std::string> errors();
    [[nodiscard]] std::size_t error_count() const { return errors_.size(); }
    // "chaos.toml:12:1": where messages say something is.
    [[nodiscard]] std::string location(toml::source_position where) const;

  private:
    struct Error {
        toml::source_position where;
        std::string text;
    };

    std::string source_;
    std::vector<Error> errors_;
};

}  // namespace faultline::rules
