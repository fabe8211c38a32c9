// Start-up, reloads, the control API's view of the program, and shutdown.
#include "cli/app.hpp"

#include <algorithm>
#include <csignal>

#include "teardown/log.hpp"

namespace faultline::cli {

using proxy::UvHandle;
using teardown::LogLevel;

namespace {

// Nothing but white space: never a configuration anyone meant to apply.
bool is_blank(std::string_view text) {
    return text.find_first_not_of(" \t\r\n") == std::string_view::npos;
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
    for (const auto& proxy : proxies_) {
        if (proxy->name() == name) return proxy.get();
    }
    return nullptr;
}

void App::apply_difference(rules::Config config) {
    // A proxy keeps its listener and its connections unless its address or its enabled state
    // changes (or it failed to listen); other settings and the rules change in place.
    auto is_kept = [](const proxy::Proxy& proxy, const rules::ProxyConfig& wanted) {
        const auto& have = proxy.config();
        bool is_listening_as_wanted = !wanted.enabled || !proxy.listen_address().empty();
        // Port 0 asks for any port: the one the proxy already has will do.
        bool is_same_address = have.listen == wanted.listen ||
                               (wanted.listen.port == 0 && have.listen.host == wanted.listen.host);
        return is_same_address && have.enabled == wanted.enabled && is_listening_as_wanted;
    };
    // First every proxy that goes or changes lets go of its connections and its port, so that a
    // renamed proxy or swapped ports can be taken by the new ones.
    std::vector<std::unique_ptr<proxy::Proxy>> kept;
    for (auto& proxy : proxies_) {
        auto wanted = std::find_if(config.proxies.begin(), config.proxies.end(),
                                   [&](const auto& p) { return p.name == proxy->name(); });
        if (wanted != config.proxies.end() && is_kept(*proxy, *wanted)) {
            kept.push_back(std::move(proxy));
            continue;
        }
        runtime_->clear_sessions(proxy.get(), teardown::Reason::xlate_clear);
        proxy->stop_listening();
        // Its finished sessions still point at it until they are freed: free it after them.
        auto gone = std::make_shared<std::unique_ptr<proxy::Proxy>>(std::move(proxy));
        runtime_->defer([gone] { gone->reset(); });
    }
    proxies_.clear();
    std::string failures;
    for (auto& proxy_config : config.proxies) {
        auto it = std::find_if(kept.begin(), kept.end(),
                               [&](const auto& p) { return p && p->name() == proxy_config.name; });
        if (it != kept.end()) {
            if (proxy_config.listen.port == 0) proxy_config.listen = (*it)->config().listen;
            (*it)->update(proxy_config);
            proxies_.push_back(std::move(*it));
            continue;
        }
        auto proxy = std::make_unique<proxy::Proxy>(*runtime_, proxy_config);
        if (proxy_config.enabled) {
            if (int err = proxy->start(); err != 0) {
                // Kept, not listening: the next reload tries again.
                if (!failures.empty()) failures += "; ";
                failures += "listen on " + proxy_config.listen.text() +
                            " failed: " + proxy::uv_error_text(err);
                teardown::log_event(LogLevel::error, {{"event", "listen_failed"},
                                                      {"proxy", proxy_config.name},
                                                      {"address", proxy_config.listen.text()},
                                                      {"error", proxy::uv_error_text(err)}});
            }
        }
        proxy_config.listen = proxy->config().listen;  // with the port it was given
        proxies_.push_back(std::move(proxy));
    }
    config.api = config_.api;  // the API's address and token change with a restart only
    config.log = config_.log;
    config_ = std::move(config);
    if (!failures.empty()) throw StartupError(failures);
}

std::optional<std::string> App::apply(rules::Config config) {
    rules::Config previous = config_;
    try {
        apply_difference(std::move(config));
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

std::string App::listen_address(std::string_view name) const {
    const proxy::Proxy* proxy = find_proxy(name);
    return proxy ? proxy->listen_address() : std::string();
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
