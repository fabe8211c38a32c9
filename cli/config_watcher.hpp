// Watches the configuration file for saves and reports each save once it has settled. The file
// itself is watched (inotify), not its directory, so that files written beside it never wake
// faultline; when the path leads through symbolic links (a Kubernetes ConfigMap: config.toml ->
// ..data/config.toml, ..data -> ..2026_01_01_...), the directories of those links are watched for
// the links' names only, so that a link renamed over another is seen. After a rename or a delete
// the watches are set again on whatever the path leads to now.
//
// A save has settled when nothing happened to the file for quiet_ms and no writer still holds it
// open after writing (inotify says when it closes); a writer that never closes is waited for up to
// open_writer_ms. So a file written in several parts is reported once, whole.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>

#include "proxy/uv_handle.hpp"

namespace faultline::cli {

class ConfigWatcher {
  public:
    static constexpr std::uint64_t quiet_ms = 100;
    static constexpr std::uint64_t open_writer_ms = 2000;

    ConfigWatcher(uv_loop_t* loop, std::string path, std::function<void()> on_change);
    ConfigWatcher(const ConfigWatcher&) = delete;
    ConfigWatcher& operator=(const ConfigWatcher&) = delete;
    ~ConfigWatcher();

    // Starts watching; when the file cannot be watched, says so in the log (SIGHUP still
    // reloads).
    void start();
    void stop();

  private:
    static void on_readable(uv_poll_t* handle, int status, int events);
    static void on_settled(uv_timer_t* handle);
    void read_events();
    // Watches what the path leads to now, and drops the watches of what it led to before.
    void arm();

    uv_loop_t* loop_;
    std::string path_;
    std::function<void()> on_change_;
    int inotify_fd_ = -1;
    proxy::UvHandle<uv_poll_t> poll_;
    proxy::UvHandle<uv_timer_t> settle_timer_;
    int file_watch_ = -1;  // the file the path leads to; -1 while it does not exist
    // Directories watched for entries coming and going, with the names in each that matter.
    std::map<int, std::set<std::string>> entry_watches_;
    bool is_written_ = false;             // written since a writer last closed the file
    bool is_waiting_for_writer_ = false;  // settled but for the writer: the long wait runs
    bool is_unwatchable_logged_ = false;
};

}  // namespace faultline::cli
