// Start-up, the API routes available so far, and shutdown.
#include "proxy/app.hpp"

#include <csignal>
#include <nlohmann/json.hpp>

#include "proxy/log.hpp"

namespace faultline::proxy {

App::App(rules::Config config) : config_(std::move(config)) {
    int err = uv_loop_init(&loop_);
    if (err != 0) throw StartupError("cannot create the event loop: " + uv_error_text(err));
    runtime_ = std::make_unique<Runtime>(&loop_);
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
    runtime_.reset();
    int err = uv_loop_close(&loop_);
    is_loop_closed_ = err == 0;
    spdlog::default_logger()->flush();
    // A handle still open here is a bug; the exit status says so.
    if (err != 0) throw std::runtime_error("event loop still busy at exit: " + uv_error_text(err));
}

void App::start() {
    api_ = std::make_unique<ApiServer>(
        *runtime_, [this](const HttpRequest& request) { return handle_api(request); },
        config_.api.token);
    if (int err = api_->start(config_.api.listen); err != 0) {
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
    for (int signum : {SIGTERM, SIGINT}) {
        UvHandle<uv_signal_t> handle(this);
        if (uv_signal_init(&loop_, handle.get()) != 0) continue;
        handle.mark_initialised();
        (void)uv_signal_start(handle.get(), on_signal, signum);
        signals_.push_back(std::move(handle));
    }
    log_event(spdlog::level::info, {{"event", "ready"}, {"version", FAULTLINE_VERSION}});
}

void App::on_signal(uv_signal_t* handle, int signum) {
    auto* self = static_cast<App*>(handle->data);
    if (self) self->shutdown(signum);
}

void App::shutdown(int signum) {
    if (is_shutting_down_) return;
    is_shutting_down_ = true;
    log_event(spdlog::level::info, {{"event", "shutdown"},
                                    {"signal", signum == SIGINT ? "SIGINT" : "SIGTERM"},
                                    {"live_connections", runtime_->sessions().size()}});
    for (auto& proxy : proxies_)
        proxy->stop_listening();
    api_->stop();
    runtime_->clear_sessions(nullptr, Reason::xlate_clear);
    signals_.clear();
}

HttpResponse App::handle_api(const HttpRequest& request) {
    if (request.path == "/version") {
        if (request.method != "GET") return error_response(405, "method not allowed");
        return {200, nlohmann::json{{"version", FAULTLINE_VERSION}}.dump(), "application/json", {}};
    }
    if (request.path == "/healthz") {
        if (request.method != "GET") return error_response(405, "method not allowed");
        nlohmann::ordered_json body{{"status", "ok"},
                                    {"proxies", proxies_.size()},
                                    {"connections", runtime_->sessions().size()}};
        return {200, body.dump(), "application/json", {}};
    }
    return error_response(404, "not found");
}

}  // namespace faultline::proxy
