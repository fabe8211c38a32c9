// The configuration file (TOML) turned into validated, immutable values. Every error carries
// `file:line:col: key.path: message`; all errors are collected before failing, and unknown keys
// are errors, because a typo that silently disables something is the worst bug a chaos tool can
// have.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rules/cidr.hpp"
#include "rules/endpoint.hpp"
#include "rules/rule.hpp"
#include "rules/units.hpp"
#include "teardown/log.hpp"
#include "teardown/vocabulary.hpp"

namespace faultline::rules {

// Which endpoint is the ASA "inside" (higher-security) one: decides Reset-I versus Reset-O.
using teardown::Side;
using teardown::side_name;

// Per-proxy settings that [defaults] provides and a [[proxy]] may override.
struct ProxySettings {
    Duration connect_timeout = std::chrono::seconds(30);      // 0 = no faultline timeout
    Duration half_closed_timeout = std::chrono::minutes(10);  // 0 = never
    Duration idle_timeout = std::chrono::hours(1);            // 0 = never
    Side inside = Side::client;
    std::size_t buffer_limit = std::size_t{1} << 20;  // queued bytes per direction

    bool operator==(const ProxySettings&) const = default;
};

struct ProxyConfig {
    std::string name;
    Endpoint listen;
    Endpoint upstream;
    bool enabled = true;
    std::vector<Cidr> allow;  // empty = every client
    std::vector<Cidr> deny;
    ProxySettings settings;
    std::vector<Rule> rules;  // in file order; names unique within the proxy
};

struct ApiConfig {
    Endpoint listen{"127.0.0.1", 8474};
    std::optional<std::string> token;
};

using teardown::LogFormat;

struct LogConfig {
    std::string level = "info";   // trace, debug, info, warn, error
    bool is_level_given = false;  // written in the file (`faultline run` otherwise logs less)
    LogFormat format = LogFormat::text;
    std::optional<std::string> file;  // standard error when absent
    std::string file_where;           // "chaos.toml:5:8", for messages about the file
};

// One [[expect]] entry: something `faultline run` must have seen for the run to pass, so that a
// chaos test cannot pass because nothing was injected. Exactly one kind per entry:
//   reason = "Reset-I" [proxy = "p"] [min] [max]   teardown records with that reason
//   rule = "x" [proxy = "p"] [fired = true|false]  whether the rule acted at least once
//   proxy = "p" [min] [max]                        connections through the proxy
// A count with neither min nor max means min = 1.
struct Expectation {
    enum class Kind { reason, rule, connections };
    Kind kind = Kind::reason;
    std::string reason;
    std::string rule;
    // The rules `rule` stands for, as (proxy, rule) pairs: in each proxy in scope, the rule of
    // that name, or the <rule>_upstream and <rule>_downstream halves of one written with
    // stream = "both".
    std::vector<std::pair<std::string, std::string>> rule_keys;
    std::optional<std::string> proxy;
    std::optional<std::uint64_t> min;
    std::optional<std::uint64_t> max;
    bool fired = true;
    std::string where;  // "chaos.toml:12:1", for messages

    // "reason Reset-I on proxy p: at least 1": what was expected, in words.
    [[nodiscard]] std::string describe() const;
};

struct Config {
    std::optional<std::uint64_t> seed;
    ApiConfig api;
    LogConfig log;
    ProxySettings defaults;
    std::vector<ProxyConfig> proxies;
    std::vector<Expectation> expectations;  // used by `faultline run`
};

// What is wrong with a proxy's upstream that would come back into faultline: the proxy's own
// listen address (every connection would loop back into the proxy) or the control API's address
// (the proxy would open the API to whoever reaches the proxy), as rules::reaches decides. The
// message ends the sentence "upstream X: ".
[[nodiscard]] std::optional<std::string> upstream_problem(const Endpoint& upstream,
                                                          const Endpoint& listen,
                                                          const Endpoint& api);

// Command-line values that override the file: --api, --log-format, --log-level.
struct CommandLineOverrides {
    std::optional<std::string> api;
    std::optional<std::string> log_format;
    std::optional<std::string> log_level;
};
// Applies them to `config`; returns the message for the first bad value ("--api: ...").
[[nodiscard]] std::optional<std::string> apply_overrides(Config& config,
                                                         const CommandLineOverrides& overrides);

// The first proxy that listens where the control API does (config.api.listen, which
// `api_origin` names: "--api"), as a message; nothing when there is none. The file's own
// [api] listen is checked when it is read; this covers the default and the command line.
[[nodiscard]] std::optional<std::string> api_listen_conflict(const Config& config,
                                                             std::string_view api_origin);

// Thrown with every error found; what() joins them with newlines.
class ConfigError : public std::runtime_error {
  public:
    explicit ConfigError(std::vector<std::string> errors);
    [[nodiscard]] const std::vector<std::string>& errors() const { return errors_; }

  private:
    std::vector<std::string> errors_;
};

// `source` names the input in messages (the file's path as given).
[[nodiscard]] Config parse_config(std::string_view text, std::string_view source);
// Reads the file; a missing or unreadable file is a ConfigError too.
[[nodiscard]] Config load_config(const std::string& path);
// The file's text, as load_config reads it.
[[nodiscard]] std::string read_config_text(const std::string& path);

}  // namespace faultline::rules
