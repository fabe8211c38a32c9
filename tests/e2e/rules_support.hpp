// Helpers shared by the black-box tests of faults, rules and hot reload: [[proxy.rule]] tables
// for proxy_config()'s settings, rewriting a watched configuration file and waiting for the
// reload it causes, payloads that show loss or reordering, and elapsed time.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "tests/e2e/harness.hpp"

namespace faultline::e2e {

using SteadyClock = std::chrono::steady_clock;

// One [[proxy.rule]] table, to append to a proxy's settings. `attributes` is the inside of the
// attributes inline table ("latency = 200"); `extra` are more lines of the rule ("stream =
// \"upstream\"", "match = { first = 2 }").
inline std::string rule_table(std::string_view name, std::string_view type,
                              std::string_view attributes = "", std::string_view extra = "") {
    std::string toml = "\n[[proxy.rule]]\nname = \"" + std::string(name) + "\"\ntype = \"" +
                       std::string(type) + "\"\n";
    if (!attributes.empty()) toml += "attributes = { " + std::string(attributes) + " }\n";
    if (!extra.empty()) toml += std::string(extra) + "\n";
    return toml;
}

// A teardown record's rule: its name, or "null".
inline std::string rule_of(const Json& record) {
    return record["rule"].is_string() ? record["rule"].get<std::string>() : record["rule"].dump();
}

// Milliseconds from `since` until now.
inline long long ms_since(SteadyClock::time_point since) {
    return std::chrono::duration_cast<Millis>(SteadyClock::now() - since).count();
}

// `size` bytes in which every 64 KiB block differs and no short period repeats, so a lost,
// duplicated or reordered piece shows as a mismatch.
inline std::string pattern(std::size_t size, unsigned salt = 0) {
    std::string bytes(size, '\0');
    for (std::size_t i = 0; i < size; ++i) {
        bytes[i] = static_cast<char>('a' + (i * 7 + i / 65536 + salt) % 26);
    }
    return bytes;
}

// How many log events satisfy the predicate so far (no waiting).
inline std::size_t count_events(Faultline& faultline, const Faultline::Predicate& predicate) {
    std::size_t count = 0;
    (void)faultline.wait_event(
        [&](const Json& value) {
            if (predicate(value)) ++count;
            return false;
        },
        Millis(0));
    return count;
}

inline bool is_reload_outcome(const Json& value) {
    const auto event = value.value("event", "");
    return event == "reload" || event == "reload_failed";
}

// Rewrites the file in place, at the same path (truncate, then one write), as an editor that
// saves in place does.
inline void rewrite_file(const std::string& path, std::string_view text) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd < 0) throw std::runtime_error("open " + path + ": " + std::strerror(errno));
    std::string_view rest = text;
    while (!rest.empty()) {
        const ssize_t written = ::write(fd, rest.data(), rest.size());
        if (written < 0) {
            const int error = errno;
            ::close(fd);
            throw std::runtime_error("write " + path + ": " + std::strerror(error));
        }
        rest.remove_prefix(static_cast<std::size_t>(written));
    }
    ::close(fd);
}

// Rewrites the watched configuration with `toml` and waits for the reload (or reload_failed)
// that the change causes; returns that event, or nullopt when none came.
inline std::optional<Json> rewrite_and_wait_reload(Faultline& faultline, const TempConfig& config,
                                                   std::string_view toml) {
    const std::size_t before = count_events(faultline, is_reload_outcome);
    rewrite_file(config.path(), toml);
    std::size_t seen = 0;
    return faultline.wait_event(
        [&](const Json& value) { return is_reload_outcome(value) && ++seen == before + 1; });
}

// Rewrites the configuration with `toml`, requires that the reload was applied, and returns its
// `reload` event.
inline Json reload_applied(Faultline& faultline, const TempConfig& config,
                           const std::string& toml) {
    const auto reload = rewrite_and_wait_reload(faultline, config, toml);
    REQUIRE(reload);
    REQUIRE((*reload)["event"] == "reload");
    return *reload;
}

// The same for a ProxyFixture: its proxy "p" with new settings (and rules).
inline Json reload_applied(ProxyFixture& fixture, std::string_view settings) {
    return reload_applied(fixture.faultline, fixture.config,
                          proxy_config(fixture.server.port, settings));
}

// Whether a `rule_fired` event for the rule was logged (waiting up to `timeout`).
inline bool rule_fired(Faultline& faultline, std::string_view rule, Millis timeout = 0ms) {
    return faultline
        .wait_event(
            [rule](const Json& value) {
                return value.value("event", "") == "rule_fired" && value.value("rule", "") == rule;
            },
            timeout)
        .has_value();
}

}  // namespace faultline::e2e
