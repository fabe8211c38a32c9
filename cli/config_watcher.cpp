// The inotify watches, the links the path leads through, and the settle timer.
#include "cli/config_watcher.hpp"

#include <sys/inotify.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <deque>
#include <filesystem>
#include <utility>
#include <vector>

#include "teardown/log.hpp"

namespace faultline::cli {
namespace {

namespace fs = std::filesystem;

// The file's own changes: written, closed after writing, touched or unlinked (attributes), gone.
constexpr std::uint32_t file_mask =
    IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_DONT_FOLLOW;
// A directory's entries coming and going; not the writes to the files in it.
constexpr std::uint32_t entry_mask = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO |
                                     IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;
constexpr std::uint32_t watch_gone = IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED;
constexpr int max_links = 40;  // as the kernel's own limit on links in one path

// Where a path leads: the file at the end, and every symbolic link met on the way, as the
// directory it is in and its name there.
struct Route {
    fs::path file;
    std::vector<std::pair<fs::path, std::string>> links;
};

Route follow(const std::string& path) {
    Route route;
    std::error_code error;
    fs::path start = fs::absolute(path, error);
    if (error) start = path;
    const fs::path relative = start.relative_path();
    std::deque<fs::path> rest(relative.begin(), relative.end());
    // Resolved so far: no link in it, so ".." is its parent.
    fs::path current = start.root_path();
    int links = 0;
    while (!rest.empty()) {
        const fs::path part = std::move(rest.front());
        rest.pop_front();
        if (part.empty() || part == ".") continue;
        if (part == "..") {
            current = current.parent_path();
            continue;
        }
        const fs::path next = current / part;
        if (links == max_links || !fs::is_symlink(fs::symlink_status(next, error))) {
            current = next;
            continue;
        }
        ++links;
        route.links.emplace_back(current, part.string());
        const fs::path target = fs::read_symlink(next, error);
        if (error) {
            current = next;
            continue;
        }
        if (target.is_absolute()) current = target.root_path();
        const fs::path target_parts = target.relative_path();
        rest.insert(rest.begin(), target_parts.begin(), target_parts.end());
    }
    route.file = current;
    return route;
}

}  // namespace

ConfigWatcher::ConfigWatcher(uv_loop_t* loop, std::string path, std::function<void()> on_change)
    : loop_(loop), path_(std::move(path)), on_change_(std::move(on_change)) {}

ConfigWatcher::~ConfigWatcher() {
    stop();
}

void ConfigWatcher::start() {
    const auto cannot_watch = [this](const std::string& reason) {
        teardown::log_message(teardown::LogLevel::warn, "cannot watch " + path_ + " for changes: " +
                                                            reason + "; reload with SIGHUP");
    };
    inotify_fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (inotify_fd_ < 0) return cannot_watch(std::strerror(errno));
    poll_ = proxy::UvHandle<uv_poll_t>(this);
    settle_timer_ = proxy::UvHandle<uv_timer_t>(this);
    int err = uv_timer_init(loop_, settle_timer_.get());
    if (err == 0) {
        settle_timer_.mark_initialised();
        err = uv_poll_init(loop_, poll_.get(), inotify_fd_);
    }
    if (err == 0) {
        poll_.mark_initialised();
        err = uv_poll_start(poll_.get(), UV_READABLE, on_readable);
    }
    if (err != 0) {
        stop();
        return cannot_watch(proxy::uv_error_text(err));
    }
    arm();
}

void ConfigWatcher::stop() {
    // The poll handle lets go of the descriptor synchronously; then it can be closed.
    poll_.close();
    settle_timer_.close();
    if (inotify_fd_ >= 0) ::close(std::exchange(inotify_fd_, -1));
    file_watch_ = -1;
    entry_watches_.clear();
}

void ConfigWatcher::arm() {
    const Route route = follow(path_);
    std::map<int, std::set<std::string>> entries;
    const auto watch_entries = [&](const fs::path& directory, const std::string& name) {
        const int watch = inotify_add_watch(inotify_fd_, directory.c_str(), entry_mask);
        if (watch >= 0) entries[watch].insert(name);
    };
    for (const auto& [directory, name] : route.links)
        watch_entries(directory, name);
    const int file = inotify_add_watch(inotify_fd_, route.file.c_str(), file_mask);
    if (file < 0) {
        const int error = errno;
        // Gone for now (between a delete and a new file): watch for its name to come back.
        watch_entries(route.file.parent_path(), route.file.filename().string());
        if (error != ENOENT && !std::exchange(is_unwatchable_logged_, true)) {
            teardown::log_message(teardown::LogLevel::warn,
                                  "cannot watch " + route.file.string() + " for changes: " +
                                      std::strerror(error) + "; reload with SIGHUP");
        }
    }
    // The kernel gives the same watch for the same file again: drop only what is not wanted now.
    const auto drop = [&](int watch) {
        if (watch != file && !entries.contains(watch)) (void)inotify_rm_watch(inotify_fd_, watch);
    };
    if (file_watch_ >= 0) drop(file_watch_);
    for (const auto& [watch, names] : entry_watches_)
        drop(watch);
    file_watch_ = file;
    entry_watches_ = std::move(entries);
}

void ConfigWatcher::on_readable(uv_poll_t* handle, int status, int) {
    auto* self = static_cast<ConfigWatcher*>(handle->data);
    if (!self || status < 0) return;
    self->read_events();
}

void ConfigWatcher::read_events() {
    alignas(inotify_event) std::array<char, 4096> buffer{};
    bool is_changed = false;
    bool is_route_changed = false;  // the file or a link on the way was replaced or removed
    for (;;) {
        const ssize_t length = ::read(inotify_fd_, buffer.data(), buffer.size());
        if (length <= 0) break;  // EAGAIN: every event is read
        for (std::size_t at = 0; at < static_cast<std::size_t>(length);) {
            inotify_event event{};
            std::memcpy(&event, buffer.data() + at, sizeof event);
            const char* name = buffer.data() + at + sizeof event;
            at += sizeof event + event.len;
            if (event.wd == file_watch_) {
                if ((event.mask & IN_MODIFY) != 0) is_written_ = true;
                if ((event.mask & IN_CLOSE_WRITE) != 0) is_written_ = false;
                if ((event.mask & watch_gone) != 0) is_route_changed = true;
                is_changed = true;
                continue;
            }
            const auto entry = entry_watches_.find(event.wd);
            if (entry == entry_watches_.end()) continue;  // a watch dropped before
            if ((event.mask & watch_gone) != 0) {
                is_route_changed = is_changed = true;
            } else if (event.len > 0 && entry->second.contains(name)) {
                is_route_changed = is_changed = true;
                // Created where it is read: written next, and complete once closed.
                if ((event.mask & IN_CREATE) != 0) is_written_ = true;
            }
        }
    }
    if (is_route_changed) arm();
    if (!is_changed) return;
    is_waiting_for_writer_ = false;
    (void)uv_timer_start(settle_timer_.get(), on_settled, quiet_ms, 0);
}

void ConfigWatcher::on_settled(uv_timer_t* handle) {
    auto* self = static_cast<ConfigWatcher*>(handle->data);
    if (!self) return;
    if (self->is_written_ && !self->is_waiting_for_writer_) {
        // Written, not yet closed: the writer may have more to write.
        self->is_waiting_for_writer_ = true;
        (void)uv_timer_start(handle, on_settled, open_writer_ms - quiet_ms, 0);
        return;
    }
    self->is_written_ = false;
    self->is_waiting_for_writer_ = false;
    self->on_change_();
}

}  // namespace faultline::cli
