// Start-up, reloads, the control API's view of the program, and shutdown.
#include "cli/app.hpp"

#include <algorithm>
#include <csignal>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

#include "teardown/log.hpp"

namespace faultline::cli {

using proxy::UvHandle;
using teardown::LogLevel;

namespace {

// Nothing but white space: never a configuration anyone meant to apply.
bool is_blank(std::string_view text) {
    return text.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

// A change that cannot be made, for the reason given; nothing was changed.
class ChangeRefused : public std::runtime_error {
  public:
    ChangeRefused(std::string proxy, const std::string& reason)
        : std::runtime_error(reason), proxy_(std::move(proxy)) {}
    [[nodiscard]] const std::string& proxy() const { return proxy_; }

  private:
    std::string proxy_;
};

std::string listen_failure(const rules::Endpoint& listen, int err) {
    return "listen on " + listen.text() + " failed: " + proxy::uv_error_text(err);
}

using Proxies = std::vector<std::unique_ptr<proxy::Proxy>>;

// A running proxy keeps its listener and its connections unless its address or its enabled
// state changes (or it failed to listen); other settings and the rules change in place.
bool is_kept_as(const proxy::Proxy& proxy, const rules::ProxyConfig& wanted) {
    const auto& have = proxy.config();
    bool is_listening_as_wanted = !wanted.enabled || !proxy.listen_address().empty();
    // Port 0 asks for any port: the one the proxy already has will do.
    bool is_same_address = have.listen == wanted.listen ||
                           (wanted.listen.port == 0 && have.listen.host == wanted.listen.host);
    return is_same_address && have.enabled == wanted.enabled && is_listening_as_wanted;
}

// What a new configuration does to the running proxies, worked out before anything changes.
struct Change {
    std::vector<std::optional<std::size_t>> kept_as;  // by wanted proxy: the running one it is
    std::vector<bool> is_kept;                        // by running proxy
    Proxies fresh;                                    // by wanted proxy: a new one, if not kept
    std::vector<bool> is_open;  // by wanted proxy: its new listener is open already
};

Change match_by_name(const Proxies& running, const std::vector<rules::ProxyConfig>& wanted) {
    std::unordered_map<std::string_view, std::size_t> by_name;
    by_name.reserve(running.size());
    for (std::size_t i = 0; i < running.size(); ++i)
        by_name.emplace(running[i]->name(), i);
    Change change{std::vector<std::optional<std::size_t>>(wanted.size()),
                  std::vector<bool>(running.size(), false), Proxies(wanted.size()),
                  std::vector<bool>(wanted.size(), false)};
    for (std::size_t j = 0; j < wanted.size(); ++j) {
        const auto it = by_name.find(wanted[j].name);
        if (it == by_name.end() || !is_kept_as(*running[it->second], wanted[j])) continue;
        change.kept_as[j] = it->second;
        change.is_kept[it->second] = true;
    }
    return change;
}

// Creates the new proxies and opens the listener of each whose address no running proxy holds;
// an address that a running proxy holds is taken over once that proxy lets go of it, unless it
// stays. Throws ChangeRefused at the first that cannot listen: the new proxies then close again,
// and nothing running was touched.
void open_new_listeners(Change& change, const Proxies& running,
                        const std::vector<rules::ProxyConfig>& wanted, proxy::Runtime& runtime) {
    std::unordered_map<std::uint16_t, std::vector<std::size_t>> held;  // by port
    for (std::size_t i = 0; i < running.size(); ++i) {
        if (!running[i]->listen_address().empty()) {
            held[running[i]->config().listen.port].push_back(i);
        }
    }
    for (std::size_t j = 0; j < wanted.size(); ++j) {
        if (change.kept_as[j]) continue;
        const auto& proxy_config = wanted[j];
        change.fresh[j] = std::make_unique<proxy::Proxy>(runtime, proxy_config);
        if (!proxy_config.enabled) continue;
        std::optional<std::size_t> holder;
        if (const auto same_port = held.find(proxy_config.listen.port); same_port != held.end()) {
            for (const std::size_t i : same_port->second) {
                if (rules::listens_overlap(running[i]->config().listen, proxy_config.listen)) {
                    holder = i;
                    break;
                }
            }
        }
        if (holder) {
            if (!change.is_kept[*holder]) continue;
            throw ChangeRefused(proxy_config.name,
                                "listen on " + proxy_config.listen.text() + " failed: proxy '" +
                                    running[*holder]->name() + "' listens there");
        }
        if (int err = change.fresh[j]->open_listener(); err != 0) {
            throw ChangeRefused(proxy_config.name, listen_failure(proxy_config.listen, err));
        }
        change.is_open[j] = true;
    }
}

}  // namespace

App::App(rules::Config config, std::optional<std::string> config_path)
    : config_(std::move(config)), config_path_(std::move(config_path)) {
    int err = uv_loop_init(&loop_);
    if (err != 0) throw StartupError("cannot create the event loop: " + proxy::uv_error_text(err));
    runtime_ = std::make_unique<proxy::Runtime>(&loop_);
    runtime_->seed(config_.seed);
}

App::~App() {
    if (is_loop_closed_) return;
    // Normally run() has already closed everything; this covers a failed start.
    proxies_.clear();
    api_listener_.reset();
    watcher_.reset();
    signals_.clear();
    drain_timer_.close();
    lag_timer_.close();
    if (runtime_) runtime_->close();
    while (uv_run(&loop_, UV_RUN_DEFAULT) != 0) {
    }
    runtime_.reset();
    (void)uv_loop_close(&loop_);
}

void App::run() {
    start();
    uv_run(&loop_, UV_RUN_DEFAULT);
    // Everything was closed by shutdown(); run once more for the close callbacks and the
    // deferred deletions.
    api_listener_.reset();
    runtime_->close();
    uv_run(&loop_, UV_RUN_DEFAULT);
    final_counters_ = runtime_->counters();
    runtime_.reset();
    int err = uv_loop_close(&loop_);
    is_loop_closed_ = err == 0;
    teardown::flush_log();
    // A handle still open here is a bug; the exit status says so.
    if (err != 0) {
        throw std::runtime_error("event loop still busy at exit: " + proxy::uv_error_text(err));
    }
}

void App::start() {
    runtime_->on_record = [this](nlohmann::ordered_json record) { on_record(std::move(record)); };
    if (is_api_served_) start_api();
    for (const auto& proxy_config : config_.proxies) {
        auto proxy = std::make_unique<proxy::Proxy>(*runtime_, proxy_config);
        if (proxy_config.enabled) {
            if (int err = proxy->start(); err != 0) {
                throw StartupError("proxy " + proxy_config.name + ": listen on " +
                                   proxy_config.listen.text() +
                                   " failed: " + proxy::uv_error_text(err));
            }
        }
        proxies_.push_back(std::move(proxy));
    }
    index_proxies();
    if (config_path_) {
        watcher_ = std::make_unique<ConfigWatcher>(&loop_, *config_path_,
                                                   [this] { reload("file changed"); });
        watcher_->start();
    }
    for (int signum : {SIGTERM, SIGINT, SIGHUP}) {
        UvHandle<uv_signal_t> handle(this);
        if (uv_signal_init(&loop_, handle.get()) != 0) continue;
        handle.mark_initialised();
        (void)uv_signal_start(handle.get(), on_signal, signum);
        signals_.push_back(std::move(handle));
    }
    start_lag_timer();
    teardown::log_event(LogLevel::info, {{"event", "ready"}, {"version", FAULTLINE_VERSION}});
    if (on_ready) on_ready();
}

void App::start_api() {
    api_ = std::make_unique<control::Api>(*this, events_);
    api_server_ = std::make_unique<control::ApiServer>(
        [this](const control::HttpRequest& request) { return api_->handle(request); },
        config_.api.token);
    api_listener_ = std::make_unique<ApiListener>(*runtime_, *api_server_);
    // A record is written out as a line only for the clients that follow the stream.
    events_.on_publish = [this](const nlohmann::ordered_json& record) {
        if (api_server_->has_followers()) api_server_->broadcast(record.dump() + "\n");
    };
    if (int err = api_listener_->start(config_.api.listen); err != 0) {
        throw StartupError("api: listen on " + config_.api.listen.text() +
                           " failed: " + proxy::uv_error_text(err));
    }
    // With port 0 the API's port is known only now; a proxy sent to it is refused by that.
    if (auto bound = rules::parse_endpoint(api_server_->address()).endpoint) {
        config_.api.listen = *bound;
    }
}

void App::on_record(nlohmann::ordered_json record) {
    events_.publish(std::move(record));
    // Draining: the session that wrote this record is gone once the loop turns.
    if (drain_timer_) {
        runtime_->defer([this] {
            if (runtime_->sessions().empty()) shutdown(drain_cause_);
        });
    }
}

void App::start_lag_timer() {
    lag_timer_ = UvHandle<uv_timer_t>(this);
    if (uv_timer_init(&loop_, lag_timer_.get()) != 0) return;
    lag_timer_.mark_initialised();
    uv_unref(lag_timer_.base());  // it never keeps the loop running by itself
    lag_timer_due_ns_ = uv_hrtime() + lag_interval_ms * 1'000'000;
    (void)uv_timer_start(lag_timer_.get(), on_lag_timer, lag_interval_ms, lag_interval_ms);
}

// A repeating timer is due again lag_interval_ms after it ran; whatever it fires later than that
// is time the loop spent elsewhere, in one callback or many.
void App::on_lag_timer(uv_timer_t* handle) {
    auto* self = static_cast<App*>(handle->data);
    if (!self) return;
    std::uint64_t now = uv_hrtime();
    double late = now > self->lag_timer_due_ns_
                      ? static_cast<double>(now - self->lag_timer_due_ns_) / 1e9
                      : 0.0;
    self->loop_lag_.record(late, now / 1'000'000);
    self->lag_timer_due_ns_ = now + lag_interval_ms * 1'000'000;
}

void App::on_signal(uv_signal_t* handle, int signum) {
    auto* self = static_cast<App*>(handle->data);
    if (!self) return;
    if (signum == SIGHUP) {
        // logrotate moved the log file away: write a new one at its path.
        if (auto problem = teardown::reopen_log()) {
            teardown::log_event(LogLevel::error,
                                {{"event", "log_reopen_failed"}, {"message", *problem}});
        }
        self->reload("SIGHUP");
    } else if (!self->on_stop_signal || !self->on_stop_signal(signum)) {
        self->shutdown(signum == SIGINT ? "SIGINT" : "SIGTERM");
    }
}

void App::reload(std::string_view trigger) {
    if (!config_path_ || is_shutting_down_) return;
    try {
        const std::string text = rules::read_config_text(*config_path_);
        if (is_blank(text)) {
            // Most often a save caught between truncating the file and writing it again.
            teardown::log_event(LogLevel::warn, {{"event", "reload_ignored"},
                                                 {"trigger", trigger},
                                                 {"file", *config_path_},
                                                 {"reason", "the file is empty"}});
            return;
        }
        apply_difference(rules::parse_config(text, *config_path_));
    } catch (const ChangeRefused& e) {
        // Nothing changed.
        reload_errors_ = {"proxy " + e.proxy() + ": " + e.what()};
        teardown::log_event(LogLevel::error, {{"event", "reload_failed"},
                                              {"trigger", trigger},
                                              {"file", *config_path_},
                                              {"errors", reload_errors_}});
        return;
    } catch (const StartupError& e) {
        teardown::log_event(LogLevel::error, {{"event", "reload_partial"},
                                              {"trigger", trigger},
                                              {"file", *config_path_},
                                              {"message", e.what()}});
        return;
    } catch (const rules::ConfigError& e) {
        // The old rules stay.
        reload_errors_ = e.errors();
        teardown::log_event(LogLevel::error, {{"event", "reload_failed"},
                                              {"trigger", trigger},
                                              {"file", *config_path_},
                                              {"errors", e.errors()}});
        return;
    }
    reload_errors_.clear();
    teardown::log_event(LogLevel::info, {{"event", "reload"},
                                         {"trigger", trigger},
                                         {"file", *config_path_},
                                         {"proxies", proxies_.size()}});
}

const proxy::Proxy* App::find_proxy(std::string_view name) const {
    const auto it = by_name_.find(std::string(name));
    return it == by_name_.end() ? nullptr : proxies_[it->second].get();
}

void App::apply_difference(rules::Config config) {
    Change change = match_by_name(proxies_, config.proxies);
    open_new_listeners(change, proxies_, config.proxies, *runtime_);

    // Every new listener that could be opened in advance is: now the proxies that go or move let
    // go of their connections and their ports, and the new ones take over.
    Proxies running = std::move(proxies_);
    proxies_.clear();
    std::unordered_set<const proxy::Proxy*> going;
    for (std::size_t i = 0; i < running.size(); ++i) {
        if (!change.is_kept[i]) going.insert(running[i].get());
    }
    runtime_->clear_sessions(going, teardown::Reason::xlate_clear);
    for (std::size_t i = 0; i < running.size(); ++i) {
        if (change.is_kept[i]) continue;
        running[i]->stop_listening();
        // Its finished sessions still point at it until they are freed: free it after them.
        auto gone = std::make_shared<std::unique_ptr<proxy::Proxy>>(std::move(running[i]));
        runtime_->defer([gone] { gone->reset(); });
    }
    std::string failures;
    for (std::size_t j = 0; j < config.proxies.size(); ++j) {
        auto& proxy_config = config.proxies[j];
        if (change.kept_as[j]) {
            auto& proxy = running[*change.kept_as[j]];
            if (proxy_config.listen.port == 0) proxy_config.listen = proxy->config().listen;
            proxy->update(proxy_config);
            proxies_.push_back(std::move(proxy));
            continue;
        }
        auto& proxy = change.fresh[j];
        if (proxy_config.enabled) {
            int err = change.is_open[j] ? proxy->start_accepting() : proxy->start();
            if (err != 0) {
                // Only when another program took a port in the moment it was free: the proxy
                // stays, not listening, and the next change tries again.
                if (!failures.empty()) failures += "; ";
                failures += listen_failure(proxy_config.listen, err);
                teardown::log_event(LogLevel::error, {{"event", "listen_failed"},
                                                      {"proxy", proxy_config.name},
                                                      {"address", proxy_config.listen.text()},
                                                      {"error", proxy::uv_error_text(err)}});
            }
        }
        proxy_config.listen = proxy->config().listen;  // with the port it was given
        proxies_.push_back(std::move(proxy));
    }
    index_proxies();
    config.api = config_.api;  // the API's address and token change with a restart only
    config.log = config_.log;
    config_ = std::move(config);
    if (!failures.empty()) throw StartupError(failures);
}

void App::index_proxies() {
    by_name_.clear();
    by_name_.reserve(proxies_.size());
    for (std::size_t i = 0; i < proxies_.size(); ++i)
        by_name_.emplace(proxies_[i]->name(), i);
}

std::optional<std::string> App::apply(rules::Config config) {
    rules::Config previous = config_;
    try {
        apply_difference(std::move(config));
    } catch (const ChangeRefused& e) {
        return e.what();
    } catch (const StartupError& e) {
        try {
            apply_difference(std::move(previous));
        } catch (const StartupError&) {
            // The previous state had the same failure; nothing more to restore.
        }
        return e.what();
    }
    return std::nullopt;
}

std::optional<std::string> App::apply_to(std::string_view name,
                                         std::optional<rules::ProxyConfig> proxy) {
    // A proxy that keeps its name and its listener takes its new rules and settings in place,
    // in time that does not grow with the other proxies; any other change is a whole one.
    const auto it = by_name_.find(std::string(name));
    if (!proxy || it == by_name_.end() || proxy->name != name ||
        !is_kept_as(*proxies_[it->second], *proxy)) {
        return ControlPlane::apply_to(name, std::move(proxy));
    }
    auto& running = *proxies_[it->second];
    if (proxy->listen.port == 0) proxy->listen = running.config().listen;
    running.update(*proxy);
    config_.proxies[it->second] = std::move(*proxy);
    return std::nullopt;
}

std::string App::listen_address(std::string_view name) const {
    const proxy::Proxy* proxy = find_proxy(name);
    return proxy ? proxy->listen_address() : std::string();
}

std::unordered_map<std::string, std::string> App::listen_addresses() const {
    std::unordered_map<std::string, std::string> addresses;
    addresses.reserve(proxies_.size());
    for (const auto& proxy : proxies_) {
        if (!proxy->listen_address().empty())
            addresses.emplace(proxy->name(), proxy->listen_address());
    }
    return addresses;
}

std::vector<control::ConnectionInfo> App::connections() const {
    std::vector<control::ConnectionInfo> list;
    list.reserve(runtime_->sessions().size());
    for (const auto& [id, session] : runtime_->sessions()) {
        list.push_back({id, session->proxy().name(), session->client_address(),
                        session->upstream_address(), session->age_ms(), session->bytes_up(),
                        session->bytes_down(), session->active_rules()});
    }
    return list;
}

std::map<std::string, std::uint64_t> App::connection_counts() const {
    // Counted by proxy first: a name is copied once per proxy, not once per connection.
    std::map<const proxy::Proxy*, std::uint64_t> by_proxy;
    for (const auto& [id, session] : runtime_->sessions())
        ++by_proxy[&session->proxy()];
    std::map<std::string, std::uint64_t> counts;
    for (const auto& [proxy, count] : by_proxy)
        counts[proxy->name()] += count;
    return counts;
}

bool App::kill(std::uint64_t id) {
    auto it = runtime_->sessions().find(id);
    if (it == runtime_->sessions().end()) return false;
    it->second->clear(teardown::Reason::xlate_clear);
    return true;
}

const teardown::Counters& App::counters() const {
    return runtime_->counters();
}

void App::stop(std::string_view cause) {
    shutdown(cause);
}

void App::drain_then_stop(std::chrono::milliseconds grace, std::string cause) {
    if (is_shutting_down_) return;
    if (runtime_->sessions().empty() || grace.count() <= 0) return shutdown(cause);
    for (auto& proxy : proxies_)
        proxy->stop_listening();
    drain_cause_ = std::move(cause);
    drain_timer_ = UvHandle<uv_timer_t>(this);
    if (uv_timer_init(&loop_, drain_timer_.get()) != 0) return shutdown(drain_cause_);
    drain_timer_.mark_initialised();
    // The last record ends the wait early (on_record); the timer ends it at the latest.
    (void)uv_timer_start(drain_timer_.get(), on_drain_timer,
                         static_cast<std::uint64_t>(grace.count()), 0);
}

void App::on_drain_timer(uv_timer_t* handle) {
    auto* self = static_cast<App*>(handle->data);
    if (self) self->shutdown(self->drain_cause_);
}

std::vector<std::pair<std::string, std::string>> App::proxy_addresses() const {
    std::vector<std::pair<std::string, std::string>> addresses;
    for (const auto& proxy : proxies_) {
        const auto& bound = proxy->listen_address();
        addresses.emplace_back(proxy->name(),
                               bound.empty() ? proxy->config().listen.text() : bound);
    }
    return addresses;
}

void App::shutdown(std::string_view cause) {
    if (is_shutting_down_) return;
    is_shutting_down_ = true;
    drain_timer_.close();
    lag_timer_.close();
    teardown::log_event(LogLevel::info, {{"event", "shutdown"},
                                         {"cause", cause},
                                         {"live_connections", runtime_->sessions().size()}});
    for (auto& proxy : proxies_)
        proxy->stop_listening();
    if (api_listener_) api_listener_->stop();
    if (watcher_) watcher_->stop();
    runtime_->clear_sessions(nullptr, teardown::Reason::xlate_clear);
    signals_.clear();
}

}  // namespace faultline::cli
