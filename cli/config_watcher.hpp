// Watches the configuration file for changes. Editors save by writing in place or by renaming a
// new file over the old one, so the file's directory is watched, and the events for the file's
// name start a short timer: the several events of one save cause one reload.
#pragma once

#include <uv.h>

#include <functional>
#include <string>

#include "proxy/uv_handle.hpp"

namespace faultline::cli {

class ConfigWatcher {
  public:
    static constexpr std::uint64_t settle_ms = 50;

    ConfigWatcher(uv_loop_t* loop, std::string path, std::function<void()> on_change);
    ConfigWatcher(const ConfigWatcher&) = delete;
    ConfigWatcher& operator=(const ConfigWatcher&) = delete;

    // Starts watching; when the directory cannot be watched, says so in the log (SIGHUP still
    // reloads).
    void start();
    void stop();

  private:
    static void on_file_event(uv_fs_event_t* handle, const char* filename, int events, int status);
    static void on_settled(uv_timer_t* handle);

    uv_loop_t* loop_;
    std::string path_;
    std::function<void()> on_change_;
    proxy::UvHandle<uv_fs_event_t> watcher_;
    proxy::UvHandle<uv_timer_t> settle_timer_;  // coalesces the events of one save
};

}  // namespace faultline::cli
