// The route table, and the handlers of faultline's own routes (Toxiproxy's are in
// api_proxies.cpp).
#include "control/api.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>

#include "control/dashboard.hpp"
#include "control/json_answers.hpp"
#include "control/metrics.hpp"
#include "faults/registry.hpp"
#include "rules/config_writer.hpp"
#include "rules/rule.hpp"
#include "teardown/log.hpp"

namespace faultline::control {
namespace {

using nlohmann::json;

nlohmann::ordered_json connection_json(const ConnectionInfo& connection) {
    return {{"id", connection.id},
            {"proxy", connection.proxy},
            {"client", connection.client},
            {"upstream", connection.upstream},
            {"age_ms", connection.age_ms},
            {"bytes_up", connection.bytes_up},
            {"bytes_down", connection.bytes_down},
            {"rules", connection.rules}};
}

}  // namespace

Api::Api(ControlPlane& plane, const EventLog& events)
    : plane_(plane),
      events_(events),
      router_({
          {"GET", "/", &Api::dashboard},
          {"GET", "/faults", &Api::fault_types},
          {"GET", "/version", &Api::version},
          {"GET", "/healthz", &Api::health},
          {"POST", "/reset", &Api::reset},
          {"POST", "/populate", &Api::populate},
          {"GET", "/connections", &Api::list_connections},
          {"DELETE", "/connections/{id}", &Api::kill_connection},
          {"GET", "/events", &Api::events},
          {"GET", "/config", &Api::config_toml},
          {"GET", "/metrics", &Api::metrics},
          {"GET", "/proxies", &Api::list_proxies},
          {"POST", "/proxies", &Api::create_proxy},
          {"GET", "/proxies/{proxy}", &Api::get_proxy},
          {"POST", "/proxies/{proxy}", &Api::update_proxy},
          {"PATCH", "/proxies/{proxy}", &Api::update_proxy},
          {"DELETE", "/proxies/{proxy}", &Api::delete_proxy},
          {"GET", "/proxies/{proxy}/toxics", &Api::list_toxics},
          {"POST", "/proxies/{proxy}/toxics", &Api::create_toxic},
          {"GET", "/proxies/{proxy}/toxics/{toxic}", &Api::get_toxic},
          {"POST", "/proxies/{proxy}/toxics/{toxic}", &Api::update_toxic},
          {"PATCH", "/proxies/{proxy}/toxics/{toxic}", &Api::update_toxic},
          {"DELETE", "/proxies/{proxy}/toxics/{toxic}", &Api::delete_toxic},
      }) {}

HttpResponse Api::handle(const HttpRequest& request) {
    return router_.dispatch(*this, request);
}

// ---------------------------------------------------------------------------------------------
// faultline's own routes.

HttpResponse Api::dashboard(const RoutedRequest&) {
    HttpResponse page{200, std::string(dashboard_page()), "text/html; charset=utf-8", {}};
    // Everything the page needs is inline; it may talk to this API only, and no other site may
    // frame it.
    page.headers.emplace_back("Content-Security-Policy",
                              "default-src 'none'; script-src 'unsafe-inline'; style-src "
                              "'unsafe-inline'; img-src data:; connect-src 'self'; "
                              "frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
    page.headers.emplace_back("Cache-Control", "no-store");
    return page;
}

HttpResponse Api::fault_types(const RoutedRequest&) {
    auto list = nlohmann::ordered_json::array();
    for (const auto& info : faults::fault_types()) {
        list.push_back(
            {{"type", info.type}, {"attributes", info.attributes}, {"defaults", info.defaults}});
    }
    return json_response(200, list);
}

HttpResponse Api::version(const RoutedRequest&) {
    return json_response(200, {{"version", FAULTLINE_VERSION}});
}

HttpResponse Api::health(const RoutedRequest&) {
    const LoopLag& lag = plane_.loop_lag();
    auto milliseconds = [](double seconds) { return std::round(seconds * 10000) / 10; };
    auto problems = nlohmann::ordered_json::array();
    if (lag.recent_max_seconds() >= LoopLag::degraded_seconds) {
        problems.push_back("the event loop was blocked for " +
                           std::to_string(std::lround(lag.recent_max_seconds() * 1000)) +
                           " ms within the last " + std::to_string(LoopLag::recent_seconds) + " s");
    }
    nlohmann::ordered_json health{{"status", problems.empty() ? "ok" : "degraded"},
                                  {"proxies", plane_.config().proxies.size()},
                                  {"connections", plane_.connection_count()},
                                  {"loop_lag_ms",
                                   {{"max", milliseconds(lag.max_seconds())},
                                    {"recent_max", milliseconds(lag.recent_max_seconds())}}}};
    const auto log = teardown::log_write_failures();
    if (log.is_failing) {
        problems.push_back("the log cannot be written: " + log.last_error);
        health["status"] = "degraded";
        health["log_write_failures"] = log.count;
        health["log_error"] = log.last_error;
    }
    if (!problems.empty()) health["problems"] = problems;
    if (!plane_.reload_errors().empty()) health["last_reload_errors"] = plane_.reload_errors();
    return json_response(200, health);
}

HttpResponse Api::list_connections(const RoutedRequest&) {
    auto list = nlohmann::ordered_json::array();
    for (const auto& connection : plane_.connections())
        list.push_back(connection_json(connection));
    return json_response(200, list);
}

HttpResponse Api::kill_connection(const RoutedRequest& request) {
    const std::string& text = request.parameter("id");
    std::uint64_t id = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), id);
    bool is_id =
        error == std::errc{} && end == text.data() + text.size() && std::to_string(id) == text;
    if (!is_id || !plane_.kill(id)) return error_response(404, "connection not found");
    return no_content();
}

HttpResponse Api::events(const RoutedRequest& request) {
    if (request.http.query == "follow=1" || request.http.query == "follow=true") {
        HttpResponse stream{200, {}, "application/x-ndjson", {}};
        stream.is_stream = true;
        return stream;
    }
    return {200, events_.recent_text(), "application/json", {}};
}

HttpResponse Api::config_toml(const RoutedRequest&) {
    return {200, rules::to_toml(plane_.config()), "application/toml", {}};
}

HttpResponse Api::metrics(const RoutedRequest&) {
    std::vector<std::string> proxies;
    for (const auto& proxy : plane_.config().proxies)
        proxies.push_back(proxy.name);
    std::map<std::string, std::uint64_t> open;
    for (const auto& connection : plane_.connections())
        ++open[connection.proxy];
    return {200,
            metrics_text(plane_.counters(), proxies, open, plane_.loop_lag()),
            "text/plain; version=0.0.4",
            {}};
}

}  // namespace faultline::control
