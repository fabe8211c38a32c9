// Prometheus text format (version 0.0.4).
#include "control/metrics.hpp"

#include <array>
#include <charconv>
#include <string_view>

#include "teardown/log.hpp"

namespace faultline::control {
namespace {

// Seconds as Prometheus reads them: shortest round-trip form, no locale.
std::string number(double value) {
    std::array<char, 32> text{};
    auto [end, error] = std::to_chars(text.data(), text.data() + text.size(), value);
    return error == std::errc{} ? std::string(text.data(), end) : std::string("NaN");
}

class MetricsWriter {
  public:
    void family(std::string_view name, std::string_view type, std::string_view help) {
        out_ += "# HELP " + std::string(name) + " " + std::string(help) + "\n# TYPE " +
                std::string(name) + " " + std::string(type) + "\n";
    }
    void line(std::string_view name, const std::string& labels, std::uint64_t value) {
        out_ += std::string(name) + (labels.empty() ? "" : "{" + labels + "}") + " " +
                std::to_string(value) + "\n";
    }
    void line(std::string_view name, const std::string& labels, double value) {
        out_ += std::string(name) + (labels.empty() ? "" : "{" + labels + "}") + " " +
                number(value) + "\n";
    }
    [[nodiscard]] std::string take() { return std::move(out_); }

  private:
    std::string out_;
};

std::string label(std::string_view key, std::string_view value) {
    return std::string(key) + "=\"" + std::string(value) + "\"";
}

void write_loop_lag(MetricsWriter& out, const LoopLag& lag) {
    out.family("faultline_loop_lag_seconds", "histogram",
               "How late the event loop's periodic timer fired: anything that blocks the loop "
               "delays every proxied byte by as much.");
    for (std::size_t i = 0; i < LoopLag::bounds.size(); ++i) {
        out.line("faultline_loop_lag_seconds_bucket", label("le", number(LoopLag::bounds[i])),
                 lag.cumulative()[i]);
    }
    out.line("faultline_loop_lag_seconds_bucket", label("le", "+Inf"), lag.count());
    out.line("faultline_loop_lag_seconds_sum", std::string(), lag.sum_seconds());
    out.line("faultline_loop_lag_seconds_count", std::string(), lag.count());
    out.family("faultline_loop_lag_max_seconds", "gauge",
               "The event loop's largest lag since start.");
    out.line("faultline_loop_lag_max_seconds", std::string(), lag.max_seconds());
}

}  // namespace

std::string metrics_text(const teardown::Counters& counters,
                         const std::vector<std::string>& proxies,
                         const std::map<std::string, std::uint64_t>& open, const LoopLag& lag) {
    MetricsWriter out;
    out.family("faultline_connections_open", "gauge", "Connections open now.");
    for (const auto& proxy : proxies) {
        auto it = open.find(proxy);
        out.line("faultline_connections_open", label("proxy", proxy),
                 it == open.end() ? 0 : it->second);
    }
    out.family("faultline_connections_total", "counter", "Connections ended.");
    for (const auto& [proxy, value] : counters.connections) {
        out.line("faultline_connections_total", label("proxy", proxy), value);
    }
    out.family("faultline_bytes_total", "counter", "Bytes delivered, by direction.");
    for (const auto& [proxy, value] : counters.bytes_up) {
        out.line("faultline_bytes_total",
                 label("proxy", proxy) + "," + label("direction", "upstream"), value);
    }
    for (const auto& [proxy, value] : counters.bytes_down) {
        out.line("faultline_bytes_total",
                 label("proxy", proxy) + "," + label("direction", "downstream"), value);
    }
    out.family("faultline_teardowns_total", "counter", "Connections ended, by reason.");
    for (const auto& [key, value] : counters.teardowns) {
        out.line("faultline_teardowns_total",
                 label("proxy", key.first) + "," + label("reason", key.second), value);
    }
    out.family("faultline_rule_activations_total", "counter",
               "Rules that started acting on a connection.");
    for (const auto& [key, value] : counters.rule_activations) {
        out.line("faultline_rule_activations_total",
                 label("proxy", key.first) + "," + label("rule", key.second), value);
    }
    out.family("faultline_log_write_failures_total", "counter",
               "Log lines that could not be written; the records stay in /events.");
    out.line("faultline_log_write_failures_total", "", teardown::log_write_failures().count);
    write_loop_lag(out, lag);
    return out.take();
}

}  // namespace faultline::control
