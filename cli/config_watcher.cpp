// The directory watch and the settle timer.
#include "cli/config_watcher.hpp"

#include <filesystem>

#include "proxy/uv_handle.hpp"
#include "teardown/log.hpp"

namespace faultline::cli {

ConfigWatcher::ConfigWatcher(uv_loop_t* loop, std::string path, std::function<void()> on_change)
    : loop_(loop), path_(std::move(path)), on_change_(std::move(on_change)) {}

void ConfigWatcher::start() {
    std::filesystem::path path(path_);
    std::string directory = path.has_parent_path() ? path.parent_path().string() : ".";
    watcher_ = proxy::UvHandle<uv_fs_event_t>(this);
    settle_timer_ = proxy::UvHandle<uv_timer_t>(this);
    if (uv_timer_init(loop_, settle_timer_.get()) != 0) return;
    settle_timer_.mark_initialised();
    if (uv_fs_event_init(loop_, watcher_.get()) != 0) return;
    watcher_.mark_initialised();
    if (int err = uv_fs_event_start(watcher_.get(), on_file_event, directory.c_str(), 0);
        err != 0) {
        teardown::log_message(teardown::LogLevel::warn,
                              "cannot watch " + directory + " for changes: " +
                                  proxy::uv_error_text(err) + "; reload with SIGHUP");
    }
}

void ConfigWatcher::stop() {
    watcher_.close();
    settle_timer_.close();
}

void ConfigWatcher::on_file_event(uv_fs_event_t* handle, const char* filename, int, int status) {
    auto* self = static_cast<ConfigWatcher*>(handle->data);
    if (!self || status < 0 || !filename) return;
    if (std::filesystem::path(self->path_).filename() != filename) return;
    (void)uv_timer_start(self->settle_timer_.get(), on_settled, settle_ms, 0);
}

void ConfigWatcher::on_settled(uv_timer_t* handle) {
    auto* self = static_cast<ConfigWatcher*>(handle->data);
    if (self) self->on_change_();
}

}  // namespace faultline::cli
