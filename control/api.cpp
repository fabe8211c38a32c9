// The route table and its handlers.
#include "control/api.hpp"

#include <algorithm>
#include <charconv>
#include <optional>

#include "control/dashboard.hpp"
#include "control/metrics.hpp"
#include "faults/registry.hpp"
#include "rules/config_writer.hpp"
#include "rules/rule.hpp"

namespace faultline::control {
namespace {

using nlohmann::json;

HttpResponse json_response(int status, const nlohmann::ordered_json& body) {
    return {status, body.dump(), "application/json", {}};
}

HttpResponse no_content() {
    return {204, {}, "application/json", {}};
}

// The request body as JSON, or the 400 Toxiproxy answers.
std::optional<json> body_of(const HttpRequest& request, HttpResponse& error) {
    if (request.body.empty()) {
        error = error_response(400, "bad request body: empty body");
        return std::nullopt;
    }
    try {
        return json::parse(request.body);
    } catch (const json::parse_error& e) {
        error = error_response(400, std::string("bad request body: ") + e.what());
        return std::nullopt;
    }
}

template <typename Config>
auto* find_proxy(Config& config, std::string_view name) {
    auto it = std::find_if(config.proxies.begin(), config.proxies.end(),
                           [name](const auto& proxy) { return proxy.name == name; });
    return it == config.proxies.end() ? nullptr : &*it;
}

template <typename Rules>
auto find_rule(Rules& rules, std::string_view name) {
    return std::find_if(rules.begin(), rules.end(),
                        [name](const auto& rule) { return rule.name == name; });
}

// A proxy's fields from an API body: name, listen, upstream, enabled. Returns an error message.
std::optional<std::string> read_proxy_fields(const json& body, rules::ProxyConfig& proxy,
                                             bool is_create, const std::string& suffix = "") {
    if (!body.is_object()) return "bad request body: expected an object";
    if (is_create) {
        if (!body.contains("name") || !body["name"].is_string() ||
            body["name"].get<std::string>().empty()) {
            return "missing required field: name" + suffix;
        }
        proxy.name = body["name"].get<std::string>();
        if (!rules::is_valid_name(proxy.name)) {
            return "invalid name '" + proxy.name + "'; " + std::string(rules::valid_name_hint);
        }
        if (!body.contains("upstream") || !body["upstream"].is_string() ||
            body["upstream"].get<std::string>().empty()) {
            return "missing required field: upstream" + suffix;
        }
        proxy.listen = {"0.0.0.0", 0};  // Toxiproxy: all interfaces, a free port
    }
    if (body.contains("listen") && !body["listen"].is_null()) {
        if (!body["listen"].is_string()) return "bad request body: listen must be a string";
        auto parsed = rules::parse_listen_endpoint(body["listen"].get<std::string>());
        if (!parsed.endpoint) return "bad request body: listen: " + parsed.error;
        proxy.listen = *parsed.endpoint;
    }
    if (body.contains("upstream") && !body["upstream"].is_null()) {
        if (!body["upstream"].is_string()) return "bad request body: upstream must be a string";
        auto parsed = rules::parse_endpoint(body["upstream"].get<std::string>());
        if (!parsed.endpoint) return "bad request body: upstream: " + parsed.error;
        proxy.upstream = *parsed.endpoint;
    }
    if (body.contains("enabled") && !body["enabled"].is_null()) {
        if (!body["enabled"].is_boolean()) return "bad request body: enabled must be a boolean";
        proxy.enabled = body["enabled"].get<bool>();
    }
    return std::nullopt;
}

// A toxic parse error as Toxiproxy words it.
HttpResponse toxic_error(const std::vector<std::string>& errors) {
    for (const auto& error : errors) {
        if (error.starts_with("stream was invalid")) return error_response(400, error);
        if (error.starts_with("invalid toxic type")) return error_response(400, error);
    }
    std::string joined;
    for (const auto& error : errors)
        joined += (joined.empty() ? "" : "; ") + error;
    return error_response(400, "bad request body: " + joined);
}

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
    nlohmann::ordered_json health{{"status", "ok"},
                                  {"proxies", plane_.config().proxies.size()},
                                  {"connections", plane_.connections().size()}};
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
    auto list = nlohmann::ordered_json::array();
    for (const auto& record : events_.recent())
        list.push_back(record);
    return json_response(200, list);
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
    return {200, metrics_text(plane_.counters(), proxies, open), "text/plain; version=0.0.4", {}};
}

// ---------------------------------------------------------------------------------------------
// Toxiproxy's proxies.

nlohmann::ordered_json Api::proxy_json(const rules::ProxyConfig& proxy) const {
    std::string listen = plane_.listen_address(proxy.name);
    if (listen.empty()) {
        auto given = listen_as_given_.find(proxy.name);
        bool is_given = given != listen_as_given_.end() && given->second.first == proxy.listen;
        listen = is_given ? given->second.second : proxy.listen.text();
    }
    auto toxics = nlohmann::ordered_json::array();
    for (auto stream : {faults::Stream::upstream, faults::Stream::downstream}) {
        for (const auto& rule : proxy.rules) {
            if (rule.stream == stream) toxics.push_back(rules::rule_to_json(rule));
        }
    }
    return {{"name", proxy.name},
            {"listen", listen},
            {"upstream", proxy.upstream.text()},
            {"enabled", proxy.enabled},
            {"toxics", toxics}};
}

void Api::remember_listen(const json& body, const rules::ProxyConfig& proxy) {
    if (body.contains("listen") && body["listen"].is_string()) {
        listen_as_given_[proxy.name] = {proxy.listen, body["listen"].get<std::string>()};
    }
}

HttpResponse Api::list_proxies(const RoutedRequest&) {
    nlohmann::ordered_json body = nlohmann::ordered_json::object();
    for (const auto& proxy : plane_.config().proxies)
        body[proxy.name] = proxy_json(proxy);
    return json_response(200, body);
}

HttpResponse Api::create_proxy(const RoutedRequest& request) {
    HttpResponse error;
    auto body = body_of(request.http, error);
    if (!body) return error;
    rules::ProxyConfig proxy;
    proxy.settings = plane_.config().defaults;
    if (auto problem = read_proxy_fields(*body, proxy, true)) return error_response(400, *problem);
    if (find_proxy(plane_.config(), proxy.name)) return error_response(409, "proxy already exists");
    rules::Config config = plane_.config();
    config.proxies.push_back(proxy);
    if (auto failure = plane_.apply(std::move(config))) return error_response(500, *failure);
    remember_listen(*body, proxy);
    return json_response(201, proxy_json(*find_proxy(plane_.config(), proxy.name)));
}

HttpResponse Api::get_proxy(const RoutedRequest& request) {
    const auto* proxy = find_proxy(plane_.config(), request.parameter("proxy"));
    if (!proxy) return error_response(404, "proxy not found");
    return json_response(200, proxy_json(*proxy));
}

HttpResponse Api::update_proxy(const RoutedRequest& request) {
    const std::string& name = request.parameter("proxy");
    rules::Config config = plane_.config();
    rules::ProxyConfig* proxy = find_proxy(config, name);
    if (!proxy) return error_response(404, "proxy not found");
    HttpResponse error;
    auto body = body_of(request.http, error);
    if (!body) return error;
    if (auto problem = read_proxy_fields(*body, *proxy, false)) {
        return error_response(400, *problem);
    }
    rules::ProxyConfig updated = *proxy;
    if (auto failure = plane_.apply(std::move(config))) return error_response(500, *failure);
    remember_listen(*body, updated);
    return json_response(200, proxy_json(*find_proxy(plane_.config(), name)));
}

HttpResponse Api::delete_proxy(const RoutedRequest& request) {
    const std::string& name = request.parameter("proxy");
    rules::Config config = plane_.config();
    if (!find_proxy(config, name)) return error_response(404, "proxy not found");
    std::erase_if(config.proxies, [&](const auto& proxy) { return proxy.name == name; });
    (void)plane_.apply(std::move(config));
    listen_as_given_.erase(name);
    return no_content();
}

HttpResponse Api::reset(const RoutedRequest&) {
    rules::Config config = plane_.config();
    for (auto& proxy : config.proxies) {
        proxy.enabled = true;
        proxy.rules.clear();
    }
    if (auto error = plane_.apply(std::move(config))) return error_response(500, *error);
    return no_content();
}

HttpResponse Api::populate(const RoutedRequest& request) {
    HttpResponse error;
    auto body = body_of(request.http, error);
    if (!body) return error;
    if (!body->is_array()) return error_response(400, "bad request body: expected an array");
    // Every entry is checked before anything changes.
    std::vector<rules::ProxyConfig> wanted;
    for (std::size_t i = 0; i < body->size(); ++i) {
        rules::ProxyConfig proxy;
        proxy.settings = plane_.config().defaults;
        if (auto problem =
                read_proxy_fields((*body)[i], proxy, true, " at proxy " + std::to_string(i + 1))) {
            return error_response(400, *problem);
        }
        wanted.push_back(std::move(proxy));
    }
    // As Toxiproxy does, entries are applied in order and the first listen failure stops the
    // rest: the answer is then a 500 that also lists the proxies done so far.
    auto done = nlohmann::ordered_json::array();
    for (const auto& proxy : wanted) {
        rules::Config config = plane_.config();
        rules::ProxyConfig* existing = find_proxy(config, proxy.name);
        bool is_unchanged =
            existing && existing->listen == proxy.listen && existing->upstream == proxy.upstream;
        if (!is_unchanged) {  // an unchanged one is kept as it is, with its toxics and state
            if (existing) {
                *existing = proxy;
            } else {
                config.proxies.push_back(proxy);
            }
            if (auto failure = plane_.apply(std::move(config))) {
                return json_response(500,
                                     {{"error", *failure}, {"status", 500}, {"proxies", done}});
            }
            remember_listen((*body)[done.size()], proxy);
        }
        done.push_back(proxy_json(*find_proxy(plane_.config(), proxy.name)));
    }
    return json_response(201, {{"proxies", done}});
}

// ---------------------------------------------------------------------------------------------
// Toxiproxy's toxics: faultline's rules.

template <typename Change>
HttpResponse Api::change_toxics(const RoutedRequest& request, Change change) {
    rules::Config config = plane_.config();
    rules::ProxyConfig* proxy = find_proxy(config, request.parameter("proxy"));
    if (!proxy) return error_response(404, "proxy not found");
    HttpResponse response = change(proxy->rules);
    if (response.status >= 400) return response;
    if (auto failure = plane_.apply(std::move(config))) return error_response(500, *failure);
    return response;
}

HttpResponse Api::list_toxics(const RoutedRequest& request) {
    const auto* proxy = find_proxy(plane_.config(), request.parameter("proxy"));
    if (!proxy) return error_response(404, "proxy not found");
    return json_response(200, proxy_json(*proxy)["toxics"]);
}

HttpResponse Api::create_toxic(const RoutedRequest& request) {
    return change_toxics(request, [&](std::vector<rules::Rule>& rules) {
        HttpResponse error;
        auto body = body_of(request.http, error);
        if (!body) return error;
        auto parsed = rules::parse_rule_json(*body);
        if (!parsed.rule) return toxic_error(parsed.errors);
        if (find_rule(rules, parsed.rule->name) != rules.end()) {
            return error_response(409, "toxic already exists");
        }
        rules.push_back(*parsed.rule);
        return json_response(200, rules::rule_to_json(rules.back()));
    });
}

HttpResponse Api::get_toxic(const RoutedRequest& request) {
    const auto* proxy = find_proxy(plane_.config(), request.parameter("proxy"));
    if (!proxy) return error_response(404, "proxy not found");
    auto rule = find_rule(proxy->rules, request.parameter("toxic"));
    if (rule == proxy->rules.end()) return error_response(404, "toxic not found");
    return json_response(200, rules::rule_to_json(*rule));
}

HttpResponse Api::update_toxic(const RoutedRequest& request) {
    return change_toxics(request, [&](std::vector<rules::Rule>& rules) {
        auto rule = find_rule(rules, request.parameter("toxic"));
        if (rule == rules.end()) return error_response(404, "toxic not found");
        HttpResponse error;
        auto body = body_of(request.http, error);
        if (!body) return error;
        if (!body->is_object()) return error_response(400, "bad request body: expected an object");
        // An update merges the attributes it names and keeps what it leaves out; name, type and
        // stream cannot change.
        json merged = rules::rule_to_json(*rule);
        if (body->contains("attributes") && (*body)["attributes"].is_object()) {
            for (const auto& [key, value] : (*body)["attributes"].items()) {
                merged["attributes"][key] = value;
            }
        }
        for (const char* key : {"toxicity", "enabled", "match"}) {
            if (body->contains(key) && !(*body)[key].is_null()) merged[key] = (*body)[key];
        }
        auto parsed = rules::parse_rule_json(merged);
        if (!parsed.rule) return toxic_error(parsed.errors);
        *rule = *parsed.rule;
        return json_response(200, rules::rule_to_json(*rule));
    });
}

HttpResponse Api::delete_toxic(const RoutedRequest& request) {
    return change_toxics(request, [&](std::vector<rules::Rule>& rules) {
        auto rule = find_rule(rules, request.parameter("toxic"));
        if (rule == rules.end()) return error_response(404, "toxic not found");
        rules.erase(rule);
        return no_content();
    });
}

}  // namespace faultline::control
