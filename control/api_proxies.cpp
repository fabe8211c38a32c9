// The handlers of Toxiproxy's routes: proxies and their toxics (faultline's rules), populate and
// reset. Each change is a new configuration applied through ControlPlane.
#include <algorithm>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "control/api.hpp"
#include "control/json_answers.hpp"
#include "rules/rule.hpp"

namespace faultline::control {
namespace {

using nlohmann::json;

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

// An upstream that comes back into faultline (the proxy itself, the API): the 400's message.
std::optional<std::string> upstream_error(const rules::ProxyConfig& proxy,
                                          const rules::Config& running,
                                          const std::string& suffix = "") {
    auto problem = rules::upstream_problem(proxy.upstream, proxy.listen, running.api.listen);
    if (!problem) return std::nullopt;
    return "bad request body: upstream " + *problem + suffix;
}

// Adds a member whose key is known to be new. ordered_json's operator[] looks through the members
// one by one, which for each proxy of a long list costs time quadratic in their number.
void append_member(nlohmann::ordered_json& object, const std::string& key,
                   nlohmann::ordered_json value) {
    using Members = std::vector<std::pair<const std::string, nlohmann::ordered_json>>;
    static_cast<Members&>(object.get_ref<nlohmann::ordered_json::object_t&>())
        .emplace_back(key, std::move(value));
}

// `config` with the first `count` entries of a populate in it: a new name adds a proxy, a changed
// listen or upstream replaces the proxy of that name, and an entry equal to the proxy it names
// keeps that proxy as it is, with its toxics and its state (Toxiproxy's rule). `is_kept`, when
// given, says which entries were kept. Linear in the proxies and the entries.
rules::Config populated(rules::Config config, const std::vector<rules::ProxyConfig>& entries,
                        std::size_t count, std::vector<bool>* is_kept = nullptr) {
    std::unordered_map<std::string, std::size_t> index;
    index.reserve(config.proxies.size() + count);
    for (std::size_t i = 0; i < config.proxies.size(); ++i)
        index.emplace(config.proxies[i].name, i);
    for (std::size_t i = 0; i < count; ++i) {
        const rules::ProxyConfig& entry = entries[i];
        auto [it, is_new] = index.emplace(entry.name, config.proxies.size());
        bool is_same = false;
        if (is_new) {
            config.proxies.push_back(entry);
        } else {
            rules::ProxyConfig& existing = config.proxies[it->second];
            is_same = existing.listen == entry.listen && existing.upstream == entry.upstream;
            if (!is_same) existing = entry;
        }
        if (is_kept) is_kept->push_back(is_same);
    }
    return config;
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

// ---------------------------------------------------------------------------------------------
// Toxiproxy's proxies.

nlohmann::ordered_json Api::proxy_json(const rules::ProxyConfig& proxy) const {
    return proxy_json(proxy, plane_.listen_address(proxy.name));
}

nlohmann::ordered_json Api::proxy_json(const rules::ProxyConfig& proxy,
                                       const std::string& bound) const {
    std::string listen = bound;
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
    const auto bound = plane_.listen_addresses();
    nlohmann::ordered_json body = nlohmann::ordered_json::object();
    for (const auto& proxy : plane_.config().proxies) {
        auto it = bound.find(proxy.name);
        append_member(body, proxy.name,
                      proxy_json(proxy, it == bound.end() ? std::string() : it->second));
    }
    return json_response(200, body);
}

HttpResponse Api::create_proxy(const RoutedRequest& request) {
    HttpResponse error;
    auto body = body_of(request.http, error);
    if (!body) return error;
    rules::ProxyConfig proxy;
    proxy.settings = plane_.config().defaults;
    if (auto problem = read_proxy_fields(*body, proxy, true)) return error_response(400, *problem);
    if (auto problem = upstream_error(proxy, plane_.config())) return error_response(400, *problem);
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
    const rules::ProxyConfig* current = find_proxy(plane_.config(), name);
    if (!current) return error_response(404, "proxy not found");
    rules::ProxyConfig proxy = *current;
    HttpResponse error;
    auto body = body_of(request.http, error);
    if (!body) return error;
    if (auto problem = read_proxy_fields(*body, proxy, false)) {
        return error_response(400, *problem);
    }
    if (auto problem = upstream_error(proxy, plane_.config())) return error_response(400, *problem);
    rules::ProxyConfig updated = proxy;
    if (auto failure = plane_.apply_to(name, std::move(proxy)))
        return error_response(500, *failure);
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
    wanted.reserve(body->size());
    for (std::size_t i = 0; i < body->size(); ++i) {
        rules::ProxyConfig proxy;
        proxy.settings = plane_.config().defaults;
        const std::string where = " at proxy " + std::to_string(i + 1);
        if (auto problem = read_proxy_fields((*body)[i], proxy, true, where)) {
            return error_response(400, *problem);
        }
        if (auto problem = upstream_error(proxy, plane_.config(), where)) {
            return error_response(400, *problem);
        }
        wanted.push_back(std::move(proxy));
    }
    // As Toxiproxy does, entries take effect in order and the first listen failure stops the
    // rest: the answer is then a 500 that also lists the proxies done so far. Applying them one
    // by one would cost a whole configuration's change per entry; instead all of them are one
    // change, and only when that fails are the first ones applied without the rest, the failing
    // entry found by halving (a failed change leaves everything as it was).
    const rules::Config original = plane_.config();
    std::size_t done = wanted.size();
    std::vector<bool> is_kept;
    std::optional<std::string> failure = plane_.apply(populated(original, wanted, done, &is_kept));
    if (failure) {
        std::size_t good = 0;  // the first `good` entries apply: they are what is running now
        std::size_t bad = done;
        while (bad - good > 1) {
            std::size_t middle = good + (bad - good) / 2;
            if (auto problem = plane_.apply(populated(original, wanted, middle))) {
                bad = middle;
                failure = std::move(problem);
            } else {
                good = middle;
            }
        }
        done = good;
    }
    const auto bound = plane_.listen_addresses();
    std::unordered_map<std::string_view, const rules::ProxyConfig*> running;
    for (const auto& proxy : plane_.config().proxies)
        running.emplace(proxy.name, &proxy);
    auto proxies = nlohmann::ordered_json::array();
    for (std::size_t i = 0; i < done; ++i) {
        const rules::ProxyConfig& proxy = *running.at(wanted[i].name);
        if (!is_kept[i]) remember_listen((*body)[i], wanted[i]);
        auto it = bound.find(proxy.name);
        proxies.push_back(proxy_json(proxy, it == bound.end() ? std::string() : it->second));
    }
    if (failure)
        return json_response(500, {{"error", *failure}, {"status", 500}, {"proxies", proxies}});
    return json_response(201, {{"proxies", proxies}});
}

// ---------------------------------------------------------------------------------------------
// Toxiproxy's toxics: faultline's rules.

template <typename Change>
HttpResponse Api::change_toxics(const RoutedRequest& request, Change change) {
    // Only the proxy concerned is copied and changed: a change to one proxy's toxics costs
    // the same however many proxies there are.
    const std::string& name = request.parameter("proxy");
    const rules::ProxyConfig* current = find_proxy(plane_.config(), name);
    if (!current) return error_response(404, "proxy not found");
    rules::ProxyConfig proxy = *current;
    HttpResponse response = change(proxy.rules);
    if (response.status >= 400) return response;
    if (auto failure = plane_.apply_to(name, std::move(proxy)))
        return error_response(500, *failure);
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
