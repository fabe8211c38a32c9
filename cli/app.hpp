// The composition root that `faultline serve` and `faultline run` share: one event loop that owns
// the proxies and their sessions, the control API, the signal handlers and the configuration
// watcher, from start-up to a clean shutdown. It applies every new configuration (a reloaded file,
// an API change) as a difference, and it is the control API's view of the running program.
#pragma once

#include <uv.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "cli/api_listener.hpp"
#include "cli/config_watcher.hpp"
#include "control/api.hpp"
#include "control/api_server.hpp"
#include "control/control_plane.hpp"
#include "control/events.hpp"
#include "control/loop_lag.hpp"
#include "proxy/proxy.hpp"
#include "proxy/runtime.hpp"
#include "proxy/session.hpp"
#include "rules/config.hpp"
#include "teardown/counters.hpp"

namespace faultline::cli {

// A listener that could not be opened, and the like: exit status 1.
class StartupError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

class App final : public control::ControlPlane {
  public:
    // `config_path`: the file to watch and reload (on change and on SIGHUP), if any.
    explicit App(rules::Config config, std::optional<std::string> config_path = std::nullopt);
    App(const App&) = delete;
    App& operator=(const App&) = delete;
    ~App() override;

    // Starts every listener, runs until SIGTERM or SIGINT, then closes live sessions (Xlate
    // Clear) and returns. Throws StartupError when a listener cannot be opened.
    void run();

    // For `faultline run`, set before run(): whether to serve the API (default yes); what to do
    // once every listener is open; and SIGTERM/SIGINT taken over (true: handled, keep running).
    void serve_api(bool enabled) { is_api_served_ = enabled; }
    std::function<void()> on_ready;
    std::function<bool(int signum)> on_stop_signal;
    // Stops as SIGTERM does: listeners closed, live connections reset (Xlate Clear).
    void stop(std::string_view cause);
    // Stops accepting, gives the live connections up to `grace` to end by themselves (so that
    // a FIN already on its way is recorded as such), then stops as above.
    void drain_then_stop(std::chrono::milliseconds grace, std::string cause);
    [[nodiscard]] uv_loop_t* loop() { return &loop_; }
    // Each proxy's name and the address it listens on (the configured one when it does not).
    [[nodiscard]] std::vector<std::pair<std::string, std::string>> proxy_addresses() const;
    // The counters as they stood when run() returned.
    [[nodiscard]] const teardown::Counters& final_counters() const { return final_counters_; }

    // control::ControlPlane
    [[nodiscard]] const rules::Config& config() const override { return config_; }
    [[nodiscard]] std::optional<std::string> apply(rules::Config config) override;
    [[nodiscard]] std::optional<std::string> apply_to(
        std::string_view name, std::optional<rules::ProxyConfig> proxy) override;
    [[nodiscard]] std::string listen_address(std::string_view proxy) const override;
    [[nodiscard]] std::unordered_map<std::string, std::string> listen_addresses() const override;
    [[nodiscard]] std::vector<control::ConnectionInfo> connections() const override;
    [[nodiscard]] std::size_t connection_count() const override {
        return runtime_->sessions().size();
    }
    [[nodiscard]] std::map<std::string, std::uint64_t> connection_counts() const override;
    bool kill(std::uint64_t id) override;
    [[nodiscard]] const teardown::Counters& counters() const override;
    [[nodiscard]] const std::vector<std::string>& reload_errors() const override {
        return reload_errors_;
    }
    [[nodiscard]] const control::LoopLag& loop_lag() const override { return loop_lag_; }

    // How often the loop's lag is sampled.
    static constexpr std::uint64_t lag_interval_ms = 50;

  private:
    static void on_signal(uv_signal_t* handle, int signum);
    static void on_drain_timer(uv_timer_t* handle);
    static void on_lag_timer(uv_timer_t* handle);
    void start_lag_timer();
    void start();
    void start_api();
    void reload(std::string_view trigger);
    // Applies a new valid configuration as a difference: unchanged proxies keep their listeners
    // and connections and take the new rules; changed, disabled and removed ones close theirs.
    // All or nothing: every new listener is opened before anything changes, and when one cannot
    // be, nothing changes (ChangeRefused, in app.cpp). Throws StartupError only when a port
    // given up by one of our proxies was taken by another program in the moment it was free
    // (the new proxy stays, not listening).
    void apply_difference(rules::Config config);
    void index_proxies();  // by_name_ from proxies_
    [[nodiscard]] const proxy::Proxy* find_proxy(std::string_view name) const;
    void on_record(nlohmann::ordered_json record);
    void shutdown(std::string_view cause);

    rules::Config config_;
    std::optional<std::string> config_path_;
    uv_loop_t loop_{};
    std::unique_ptr<proxy::Runtime> runtime_;
    std::vector<std::unique_ptr<proxy::Proxy>> proxies_;  // in configuration order
    // Where each proxy is in proxies_, which is where its configuration is in config_.proxies.
    std::unordered_map<std::string, std::size_t> by_name_;
    control::EventLog events_;
    std::unique_ptr<control::Api> api_;
    std::unique_ptr<control::ApiServer> api_server_;
    std::unique_ptr<ApiListener> api_listener_;
    std::unique_ptr<ConfigWatcher> watcher_;
    std::vector<proxy::UvHandle<uv_signal_t>> signals_;
    proxy::UvHandle<uv_timer_t> drain_timer_;  // drain_then_stop: the grace period
    std::string drain_cause_;
    proxy::UvHandle<uv_timer_t> lag_timer_;  // fires every lag_interval_ms, to see how late
    std::uint64_t lag_timer_due_ns_ = 0;
    control::LoopLag loop_lag_;
    std::vector<std::string> reload_errors_;  // shown by /healthz until a reload succeeds
    teardown::Counters final_counters_;
    bool is_api_served_ = true;
    bool is_shutting_down_ = false;
    bool is_loop_closed_ = false;
};

}  // namespace faultline::cli
