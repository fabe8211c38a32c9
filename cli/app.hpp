// The running faultline: one event loop that owns the proxies, their sessions, the control API
// and the signal handlers, from start-up to a clean shutdown.
#pragma once

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cli/api_server.hpp"
#include "teardown/counters.hpp"
#include "proxy/proxy.hpp"
#include "proxy/runtime.hpp"
#include "rules/config.hpp"

namespace faultline::cli {

using namespace faultline::proxy;    // NOLINT: until the control/cli split
using namespace faultline::control;  // NOLINT
using namespace faultline::teardown; // NOLINT

// A listener that could not be opened, and the like: exit status 1.
class StartupError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

class App {
  public:
    // `config_path`: the file to watch and reload (on change and on SIGHUP), if any.
    explicit App(rules::Config config, std::optional<std::string> config_path = std::nullopt);
    App(const App&) = delete;
    App& operator=(const App&) = delete;
    ~App();

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
    [[nodiscard]] const rules::Config& config() const { return config_; }
    // The counters as they stood when run() returned.
    [[nodiscard]] const teardown::Counters& final_counters() const { return final_counters_; }

  private:
    static void on_signal(uv_signal_t* handle, int signum);
    static void on_file_event(uv_fs_event_t* handle, const char* filename, int events, int status);
    static void on_reload_timer(uv_timer_t* handle);
    static void on_drain_timer(uv_timer_t* handle);
    void start();
    void watch_config();
    void reload(std::string_view trigger);
    // Applies a new valid configuration as a difference: unchanged proxies keep their listeners
    // and connections and take the new rules; changed, disabled and removed ones close theirs.
    void apply(rules::Config config);
    [[nodiscard]] Proxy* find_proxy(const std::string& name);
    void shutdown(std::string_view cause);
    // The control API's routes (app_api.cpp): every change is a new configuration applied as a
    // difference, exactly as a reload applies a file.
    [[nodiscard]] HttpResponse handle_api(const HttpRequest& request);
    [[nodiscard]] HttpResponse handle_proxies(const HttpRequest& request,
                                              const std::vector<std::string>& parts);
    [[nodiscard]] HttpResponse handle_toxics(const HttpRequest& request, rules::ProxyConfig& proxy,
                                             const std::vector<std::string>& parts);
    [[nodiscard]] HttpResponse populate(const HttpRequest& request);
    // Applies `config`; when a proxy that should listen does not, restores the previous state
    // and returns the listen error.
    [[nodiscard]] std::optional<std::string> apply_from_api(rules::Config config);
    [[nodiscard]] nlohmann::ordered_json proxy_json(const rules::ProxyConfig& proxy);
    [[nodiscard]] std::string metrics_text();
    // Keeps the `listen` string of an API body, shown until the proxy has a bound address.
    void remember_listen(const nlohmann::json& body, const rules::ProxyConfig& proxy);

    rules::Config config_;
    // By proxy name: the listen address as an API client wrote it ("localhost:0"), with its
    // parsed form, for a proxy that has not listened (Toxiproxy echoes the string).
    std::map<std::string, std::pair<rules::Endpoint, std::string>> listen_as_given_;
    std::optional<std::string> config_path_;
    UvHandle<uv_fs_event_t> watcher_;
    UvHandle<uv_timer_t> reload_timer_;  // coalesces the several events of one save
    UvHandle<uv_timer_t> drain_timer_;   // drain_then_stop: the grace period
    std::string drain_cause_;
    uv_loop_t loop_{};
    std::unique_ptr<Runtime> runtime_;
    std::unique_ptr<ApiServer> api_;
    std::vector<std::unique_ptr<Proxy>> proxies_;
    std::vector<UvHandle<uv_signal_t>> signals_;
    std::vector<std::string> last_reload_errors_;  // shown by /healthz until a reload succeeds
    teardown::Counters final_counters_;
    bool is_api_served_ = true;
    bool is_shutting_down_ = false;
    bool is_loop_closed_ = false;
};

}  // namespace faultline::cli
