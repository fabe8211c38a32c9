// The one interface through which the control API reaches the running program: the
// configuration (read it, apply a new one as a difference), the live connections (list, kill),
// the counters, the last reload's errors and the event loop's lag. The composition root
// (cli/app.hpp) implements it; nothing in control/ knows sockets, sessions or the event loop.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "control/loop_lag.hpp"
#include "rules/config.hpp"
#include "teardown/counters.hpp"

namespace faultline::control {

// One live connection, as GET /connections shows it.
struct ConnectionInfo {
    std::uint64_t id = 0;
    std::string proxy;
    std::string client;
    std::string upstream;
    std::uint64_t age_ms = 0;
    std::uint64_t bytes_up = 0;
    std::uint64_t bytes_down = 0;
    std::vector<std::string> rules;  // acting on it now
};

class ControlPlane {
  public:
    virtual ~ControlPlane() = default;

    // The running configuration: proxies (with the ports they were given) and rules.
    [[nodiscard]] virtual const rules::Config& config() const = 0;
    // Applies `config` as a difference, exactly as a reloaded file is applied: unchanged proxies
    // keep their listeners and connections, changed rules act on live connections. When a proxy
    // that should listen cannot, the previous state is restored and the listen error returned.
    [[nodiscard]] virtual std::optional<std::string> apply(rules::Config config) = 0;
    // The same as apply() with one proxy changed: `proxy` takes the place of the proxy named
    // `name` (or is added when there is none), nullopt removes it. A plane may do it in time that
    // does not grow with the other proxies; this one changes the whole configuration.
    [[nodiscard]] virtual std::optional<std::string> apply_to(
        std::string_view name, std::optional<rules::ProxyConfig> proxy) {
        rules::Config changed = config();
        auto& proxies = changed.proxies;
        auto it = std::find_if(proxies.begin(), proxies.end(),
                               [&](const rules::ProxyConfig& p) { return p.name == name; });
        if (!proxy) {
            if (it != proxies.end()) proxies.erase(it);
        } else if (it != proxies.end()) {
            *it = std::move(*proxy);
        } else {
            proxies.push_back(std::move(*proxy));
        }
        return apply(std::move(changed));
    }
    // The address a proxy listens on ("127.0.0.1:40123"); empty when it does not listen.
    [[nodiscard]] virtual std::string listen_address(std::string_view proxy) const = 0;
    // Every listening proxy's address by name, in one pass: for answers about many proxies, where
    // a listen_address call per proxy would cost time quadratic in their number.
    [[nodiscard]] virtual std::unordered_map<std::string, std::string> listen_addresses() const = 0;
    [[nodiscard]] virtual std::vector<ConnectionInfo> connections() const = 0;
    [[nodiscard]] virtual std::size_t connection_count() const = 0;
    // Live connections by proxy name (no entry for a proxy without any).
    [[nodiscard]] virtual std::map<std::string, std::uint64_t> connection_counts() const = 0;
    // Ends one live connection (Xlate Clear); false when there is none with that id.
    virtual bool kill(std::uint64_t id) = 0;
    [[nodiscard]] virtual const teardown::Counters& counters() const = 0;
    // The errors of the last reload of the configuration file, until one succeeds.
    [[nodiscard]] virtual const std::vector<std::string>& reload_errors() const = 0;
    // How late the event loop has been.
    [[nodiscard]] virtual const LoopLag& loop_lag() const = 0;
};

}  // namespace faultline::control
