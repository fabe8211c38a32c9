// Start-up, the API routes available so far, and shutdown.
#include "cli/app.hpp"

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "teardown/log.hpp"

namespace faultline::cli {

App::App(rules::Config config, std::optional<std::string> config_path)
    : config_(std::move(config)), config_path_(std::move(config_path)) {
    int err = uv_loop_init(&loop_);
    if (err != 0) throw StartupError("cannot create the event loop: " + uv_error_text(err));
    runtime_ = std::make_unique<Runtime>(&loop_);
    runtime_->seed(config_.seed);
}

App::~App() {
    if (is_loop_closed_) return;
    // Normally run() has already closed everything; this covers a failed start.
    proxies_.clear();
    api_.reset();
    signals_.clear();
    if (runtime_) runtime_->close();
    while (uv_run(&loop_, UV_RUN_DEFAULT) != 0) {
    }
    runtime_.reset();
    (void)uv_loop_close(&loop_);
}

void App::run() {
    start();
    uv_run(&loop_, UV_RUN_DEFAULT);
    // Everything was closed by shutdown(); run once more for the close callbacks.
    runtime_->close();
    uv_run(&loop_, UV_RUN_DEFAULT);
    final_counters_ = runtime_->counters();
    runtime_.reset();
    int err = uv_loop_close(&loop_);
    is_loop_closed_ = err == 0;
    teardown::flush_log();
    // A handle still open here is a bug; the exit status says so.
    if (err != 0) throw std::runtime_error("event loop still busy at exit: " + uv_error_text(err));
}

void App::start() {
    api_ = std::make_unique<ApiServer>(
        *runtime_, [this](const HttpRequest& request) { return handle_api(request); },
        config_.api.token);
    runtime_->on_record = [this](const nlohmann::ordered_json& record) {
        if (api_) api_->broadcast(record.dump() + "\n");
        // Draining: the session that wrote this record is gone once the loop turns.
        if (drain_timer_) {
            runtime_->defer([this] {
                if (runtime_->sessions().empty()) shutdown(drain_cause_);
            });
        }
    };
    if (!is_api_served_) {
        api_.reset();
    } else if (int err = api_->start(config_.api.listen); err != 0) {
        throw StartupError("api: listen on " + config_.api.listen.text() +
                           " failed: " + uv_error_text(err));
    }
    for (const auto& proxy_config : config_.proxies) {
        auto proxy = std::make_unique<Proxy>(*runtime_, proxy_config);
        if (proxy_config.enabled) {
            if (int err = proxy->start(); err != 0) {
                throw StartupError("proxy " + proxy_config.name + ": listen on " +
                                   proxy_config.listen.text() + " failed: " + uv_error_text(err));
            }
        }
        proxies_.push_back(std::move(proxy));
    }
    watch_config();
    for (int signum : {SIGTERM, SIGINT, SIGHUP}) {
        UvHandle<uv_signal_t> handle(this);
        if (uv_signal_init(&loop_, handle.get()) != 0) continue;
        handle.mark_initialised();
        (void)uv_signal_start(handle.get(), on_signal, signum);
        signals_.push_back(std::move(handle));
    }
    teardown::log_event(teardown::LogLevel::info, {{"event", "ready"}, {"version", FAULTLINE_VERSION}});
    if (on_ready) on_ready();
}

void App::on_signal(uv_signal_t* handle, int signum) {
    auto* self = static_cast<App*>(handle->data);
    if (!self) return;
    if (signum == SIGHUP) {
        self->reload("SIGHUP");
    } else if (!self->on_stop_signal || !self->on_stop_signal(signum)) {
        self->shutdown(signum == SIGINT ? "SIGINT" : "SIGTERM");
    }
}

// Editors save by writing in place or by renaming a new file over the old one: the directory is
// watched, and events for the file's name start a short timer that reloads once.
void App::watch_config() {
    if (!config_path_) return;
    std::filesystem::path path(*config_path_);
    std::string directory = path.has_parent_path() ? path.parent_path().string() : ".";
    watcher_ = UvHandle<uv_fs_event_t>(this);
    reload_timer_ = UvHandle<uv_timer_t>(this);
    if (uv_timer_init(&loop_, reload_timer_.get()) != 0) return;
    reload_timer_.mark_initialised();
    if (uv_fs_event_init(&loop_, watcher_.get()) != 0) return;
    watcher_.mark_initialised();
    if (int err = uv_fs_event_start(watcher_.get(), on_file_event, directory.c_str(), 0);
        err != 0) {
        teardown::log_message(teardown::LogLevel::warn, "cannot watch " + directory + " for changes: " +
                                             uv_error_text(err) + "; reload with SIGHUP");
    }
}

void App::on_file_event(uv_fs_event_t* handle, const char* filename, int, int status) {
    auto* self = static_cast<App*>(handle->data);
    if (!self || status < 0 || !filename) return;
    if (std::filesystem::path(*self->config_path_).filename() != filename) return;
    (void)uv_timer_start(self->reload_timer_.get(), on_reload_timer, 50, 0);
}

void App::on_reload_timer(uv_timer_t* handle) {
    auto* self = static_cast<App*>(handle->data);
    if (self) self->reload("file changed");
}

void App::reload(std::string_view trigger) {
    if (!config_path_ || is_shutting_down_) return;
    try {
        apply(rules::load_config(*config_path_));
    } catch (const StartupError& e) {
        teardown::log_event(teardown::LogLevel::error, {{"event", "reload_partial"},
                                       {"trigger", trigger},
                                       {"file", *config_path_},
                                       {"message", e.what()}});
        return;
    } catch (const rules::ConfigError& e) {
        // The old rules stay.
        last_reload_errors_ = e.errors();
        teardown::log_event(teardown::LogLevel::error, {{"event", "reload_failed"},
                                       {"trigger", trigger},
                                       {"file", *config_path_},
                                       {"errors", e.errors()}});
        return;
    }
    last_reload_errors_.clear();
    teardown::log_event(teardown::LogLevel::info, {{"event", "reload"},
                                    {"trigger", trigger},
                                    {"file", *config_path_},
                                    {"proxies", proxies_.size()}});
}

Proxy* App::find_proxy(const std::string& name) {
    for (auto& proxy : proxies_) {
        if (proxy->name() == name) return proxy.get();
    }
    return nullptr;
}

void App::apply(rules::Config config) {
    // A proxy keeps its listener and its connections unless its address or its enabled state
    // changes (or it failed to listen); other settings and the rules change in place.
    auto is_kept = [](const Proxy& proxy, const rules::ProxyConfig& wanted) {
        const auto& have = proxy.config();
        bool is_listening_as_wanted = !wanted.enabled || !proxy.listen_address().empty();
        // Port 0 asks for any port: the one the proxy already has will do.
        bool is_same_address = have.listen == wanted.listen ||
                               (wanted.listen.port == 0 && have.listen.host == wanted.listen.host);
        return is_same_address && have.enabled == wanted.enabled && is_listening_as_wanted;
    };
    // First every proxy that goes or changes lets go of its connections and its port, so that a
    // renamed proxy or swapped ports can be taken by the new ones.
    std::vector<std::unique_ptr<Proxy>> kept;
    for (auto& proxy : proxies_) {
        auto wanted = std::find_if(config.proxies.begin(), config.proxies.end(),
                                   [&](const auto& p) { return p.name == proxy->name(); });
        if (wanted != config.proxies.end() && is_kept(*proxy, *wanted)) {
            kept.push_back(std::move(proxy));
            continue;
        }
        runtime_->clear_sessions(proxy.get(), Reason::xlate_clear);
        proxy->stop_listening();
        // Its finished sessions still point at it until they are freed: free it after them.
        auto gone = std::make_shared<std::unique_ptr<Proxy>>(std::move(proxy));
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
        auto proxy = std::make_unique<Proxy>(*runtime_, proxy_config);
        if (proxy_config.enabled) {
            if (int err = proxy->start(); err != 0) {
                // Kept, not listening: the next reload tries again.
                if (!failures.empty()) failures += "; ";
                failures +=
                    "listen on " + proxy_config.listen.text() + " failed: " + uv_error_text(err);
                teardown::log_event(teardown::LogLevel::error, {{"event", "listen_failed"},
                                               {"proxy", proxy_config.name},
                                               {"address", proxy_config.listen.text()},
                                               {"error", uv_error_text(err)}});
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
    if (!self) return;
    self->shutdown(self->drain_cause_);
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
    teardown::log_event(teardown::LogLevel::info, {{"event", "shutdown"},
                                    {"cause", cause},
                                    {"live_connections", runtime_->sessions().size()}});
    for (auto& proxy : proxies_)
        proxy->stop_listening();
    if (api_) api_->stop();
    watcher_.close();
    reload_timer_.close();
    runtime_->clear_sessions(nullptr, Reason::xlate_clear);
    signals_.clear();
}

}  // namespace faultline::cli
