// The control API's routes, Toxiproxy's v2 API: proxies and their toxics (faultline's rules),
// populate, reset, version, and faultline's health. A change through the API is a new
// configuration applied as a difference, the same path a reloaded file takes, so rules created
// here act on live connections exactly as rules from the file do.
#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "faults/registry.hpp"
#include "cli/app.hpp"
#include "control/dashboard.hpp"
#include "teardown/log.hpp"
#include "rules/config_writer.hpp"
#include "rules/rule.hpp"

namespace faultline::cli {
namespace {

using nlohmann::json;

std::vector<std::string> split_path(const std::string& path) {
    std::vector<std::string> parts;
    std::size_t start = 1;
    while (start <= path.size()) {
        auto end = path.find('/', start);
        if (end == std::string::npos) end = path.size();
        parts.push_back(path.substr(start, end - start));
        start = end + 1;
    }
    return parts;
}

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

rules::ProxyConfig* find_config(rules::Config& config, const std::string& name) {
    for (auto& proxy : config.proxies) {
        if (proxy.name == name) return &proxy;
    }
    return nullptr;
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

}  // namespace

// Prometheus text format.
std::string App::metrics_text() {
    const auto& counters = runtime_->counters();
    std::map<std::string, std::uint64_t> open;
    for (const auto& [id, session] : runtime_->sessions())
        ++open[session->proxy().name()];
    std::string out;
    auto family = [&out](std::string_view name, std::string_view type, std::string_view help) {
        out += "# HELP " + std::string(name) + " " + std::string(help) + "\n# TYPE " +
               std::string(name) + " " + std::string(type) + "\n";
    };
    auto line = [&out](std::string_view name, std::string_view labels, std::uint64_t value) {
        out += std::string(name) + "{" + std::string(labels) + "} " + std::to_string(value) + "\n";
    };
    auto label = [](std::string_view key, std::string_view value) {
        return std::string(key) + "=\"" + std::string(value) + "\"";
    };
    family("faultline_connections_open", "gauge", "Connections open now.");
    for (const auto& proxy : config_.proxies) {
        line("faultline_connections_open", label("proxy", proxy.name), open[proxy.name]);
    }
    family("faultline_connections_total", "counter", "Connections ended.");
    for (const auto& [proxy, value] : counters.connections) {
        line("faultline_connections_total", label("proxy", proxy), value);
    }
    family("faultline_bytes_total", "counter", "Bytes delivered, by direction.");
    for (const auto& [proxy, value] : counters.bytes_up) {
        line("faultline_bytes_total", label("proxy", proxy) + "," + label("direction", "upstream"),
             value);
    }
    for (const auto& [proxy, value] : counters.bytes_down) {
        line("faultline_bytes_total",
             label("proxy", proxy) + "," + label("direction", "downstream"), value);
    }
    family("faultline_teardowns_total", "counter", "Connections ended, by reason.");
    for (const auto& [key, value] : counters.teardowns) {
        line("faultline_teardowns_total",
             label("proxy", key.first) + "," + label("reason", key.second), value);
    }
    family("faultline_rule_activations_total", "counter",
           "Rules that started acting on a connection.");
    for (const auto& [key, value] : counters.rule_activations) {
        line("faultline_rule_activations_total",
             label("proxy", key.first) + "," + label("rule", key.second), value);
    }
    return out;
}

nlohmann::ordered_json App::proxy_json(const rules::ProxyConfig& proxy) {
    Proxy* live = find_proxy(proxy.name);
    std::string listen = proxy.listen.text();
    if (live && !live->listen_address().empty()) {
        listen = live->listen_address();
    } else if (auto given = listen_as_given_.find(proxy.name);
               given != listen_as_given_.end() && given->second.first == proxy.listen) {
        listen = given->second.second;
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

void App::remember_listen(const json& body, const rules::ProxyConfig& proxy) {
    if (body.contains("listen") && body["listen"].is_string()) {
        listen_as_given_[proxy.name] = {proxy.listen, body["listen"].get<std::string>()};
    }
}

std::optional<std::string> App::apply_from_api(rules::Config config) {
    rules::Config previous = config_;
    try {
        apply(std::move(config));
    } catch (const StartupError& e) {
        try {
            apply(std::move(previous));
        } catch (const StartupError&) {
            // The previous state had the same failure; nothing more to restore.
        }
        return e.what();
    }
    return std::nullopt;
}

HttpResponse App::handle_api(const HttpRequest& request) {
    auto parts = split_path(request.path);
    const std::string& method = request.method;
    if (request.path == "/") {
        if (method != "GET") return error_response(405, "method not allowed");
        HttpResponse page{200, std::string(dashboard_page()), "text/html; charset=utf-8", {}};
        // Everything the page needs is inline; it may talk to this API only, and no other site
        // may frame it.
        page.headers.emplace_back("Content-Security-Policy",
                                  "default-src 'none'; script-src 'unsafe-inline'; style-src "
                                  "'unsafe-inline'; img-src data:; connect-src 'self'; "
                                  "frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
        page.headers.emplace_back("Cache-Control", "no-store");
        return page;
    }
    if (parts.size() == 1 && parts[0] == "faults") {
        if (method != "GET") return error_response(405, "method not allowed");
        auto list = nlohmann::ordered_json::array();
        for (const auto& info : faults::fault_types()) {
            list.push_back({{"type", info.type},
                            {"attributes", info.attributes},
                            {"defaults", info.defaults}});
        }
        return json_response(200, list);
    }
    if (parts.size() == 1 && parts[0] == "version") {
        if (method != "GET") return error_response(405, "method not allowed");
        return json_response(200, {{"version", FAULTLINE_VERSION}});
    }
    if (parts.size() == 1 && parts[0] == "healthz") {
        if (method != "GET") return error_response(405, "method not allowed");
        nlohmann::ordered_json health{{"status", "ok"},
                                      {"proxies", proxies_.size()},
                                      {"connections", runtime_->sessions().size()}};
        if (!last_reload_errors_.empty()) health["last_reload_errors"] = last_reload_errors_;
        return json_response(200, health);
    }
    if (parts.size() == 1 && parts[0] == "reset") {
        if (method != "POST") return error_response(405, "method not allowed");
        rules::Config config = config_;
        for (auto& proxy : config.proxies) {
            proxy.enabled = true;
            proxy.rules.clear();
        }
        if (auto error = apply_from_api(std::move(config))) return error_response(500, *error);
        return no_content();
    }
    if (parts.size() == 1 && parts[0] == "populate") {
        if (method != "POST") return error_response(405, "method not allowed");
        return populate(request);
    }
    if (parts.size() == 1 && parts[0] == "connections") {
        if (method != "GET") return error_response(405, "method not allowed");
        auto list = nlohmann::ordered_json::array();
        for (const auto& [id, session] : runtime_->sessions())
            list.push_back(session->describe());
        return json_response(200, list);
    }
    if (parts.size() == 2 && parts[0] == "connections") {
        if (method != "DELETE") return error_response(405, "method not allowed");
        for (const auto& [id, session] : runtime_->sessions()) {
            if (std::to_string(id) != parts[1]) continue;
            session->clear(Reason::xlate_clear);
            return no_content();
        }
        return error_response(404, "connection not found");
    }
    if (parts.size() == 1 && parts[0] == "events") {
        if (method != "GET") return error_response(405, "method not allowed");
        if (request.query == "follow=1" || request.query == "follow=true") {
            HttpResponse stream{200, {}, "application/x-ndjson", {}};
            stream.is_stream = true;
            return stream;
        }
        auto list = nlohmann::ordered_json::array();
        for (const auto& record : runtime_->recent_records())
            list.push_back(record);
        return json_response(200, list);
    }
    if (parts.size() == 1 && parts[0] == "config") {
        if (method != "GET") return error_response(405, "method not allowed");
        return {200, rules::to_toml(config_), "application/toml", {}};
    }
    if (parts.size() == 1 && parts[0] == "metrics") {
        if (method != "GET") return error_response(405, "method not allowed");
        return {200, metrics_text(), "text/plain; version=0.0.4", {}};
    }
    if (!parts.empty() && parts[0] == "proxies" && parts.size() <= 4) {
        return handle_proxies(request, parts);
    }
    return error_response(404, "not found");
}

HttpResponse App::handle_proxies(const HttpRequest& request,
                                 const std::vector<std::string>& parts) {
    const std::string& method = request.method;
    HttpResponse error;
    if (parts.size() == 1) {
        if (method == "GET") {
            nlohmann::ordered_json body = nlohmann::ordered_json::object();
            for (const auto& proxy : config_.proxies)
                body[proxy.name] = proxy_json(proxy);
            return json_response(200, body);
        }
        if (method != "POST") return error_response(405, "method not allowed");
        auto body = body_of(request, error);
        if (!body) return error;
        rules::ProxyConfig proxy;
        proxy.settings = config_.defaults;
        if (auto problem = read_proxy_fields(*body, proxy, true))
            return error_response(400, *problem);
        if (find_config(config_, proxy.name)) return error_response(409, "proxy already exists");
        rules::Config config = config_;
        config.proxies.push_back(proxy);
        if (auto failure = apply_from_api(std::move(config))) return error_response(500, *failure);
        remember_listen(*body, proxy);
        return json_response(201, proxy_json(*find_config(config_, proxy.name)));
    }
    if (parts.size() == 2 && parts[1].empty()) return error_response(404, "not found");
    rules::Config config = config_;
    rules::ProxyConfig* proxy = find_config(config, parts[1]);
    if (!proxy) return error_response(404, "proxy not found");
    if (parts.size() >= 3) {
        if (parts[2] != "toxics") return error_response(404, "not found");
        HttpResponse response = handle_toxics(request, *proxy, parts);
        if (response.status >= 400 || method == "GET") return response;
        if (auto failure = apply_from_api(std::move(config))) return error_response(500, *failure);
        return response;
    }
    if (method == "GET") return json_response(200, proxy_json(*proxy));
    if (method == "DELETE") {
        std::erase_if(config.proxies, [&](const auto& p) { return p.name == parts[1]; });
        (void)apply_from_api(std::move(config));
        listen_as_given_.erase(parts[1]);
        return no_content();
    }
    if (method != "POST" && method != "PATCH") return error_response(405, "method not allowed");
    auto body = body_of(request, error);
    if (!body) return error;
    if (auto problem = read_proxy_fields(*body, *proxy, false))
        return error_response(400, *problem);
    rules::ProxyConfig updated = *proxy;
    if (auto failure = apply_from_api(std::move(config))) return error_response(500, *failure);
    remember_listen(*body, updated);
    return json_response(200, proxy_json(*find_config(config_, parts[1])));
}

// Works on `proxy` (a copy in the configuration the caller applies when the answer is a 2xx).
HttpResponse App::handle_toxics(const HttpRequest& request, rules::ProxyConfig& proxy,
                                const std::vector<std::string>& parts) {
    const std::string& method = request.method;
    HttpResponse error;
    auto& rules = proxy.rules;
    if (parts.size() == 3) {
        if (method == "GET") {
            nlohmann::ordered_json list = proxy_json(proxy)["toxics"];
            return json_response(200, list);
        }
        if (method != "POST") return error_response(405, "method not allowed");
        auto body = body_of(request, error);
        if (!body) return error;
        auto parsed = rules::parse_rule_json(*body);
        if (!parsed.rule) return toxic_error(parsed.errors);
        bool exists = std::any_of(rules.begin(), rules.end(),
                                  [&](const auto& r) { return r.name == parsed.rule->name; });
        if (exists) return error_response(409, "toxic already exists");
        rules.push_back(*parsed.rule);
        return json_response(200, rules::rule_to_json(rules.back()));
    }
    auto rule =
        std::find_if(rules.begin(), rules.end(), [&](const auto& r) { return r.name == parts[3]; });
    if (rule == rules.end()) return error_response(404, "toxic not found");
    if (method == "GET") return json_response(200, rules::rule_to_json(*rule));
    if (method == "DELETE") {
        rules.erase(rule);
        return no_content();
    }
    if (method != "POST" && method != "PATCH") return error_response(405, "method not allowed");
    auto body = body_of(request, error);
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
}

HttpResponse App::populate(const HttpRequest& request) {
    HttpResponse error;
    auto body = body_of(request, error);
    if (!body) return error;
    if (!body->is_array()) return error_response(400, "bad request body: expected an array");
    // Every entry is checked before anything changes.
    std::vector<rules::ProxyConfig> wanted;
    for (std::size_t i = 0; i < body->size(); ++i) {
        rules::ProxyConfig proxy;
        proxy.settings = config_.defaults;
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
        rules::Config config = config_;
        rules::ProxyConfig* existing = find_config(config, proxy.name);
        bool unchanged =
            existing && existing->listen == proxy.listen && existing->upstream == proxy.upstream;
        if (!unchanged) {  // an unchanged one is kept as it is, with its toxics and enabled state
            if (existing) {
                *existing = proxy;
            } else {
                config.proxies.push_back(proxy);
            }
            if (auto failure = apply_from_api(std::move(config))) {
                return json_response(500,
                                     {{"error", *failure}, {"status", 500}, {"proxies", done}});
            }
            remember_listen((*body)[done.size()], proxy);
        }
        done.push_back(proxy_json(*find_config(config_, proxy.name)));
    }
    return json_response(201, {{"proxies", done}});
}

}  // namespace faultline::cli
