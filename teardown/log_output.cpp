// The log's descriptor: opening, writing with failures counted, and opening again.
#include "teardown/log_output.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <utility>

namespace faultline::teardown {
namespace {

constexpr int file_flags = O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC;
constexpr mode_t file_mode = 0644;

}  // namespace

std::optional<std::string> log_file_problem(const std::string& path) {
    namespace fs = std::filesystem;
    std::error_code error;
    const fs::path file(path);
    const auto status = fs::status(file, error);
    if (error && status.type() != fs::file_type::not_found) return error.message();
    if (fs::exists(status)) {
        if (fs::is_directory(status)) return "it is a directory";
        if (::access(path.c_str(), W_OK) != 0) return std::strerror(errno);
        return std::nullopt;
    }
    const fs::path directory = file.has_parent_path() ? file.parent_path() : fs::path(".");
    const auto directory_status = fs::status(directory, error);
    if (!fs::exists(directory_status)) {
        return "directory " + directory.string() + " does not exist";
    }
    if (!fs::is_directory(directory_status)) return directory.string() + " is not a directory";
    if (::access(directory.c_str(), W_OK | X_OK) != 0) {
        return "cannot create it in " + directory.string() + ": " + std::strerror(errno);
    }
    return std::nullopt;
}

LogOutput LogOutput::standard_error() {
    return {STDERR_FILENO, std::nullopt};
}

LogOutput LogOutput::open_file(const std::string& path) {
    if (auto problem = log_file_problem(path)) {
        throw std::runtime_error("cannot open log file " + path + ": " + *problem);
    }
    const int fd = ::open(path.c_str(), file_flags, file_mode);
    if (fd < 0) {
        throw std::runtime_error("cannot open log file " + path + ": " + std::strerror(errno));
    }
    return {fd, path};
}

LogOutput::LogOutput(LogOutput&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      path_(std::move(other.path_)),
      failures_(std::move(other.failures_)) {}

LogOutput& LogOutput::operator=(LogOutput&& other) noexcept {
    if (this != &other) {
        close();
        fd_ = std::exchange(other.fd_, -1);
        path_ = std::move(other.path_);
        failures_ = std::move(other.failures_);
    }
    return *this;
}

LogOutput::~LogOutput() {
    close();
}

void LogOutput::close() {
    if (path_ && fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

void LogOutput::write(std::string_view line) {
    int error = 0;
    while (!line.empty()) {
        const ssize_t written = ::write(fd_, line.data(), line.size());
        if (written < 0 && errno == EINTR) continue;
        if (written <= 0) {
            error = written < 0 ? errno : EIO;
            break;
        }
        line.remove_prefix(static_cast<std::size_t>(written));
    }
    if (error == 0) {
        failures_.is_failing = false;
        return;
    }
    ++failures_.count;
    failures_.last_error =
        "write to " + path_.value_or("standard error") + " failed: " + std::strerror(error);
    if (!std::exchange(failures_.is_failing, true) && path_) {
        // Said once per run of failures, where someone may see it.
        const std::string notice =
            "faultline: " + failures_.last_error + "; lost log lines are counted in /metrics\n";
        (void)!::write(STDERR_FILENO, notice.data(), notice.size());
    }
}

std::optional<std::string> LogOutput::reopen() {
    if (!path_) return std::nullopt;
    const int fd = ::open(path_->c_str(), file_flags, file_mode);
    if (fd < 0) return "cannot open log file " + *path_ + ": " + std::strerror(errno);
    ::close(std::exchange(fd_, fd));
    return std::nullopt;
}

}  // namespace faultline::teardown
