// Logging set-up and the rendering of structured events.
#include "teardown/log.hpp"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <ctime>
#include <memory>
#include <mutex>
#include <stdexcept>

#include "teardown/log_output.hpp"

namespace faultline::teardown {
namespace {

LogFormat format_in_use = LogFormat::text;

// spdlog's side of the log's output: formats each line and hands it to the LogOutput, under the
// sink's lock (which reopening and reading the failures take too).
class OutputSink final : public spdlog::sinks::base_sink<std::mutex> {
  public:
    explicit OutputSink(LogOutput output) : output_(std::move(output)) {}

    std::optional<std::string> reopen() {
        const std::lock_guard lock(mutex_);
        return output_.reopen();
    }
    LogWriteFailures failures() {
        const std::lock_guard lock(mutex_);
        return output_.failures();
    }

  protected:
    void sink_it_(const spdlog::details::log_msg& message) override {
        spdlog::memory_buf_t line;
        formatter_->format(message, line);
        output_.write(std::string_view(line.data(), line.size()));
    }
    void flush_() override {}  // nothing is buffered

  private:
    LogOutput output_;
};

std::shared_ptr<OutputSink> sink_in_use;

std::string utc_timestamp() {
    using namespace std::chrono;
    auto now = system_clock::now();
    auto seconds = system_clock::to_time_t(now);
    auto millis = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm parts{};
    gmtime_r(&seconds, &parts);
    char buffer[32];
    (void)std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S", &parts);
    return fmt::format("{}.{:03}Z", buffer, millis);
}

std::string_view level_name(LogLevel level) {
    switch (level) {
        case LogLevel::trace:
            return "trace";
        case LogLevel::debug:
            return "debug";
        case LogLevel::info:
            return "info";
        case LogLevel::warn:
            return "warn";
        case LogLevel::error:
            return "error";
    }
    return "error";
}

spdlog::level::level_enum spdlog_level(LogLevel level) {
    switch (level) {
        case LogLevel::trace:
            return spdlog::level::trace;
        case LogLevel::debug:
            return spdlog::level::debug;
        case LogLevel::info:
            return spdlog::level::info;
        case LogLevel::warn:
            return spdlog::level::warn;
        case LogLevel::error:
            return spdlog::level::err;
    }
    return spdlog::level::err;
}

std::string text_value(const nlohmann::ordered_json& value) {
    if (value.is_string()) {
        const auto& text = value.get_ref<const std::string&>();
        if (text.find_first_of(" \"=") == std::string::npos && !text.empty()) return text;
        return value.dump();
    }
    if (value.is_null()) return "-";
    return value.dump();
}

std::string generic_text(const nlohmann::ordered_json& event) {
    std::string text = event.value("event", "event");
    for (const auto& [key, value] : event.items()) {
        if (key == "event") continue;
        text += ' ';
        text += key;
        text += '=';
        text += text_value(value);
    }
    return text;
}

}  // namespace

void setup_logging(const std::string& level_text, LogFormat format,
                   const std::optional<std::string>& file) {
    auto level = spdlog::level::from_str(level_text);
    if (level == spdlog::level::off && level_text != "off") {
        throw std::invalid_argument("unknown log level '" + level_text +
                                    "'; known: trace, debug, info, warn, error");
    }
    auto sink = std::make_shared<OutputSink>(file ? LogOutput::open_file(*file)
                                                  : LogOutput::standard_error());
    auto logger = std::make_shared<spdlog::logger>("faultline", sink);
    format_in_use = format;
    logger->set_pattern(format_in_use == LogFormat::json ? "%v" : "%Y-%m-%dT%H:%M:%S.%e %l %v");
    logger->set_level(level);
    spdlog::set_default_logger(logger);
    sink_in_use = std::move(sink);
}

std::optional<std::string> reopen_log() {
    return sink_in_use ? sink_in_use->reopen() : std::nullopt;
}

LogWriteFailures log_write_failures() {
    return sink_in_use ? sink_in_use->failures() : LogWriteFailures{};
}

LogFormat log_format() {
    return format_in_use;
}

void flush_log() {
    spdlog::default_logger()->flush();
}

void log_event(LogLevel level, const nlohmann::ordered_json& event, const std::string& text) {
    if (!spdlog::should_log(spdlog_level(level))) return;
    if (format_in_use == LogFormat::json) {
        nlohmann::ordered_json line;
        line["time"] = utc_timestamp();
        line["level"] = level_name(level);
        for (const auto& [key, value] : event.items())
            line[key] = value;
        spdlog::log(spdlog_level(level), "{}", line.dump());
    } else {
        spdlog::log(spdlog_level(level), "{}", text.empty() ? generic_text(event) : text);
    }
}

void log_message(LogLevel level, const std::string& message) {
    if (format_in_use == LogFormat::json) {
        log_event(level, {{"event", "log"}, {"message", message}});
    } else {
        spdlog::log(spdlog_level(level), "{}", message);
    }
}

}  // namespace faultline::teardown
