// Turns the TOML document into a Config in one pass: every key is checked against the known ones,
// every value converted and validated, and every error collected with its position, so that one
// run of `faultline check` shows all the mistakes in a file, in file order.
#include "rules/config.hpp"

#include <toml++/toml.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <limits>
#include <map>
#include <memory>
#include <system_error>
#include <utility>

#include "faults/spec.hpp"
#include "rules/rule_reader.hpp"
#include "rules/toml_reader.hpp"

static_assert(TOML_EXCEPTIONS, "configuration parsing relies on toml::parse throwing parse_error");

namespace faultline::rules {
namespace {

constexpr std::array<std::string_view, 6> root_keys{"seed",     "api",   "log",
                                                    "defaults", "proxy", "expect"};
constexpr std::array<std::string_view, 6> expect_keys{"reason", "rule", "proxy",
                                                      "min",    "max",  "fired"};
constexpr std::array<std::string_view, 2> api_keys{"listen", "token"};
constexpr std::array<std::string_view, 3> log_keys{"level", "format", "file"};
constexpr std::array<std::string_view, 5> settings_keys{"connect_timeout", "half_closed_timeout",
                                                        "idle_timeout", "inside", "buffer_limit"};
constexpr std::array<std::string_view, 12> proxy_keys{
    "name",         "listen", "upstream",        "enabled",
    "allow",        "deny",   "connect_timeout", "half_closed_timeout",
    "idle_timeout", "inside", "buffer_limit",    "rule"};
constexpr std::array<std::string_view, 5> log_levels{"trace", "debug", "info", "warn", "error"};
constexpr std::array<std::string_view, 2> log_formats{"text", "json"};
constexpr std::array<std::string_view, 2> side_names{"client", "server"};

constexpr std::uint64_t min_buffer_limit = 1024;
constexpr std::uint64_t max_buffer_limit = std::uint64_t{1} << 30;
constexpr std::string_view size_example = R"(a size in bytes like 65536 or "1MiB")";

// Reads every section of the document into a Config, collecting errors with their positions.
class ConfigReader : public TomlReader {
  public:
    using TomlReader::TomlReader;

    Config read(const toml::table& root) {
        Config config;
        check_keys(root, "", root_keys);
        config.seed = read_count(root, "seed", "", 0);
        if (const auto* api = typed<toml::table>(root, "api", "", "a table")) {
            read_api(*api, config.api);
        }
        if (const auto* log = typed<toml::table>(root, "log", "", "a table")) {
            read_log(*log, config.log);
        }
        if (const auto* defaults = typed<toml::table>(root, "defaults", "", "a table")) {
            check_keys(*defaults, "defaults", settings_keys);
            read_settings(*defaults, "defaults", config.defaults);
        }
        if (const auto* proxies = root.get("proxy")) read_proxies(*proxies, config);
        if (const auto* expect = root.get("expect")) read_expectations(*expect, config);
        return config;
    }

  private:
    void read_buffer_limit(const toml::table& table, std::string_view path, std::size_t& target) {
        const toml::node* node = table.get("buffer_limit");
        if (node == nullptr) return;
        const auto key_path = member(path, "buffer_limit");
        std::optional<std::int64_t> bytes;
        if (const auto* integer = node->as_integer()) {
            bytes = integer->get();
        } else if (const auto* text = node->as_string()) {
            const auto size = parse_size(text->get());
            if (!size) {
                return error(
                    *node, key_path,
                    R"(expected a size like "64KiB" or "1MiB" (units B, KB, MB, KiB, MiB), got )" +
                        single_quoted(text->get()));
            }
            bytes = static_cast<std::int64_t>(
                std::min<std::uint64_t>(*size, std::numeric_limits<std::int64_t>::max()));
        } else {
            return mismatch(*node, key_path, size_example);
        }
        if (*bytes < static_cast<std::int64_t>(min_buffer_limit) ||
            *bytes > static_cast<std::int64_t>(max_buffer_limit)) {
            return error(*node, key_path,
                         "expected 1024 bytes to 1 GiB, got " + std::to_string(*bytes) + " bytes");
        }
        target = static_cast<std::size_t>(*bytes);
    }

    void read_settings(const toml::table& table, std::string_view path, ProxySettings& settings) {
        if (auto timeout = read_duration(table, "connect_timeout", path)) {
            settings.connect_timeout = *timeout;
        }
        if (auto timeout = read_duration(table, "half_closed_timeout", path)) {
            settings.half_closed_timeout = *timeout;
        }
        if (auto timeout = read_duration(table, "idle_timeout", path)) {
            settings.idle_timeout = *timeout;
        }
        if (const auto side = read_choice(table, "inside", path, "side", side_names)) {
            settings.inside = *side == 0 ? Side::client : Side::server;
        }
        read_buffer_limit(table, path, settings.buffer_limit);
    }

    void read_api(const toml::table& table, ApiConfig& api) {
        check_keys(table, "api", api_keys);
        api.token = read_string(table, "token", "api");
        const auto listen = read_endpoint(table, "listen", "api", true);
        if (!listen) return;
        api.listen = *listen;
        is_api_listen_given_ = true;
        if (!api.listen.is_loopback() && !table.contains("token")) {
            error(*table.get("listen"), "api.listen",
                  "listening on " + api.listen.text() + " beyond loopback requires api.token");
        }
    }

    void read_log(const toml::table& table, LogConfig& log) {
        check_keys(table, "log", log_keys);
        if (const auto level = read_choice(table, "level", "log", "level", log_levels)) {
            log.level = std::string(log_levels[*level]);
            log.is_level_given = true;
        }
        if (const auto format = read_choice(table, "format", "log", "format", log_formats)) {
            log.format = *format == 0 ? LogFormat::text : LogFormat::json;
        }
        if (auto file = read_string(table, "file", "log")) {
            log.file = std::move(file);
            log.file_where = location(table.get("file")->source().begin);
        }
    }

    std::optional<Endpoint> read_endpoint(const toml::table& table, std::string_view key,
                                          std::string_view path, bool is_listen) {
        const auto* value = typed<std::string>(table, key, path, "a host:port string");
        if (value == nullptr) return std::nullopt;
        auto parsed =
            is_listen ? parse_listen_endpoint(value->get()) : parse_endpoint(value->get());
        if (parsed.endpoint && !is_listen && parsed.endpoint->port == 0) {
            parsed = {std::nullopt, "port 0 is not allowed for an upstream; expected 1-65535"};
        }
        if (!parsed.endpoint) error(*value, member(path, key), parsed.error);
        return parsed.endpoint;
    }

    ProxyConfig read_proxy(const toml::table& table, std::string_view path,
                           const ProxySettings& defaults, const Endpoint& api) {
        check_keys(table, path, proxy_keys);
        ProxyConfig proxy;
        proxy.settings = defaults;
        if (require(table, path, "name")) {
            if (auto name = read_string(table, "name", path)) proxy.name = std::move(*name);
            if (!proxy.name.empty() && !is_valid_name(proxy.name)) {
                error(*table.get("name"), member(path, "name"),
                      "invalid name " + single_quoted(proxy.name) + "; " +
                          std::string(valid_name_hint));
            }
        }
        if (require(table, path, "listen")) {
            proxy.listen = read_endpoint(table, "listen", path, true).value_or(Endpoint{});
        }
        if (require(table, path, "upstream")) {
            proxy.upstream = read_endpoint(table, "upstream", path, false).value_or(Endpoint{});
            if (auto problem = upstream_problem(proxy.upstream, proxy.listen, api)) {
                error(*table.get("upstream"), member(path, "upstream"), *problem);
            }
        }
        if (const auto* enabled = typed<bool>(table, "enabled", path, "a boolean")) {
            proxy.enabled = enabled->get();
        }
        proxy.allow = read_networks(table, "allow", path);
        proxy.deny = read_networks(table, "deny", path);
        read_settings(table, path, proxy.settings);
        if (const auto* rules = table.get("rule")) proxy.rules = read_rules(*this, *rules, path);
        return proxy;
    }

    void read_proxies(const toml::node& node, Config& config) {
        const auto* array = node.as_array();
        if (array == nullptr) return mismatch(node, "proxy", "an array of tables ([[proxy]])");
        std::map<std::string, std::size_t> names;
        // By port: the addresses listened on and the proxy of each.
        std::map<std::uint16_t, std::vector<std::pair<Endpoint, std::size_t>>> listens;
        for (std::size_t i = 0; i < array->size(); ++i) {
            const auto& entry = *array->get(i);
            const auto path = element("proxy", i);
            const auto* table = entry.as_table();
            if (table == nullptr) {
                mismatch(entry, path, "a table");
                continue;
            }
            auto proxy = read_proxy(*table, path, config.defaults, config.api.listen);
            if (!proxy.name.empty() && !names.emplace(proxy.name, i).second) {
                error(*table->get("name"), member(path, "name"),
                      "name " + single_quoted(proxy.name) + " is already used by " +
                          element("proxy", names[proxy.name]));
            }
            if (proxy.listen.port != 0) {
                check_listen(*table->get("listen"), path, proxy.listen, config.api.listen,
                             listens[proxy.listen.port]);
                listens[proxy.listen.port].emplace_back(proxy.listen, i);
            }
            config.proxies.push_back(std::move(proxy));
        }
    }

    // Reports a listen address that cannot be listened on beside the API's (when the file sets
    // it) or an earlier proxy's on the same port.
    void check_listen(const toml::node& node, std::string_view path, const Endpoint& listen,
                      const Endpoint& api,
                      const std::vector<std::pair<Endpoint, std::size_t>>& same_port) {
        const auto key = member(path, "listen");
        if (is_api_listen_given_ && listens_overlap(listen, api)) {
            return error(node, key,
                         listen == api ? listen.text() + " is already used by api.listen"
                                       : listen.text() + " overlaps api.listen " + api.text());
        }
        for (const auto& [other, index] : same_port) {
            if (!listens_overlap(listen, other)) continue;
            const auto owner = element("proxy", index);
            return error(node, key,
                         listen == other
                             ? listen.text() + " is already used by " + owner
                             : listen.text() + " overlaps " + other.text() + " of " + owner);
        }
    }

    void read_expectations(const toml::node& node, Config& config) {
        const auto* array = node.as_array();
        if (array == nullptr) return mismatch(node, "expect", "an array of tables ([[expect]])");
        for (std::size_t i = 0; i < array->size(); ++i) {
            const auto& entry = *array->get(i);
            const auto path = element("expect", i);
            const auto* table = entry.as_table();
            if (table == nullptr) {
                mismatch(entry, path, "a table");
                continue;
            }
            if (auto expectation = read_expectation(*table, path, config)) {
                config.expectations.push_back(std::move(*expectation));
            }
        }
    }

    std::optional<Expectation> read_expectation(const toml::table& table, std::string_view path,
                                                const Config& config) {
        check_keys(table, path, expect_keys);
        Expectation expectation;
        const auto& where = table.source().begin;
        expectation.where = location(where);
        const auto reason = read_string(table, "reason", path);
        const auto rule = read_string(table, "rule", path);
        expectation.proxy = read_string(table, "proxy", path);
        expectation.min = read_count(table, "min", path, 0);
        expectation.max = read_count(table, "max", path, 0);
        const auto* fired = typed<bool>(table, "fired", path, "a boolean");
        if (fired != nullptr) expectation.fired = fired->get();
        std::size_t errors_before = error_count();

        if (table.contains("reason") && table.contains("rule")) {
            error(*table.get("rule"), member(path, "rule"),
                  "an expectation is about a reason or a rule, not both; write two [[expect]]");
        } else if (!table.contains("reason") && !table.contains("rule") &&
                   !table.contains("proxy")) {
            error(where, path, "expected one of reason, rule or proxy");
        }
        const auto* proxy = find_proxy(config, expectation.proxy);
        if (expectation.proxy && proxy == nullptr) {
            error(*table.get("proxy"), member(path, "proxy"),
                  "no proxy named " + single_quoted(*expectation.proxy) +
                      "; known: " + proxy_names(config));
        }
        if (reason) {
            expectation.kind = Expectation::Kind::reason;
            expectation.reason = *reason;
            const auto& names = teardown::reason_names();
            if (std::find(names.begin(), names.end(), *reason) == names.end()) {
                error(*table.get("reason"), member(path, "reason"),
                      "unknown reason " + single_quoted(*reason) + "; known: " + join(names, ", "));
            }
        } else if (rule) {
            expectation.kind = Expectation::Kind::rule;
            expectation.rule = *rule;
            expectation.rule_keys = rule_keys(config, proxy, expectation.proxy.has_value(), *rule);
            if (auto refusing = listener_rule(config, expectation.rule_keys)) {
                error(*table.get("rule"), member(path, "rule"),
                      "rule " + single_quoted(*rule) + " refuses at the listener (" + *refusing +
                          "): the connects it refuses never reach faultline, so whether it "
                          "fired cannot be told; expect on the command's own result instead");
            }
            if (expectation.rule_keys.empty() && !(expectation.proxy && proxy == nullptr)) {
                error(*table.get("rule"), member(path, "rule"),
                      "no rule named " + single_quoted(*rule) +
                          (expectation.proxy ? " in proxy " + single_quoted(*expectation.proxy)
                                             : std::string()));
            }
            for (const auto* key : {"min", "max"}) {
                if (const auto* node = table.get(key)) {
                    error(*node, member(path, key),
                          "min and max count teardowns or connections; a rule takes fired = "
                          "true or false");
                }
            }
        } else {
            expectation.kind = Expectation::Kind::connections;
        }
        if (fired != nullptr && expectation.kind != Expectation::Kind::rule) {
            error(*fired, member(path, "fired"), "fired goes with rule = \"...\"");
        }
        if (expectation.min && expectation.max && *expectation.min > *expectation.max) {
            error(*table.get("max"), member(path, "max"),
                  "max " + std::to_string(*expectation.max) + " is less than min " +
                      std::to_string(*expectation.min));
        }
        if (expectation.kind != Expectation::Kind::rule && !expectation.min && !expectation.max) {
            expectation.min = 1;
        }
        if (error_count() != errors_before) return std::nullopt;
        return expectation;
    }

    static const ProxyConfig* find_proxy(const Config& config,
                                         const std::optional<std::string>& name) {
        if (!name) return nullptr;
        for (const auto& proxy : config.proxies) {
            if (proxy.name == *name) return &proxy;
        }
        return nullptr;
    }

    static std::string proxy_names(const Config& config) {
        std::vector<std::string_view> names;
        for (const auto& proxy : config.proxies)
            names.push_back(proxy.name);
        return names.empty() ? "none" : join(names, ", ");
    }

    // The (proxy, rule) pairs that `name` stands for, in `proxy` when one is named, else in
    // every proxy: a rule of that name, or else the two halves of a stream = "both" rule.
    static std::vector<std::pair<std::string, std::string>> rule_keys(const Config& config,
                                                                      const ProxyConfig* proxy,
                                                                      bool is_scoped,
                                                                      const std::string& name) {
        std::vector<std::pair<std::string, std::string>> keys;
        auto has = [](const ProxyConfig& p, const std::string& wanted) {
            return std::any_of(p.rules.begin(), p.rules.end(),
                               [&wanted](const Rule& rule) { return rule.name == wanted; });
        };
        for (const auto& candidate : config.proxies) {
            if (is_scoped && &candidate != proxy) continue;
            if (has(candidate, name)) {
                keys.emplace_back(candidate.name, name);
                continue;
            }
            for (auto stream : {faults::Stream::upstream, faults::Stream::downstream}) {
                std::string half = name + "_" + std::string(stream_name(stream));
                if (has(candidate, half)) keys.emplace_back(candidate.name, half);
            }
        }
        return keys;
    }

    // "refuse reject" when one of the rules acts on the listener instead of on connections.
    static std::optional<std::string> listener_rule(
        const Config& config, const std::vector<std::pair<std::string, std::string>>& keys) {
        for (const auto& [proxy_name, rule_name] : keys) {
            for (const auto& rule : find_proxy(config, proxy_name)->rules) {
                if (rule.name != rule_name || !rule.fault) continue;
                switch (rule.fault->listener_action()) {
                    case faults::ListenerAction::reject:
                        return "refuse reject";
                    case faults::ListenerAction::drop:
                        return "refuse drop";
                    case faults::ListenerAction::none:
                        break;
                }
            }
        }
        return std::nullopt;
    }

    bool is_api_listen_given_ = false;  // a valid [api] listen is in the file
};

// Closes a FILE* opened for reading; a failed close after reading loses nothing.
struct FileCloser {
    void operator()(std::FILE* file) const { static_cast<void>(std::fclose(file)); }
};

}  // namespace

std::string Expectation::describe() const {
    std::string scope = proxy ? " on proxy " + *proxy : "";
    std::string bounds;
    if (min && max) {
        bounds = *min == *max ? "exactly " + std::to_string(*min)
                              : std::to_string(*min) + " to " + std::to_string(*max);
    } else if (min) {
        bounds = "at least " + std::to_string(*min);
    } else if (max) {
        bounds = "at most " + std::to_string(*max);
    }
    switch (kind) {
        case Kind::reason:
            return "teardowns with reason " + reason + scope + ": " + bounds;
        case Kind::rule:
            return "rule " + rule + scope + (fired ? " fired" : " did not fire");
        case Kind::connections:
            return "connections" + scope + ": " + bounds;
    }
    return {};
}

ConfigError::ConfigError(std::vector<std::string> errors)
    : std::runtime_error(join(errors, "\n")), errors_(std::move(errors)) {}

std::optional<std::string> upstream_problem(const Endpoint& upstream, const Endpoint& listen,
                                            const Endpoint& api) {
    if (reaches(upstream, listen)) {
        return upstream.text() + " reaches the proxy's own listen address " + listen.text() +
               ": every connection would loop back into the proxy";
    }
    if (reaches(upstream, api)) {
        return upstream.text() + " reaches the control API at " + api.text() +
               ": the proxy would open the API to its clients";
    }
    return std::nullopt;
}

std::optional<std::string> apply_overrides(Config& config, const CommandLineOverrides& overrides) {
    if (overrides.api) {
        auto parsed = parse_listen_endpoint(*overrides.api);
        if (!parsed.endpoint) return "--api: " + parsed.error;
        if (!parsed.endpoint->is_loopback() && !config.api.token) {
            return "--api: listening on " + parsed.endpoint->text() +
                   " beyond loopback requires api.token in the configuration";
        }
        for (const auto& proxy : config.proxies) {
            if (reaches(proxy.upstream, *parsed.endpoint)) {
                return "--api: " + parsed.endpoint->text() + " is reached by the upstream " +
                       proxy.upstream.text() + " of proxy " + proxy.name +
                       ": the proxy would open the API to its clients";
            }
        }
        config.api.listen = *parsed.endpoint;
    }
    if (overrides.log_format) {
        if (*overrides.log_format == "text") {
            config.log.format = LogFormat::text;
        } else if (*overrides.log_format == "json") {
            config.log.format = LogFormat::json;
        } else {
            return "--log-format: expected text or json, got '" + *overrides.log_format + "'";
        }
    }
    if (overrides.log_level) {
        config.log.level = *overrides.log_level;
        config.log.is_level_given = true;
    }
    return std::nullopt;
}

std::optional<std::string> api_listen_conflict(const Config& config, std::string_view api_origin) {
    const Endpoint& api = config.api.listen;
    for (const auto& proxy : config.proxies) {
        if (!listens_overlap(proxy.listen, api)) continue;
        const std::string where =
            proxy.listen == api ? ", the control API's address ("
                                : ", which overlaps the control API's address " + api.text() + " (";
        return "proxy " + single_quoted(proxy.name) + " listens on " + proxy.listen.text() + where +
               std::string(api_origin) + ")";
    }
    return std::nullopt;
}

Config parse_config(std::string_view text, std::string_view source) {
    toml::table root;
    try {
        root = toml::parse(text, source);
    } catch (const toml::parse_error& failure) {
        const auto& where = failure.source().begin;
        throw ConfigError({std::string(source) + ":" + std::to_string(where.line) + ":" +
                           std::to_string(where.column) + ": " +
                           std::string(failure.description())});
    }
    ConfigReader reader(source);
    auto config = reader.read(root);
    if (auto errors = reader.errors(); !errors.empty()) throw ConfigError(std::move(errors));
    return config;
}

Config load_config(const std::string& path) {
    return parse_config(read_config_text(path), path);
}

std::string read_config_text(const std::string& path) {
    errno = 0;
    const std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
    const auto fail = [&path]() {
        const int code = errno != 0 ? errno : EIO;
        return ConfigError({path + ": cannot read file: " + std::generic_category().message(code)});
    };
    if (!file) throw fail();
    std::string text;
    std::array<char, 4096> chunk{};
    std::size_t count = 0;
    while ((count = std::fread(chunk.data(), 1, chunk.size(), file.get())) > 0) {
        text.append(chunk.data(), count);
    }
    if (std::ferror(file.get()) != 0) throw fail();
    return text;
}

}  // namespace faultline::rules
