// A fault type's validated attributes, and how a rule makes and updates running faults from them.
// Attributes arrive as JSON (the API's form; TOML attributes are converted), with Toxiproxy's
// names and units.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "faults/fault.hpp"

namespace faultline::faults {

// What a rule of this type does to the proxy's listener while it is active, instead of (or
// besides) acting on connections: `refuse` stops listening (reject) or lets the accept queue
// fill (drop).
enum class ListenerAction { none, reject, drop };

// How a connection that a fault ended is recorded: Deny, or Conn-timeout for an idle timeout.
enum class EndReason { deny, idle_timeout };

// One attribute problem: the attribute's name and what is wrong, e.g. {"average_size", "must be
// greater than 0, got 0"}.
struct AttributeError {
    std::string attribute;
    std::string message;
};

class FaultSpec;

struct ParsedSpecResult {
    std::shared_ptr<const FaultSpec> spec;  // null when there were errors
    std::vector<AttributeError> errors;
    std::vector<std::string> attribute_names;  // every attribute the type reads, in order
};

class FaultSpec {
  public:
    virtual ~FaultSpec() = default;

    [[nodiscard]] virtual std::string_view type() const = 0;
    // Every attribute with its value, defaults included (for the API and `GET /config`).
    [[nodiscard]] virtual nlohmann::ordered_json attributes() const = 0;
    // A fault for one connection and stream; nullptr when the type acts on no connection.
    [[nodiscard]] virtual std::unique_ptr<Fault> create() const = 0;
    // Gives a running fault made by create() of this type the new attributes.
    virtual void update(Fault& running) const = 0;
    [[nodiscard]] virtual ListenerAction listener_action() const { return ListenerAction::none; }
    [[nodiscard]] virtual EndReason end_reason() const { return EndReason::deny; }
};

// Bounds on attributes that keep the faults' time and size arithmetic far from overflow: about
// 31 years in milliseconds, a petabyte in bytes.
inline constexpr std::int64_t max_milliseconds = 1'000'000'000'000;
inline constexpr std::int64_t max_bytes = 1'000'000'000'000'000;

// Reading attributes: each helper reports into `errors` and returns the default when the value
// is absent or wrong. Unknown attributes are errors.
class AttributeReader {
  public:
    AttributeReader(const nlohmann::json& attributes, std::vector<AttributeError>& errors);
    // The reader keeps a reference: the attributes must outlive it.
    AttributeReader(nlohmann::json&& attributes, std::vector<AttributeError>& errors) = delete;

    [[nodiscard]] std::int64_t integer(std::string_view name, std::int64_t fallback,
                                       std::int64_t min, std::int64_t max);
    // An integer in [1, max]. An absent attribute counts as 0 (the API lists it so) and is
    // reported like a given 0: "must be greater than 0, got 0". Returns 0 when there was an error.
    [[nodiscard]] std::int64_t positive_integer(std::string_view name, std::int64_t max);
    [[nodiscard]] bool boolean(std::string_view name, bool fallback);
    // One of `choices`; the message lists them.
    [[nodiscard]] std::string choice(std::string_view name, std::string_view fallback,
                                     const std::vector<std::string_view>& choices);
    // One of `choices`, with no default: an absent attribute is an error. Returns "" on errors.
    [[nodiscard]] std::string required_choice(std::string_view name,
                                              const std::vector<std::string_view>& choices);
    // Reports a problem that the helpers above cannot see, such as one attribute bounding another.
    void report(std::string_view name, std::string message);
    // Reports every attribute that no call above asked for.
    void reject_unknown();
    // The attributes asked for so far, in order.
    [[nodiscard]] const std::vector<std::string>& known() const { return known_; }

  private:
    // The attribute's value as an integer; nullopt when absent or (reported) not an integer.
    [[nodiscard]] std::optional<std::int64_t> read_integer(std::string_view name);
    // The attribute's value as one of `choices`; nullopt when absent or (reported) not one of them.
    [[nodiscard]] std::optional<std::string> read_choice(
        std::string_view name, const std::vector<std::string_view>& choices);

    const nlohmann::json& attributes_;
    std::vector<AttributeError>& errors_;
    std::vector<std::string> known_;
};

}  // namespace faultline::faults

namespace faultline::faults {

// The usual shape of a fault type: a Config with `static Config read(AttributeReader&)` and
// `nlohmann::ordered_json to_json() const`, and a Fault class constructible from the Config with
// `void configure(const Config&)` for updates on live connections.
template <typename Config, typename Running>
class BasicSpec final : public FaultSpec {
  public:
    BasicSpec(std::string_view type, Config config) : type_(type), config_(std::move(config)) {}

    [[nodiscard]] std::string_view type() const override { return type_; }
    [[nodiscard]] nlohmann::ordered_json attributes() const override { return config_.to_json(); }
    [[nodiscard]] std::unique_ptr<Fault> create() const override {
        return std::make_unique<Running>(config_);
    }
    void update(Fault& running) const override {
        static_cast<Running&>(running).configure(config_);
    }
    // A Config may say how connections its fault ends are recorded:
    // `static constexpr EndReason end_reason = EndReason::idle_timeout;`.
    [[nodiscard]] EndReason end_reason() const override {
        if constexpr (requires { Config::end_reason; }) {
            return Config::end_reason;
        } else {
            return EndReason::deny;
        }
    }
    [[nodiscard]] const Config& config() const { return config_; }

  private:
    std::string_view type_;
    Config config_;
};

// Reads a BasicSpec's attributes; the registry's list names one of these per type.
template <typename Config, typename Running>
ParsedSpecResult read_basic_spec(std::string_view type, const nlohmann::json& attributes) {
    ParsedSpecResult result;
    AttributeReader reader(attributes, result.errors);
    Config config = Config::read(reader);
    reader.reject_unknown();
    result.attribute_names = reader.known();
    if (result.errors.empty()) {
        result.spec = std::make_shared<BasicSpec<Config, Running>>(type, std::move(config));
    }
    return result;
}

}  // namespace faultline::faults
