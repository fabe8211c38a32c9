// Writing a Config as TOML.
#include "rules/config_writer.hpp"

#include <nlohmann/json.hpp>

namespace faultline::rules {
namespace {

// A TOML basic string: JSON's escapes are TOML's.
std::string toml_string(std::string_view text) {
    return nlohmann::json(std::string(text)).dump();
}

std::string inline_value(const nlohmann::ordered_json& value) {
    if (value.is_object()) {
        std::string out = "{ ";
        bool first = true;
        for (const auto& [key, item] : value.items()) {
            out += (first ? "" : ", ") + key + " = " + inline_value(item);
            first = false;
        }
        return out + (first ? "}" : " }");
    }
    if (value.is_array()) {
        std::string out = "[";
        for (std::size_t i = 0; i < value.size(); ++i) {
            out += (i ? ", " : "") + inline_value(value[i]);
        }
        return out + "]";
    }
    return value.dump();  // strings, numbers and booleans read the same in TOML
}

std::string cidr_list(const std::vector<Cidr>& list) {
    std::string out = "[";
    for (std::size_t i = 0; i < list.size(); ++i)
        out += (i ? ", " : "") + toml_string(list[i].text());
    return out + "]";
}

void write_settings(std::string& out, const ProxySettings& settings) {
    out += "connect_timeout = " + toml_string(format_duration(settings.connect_timeout)) + "\n";
    out += "half_closed_timeout = " + toml_string(format_duration(settings.half_closed_timeout)) +
           "\n";
    out += "idle_timeout = " + toml_string(format_duration(settings.idle_timeout)) + "\n";
    out += "inside = " + toml_string(side_name(settings.inside)) + "\n";
    out += "buffer_limit = " + std::to_string(settings.buffer_limit) + "\n";
}

void write_rule(std::string& out, const Rule& rule) {
    auto json = rule_to_json(rule);
    out += "\n  [[proxy.rule]]\n";
    out += "  name = " + toml_string(rule.name) + "\n";
    out += "  type = " + toml_string(rule.type()) + "\n";
    out += "  stream = " + toml_string(stream_name(rule.stream)) + "\n";
    out += "  toxicity = " + nlohmann::json(rule.toxicity).dump() + "\n";
    out += "  enabled = " + std::string(rule.enabled ? "true" : "false") + "\n";
    out += "  attributes = " + inline_value(json["attributes"]) + "\n";
    if (json.contains("match")) out += "  match = " + inline_value(json["match"]) + "\n";
}

}  // namespace

std::string to_toml(const Config& config) {
    std::string out = "# faultline configuration, as running\n";
    if (config.seed) out += "seed = " + std::to_string(*config.seed) + "\n";
    out += "\n[api]\nlisten = " + toml_string(config.api.listen.text()) + "\n";
    if (config.api.token) out += "# token = \"...\"  (set; not shown)\n";
    out += "\n[log]\nlevel = " + toml_string(config.log.level) + "\n";
    out += "format = " + toml_string(config.log.format == LogFormat::json ? "json" : "text") + "\n";
    if (config.log.file) out += "file = " + toml_string(*config.log.file) + "\n";
    out += "\n[defaults]\n";
    write_settings(out, config.defaults);
    for (const auto& proxy : config.proxies) {
        out += "\n[[proxy]]\nname = " + toml_string(proxy.name) + "\n";
        out += "listen = " + toml_string(proxy.listen.text()) + "\n";
        out += "upstream = " + toml_string(proxy.upstream.text()) + "\n";
        out += "enabled = " + std::string(proxy.enabled ? "true" : "false") + "\n";
        if (!proxy.allow.empty()) out += "allow = " + cidr_list(proxy.allow) + "\n";
        if (!proxy.deny.empty()) out += "deny = " + cidr_list(proxy.deny) + "\n";
        write_settings(out, proxy.settings);
        for (const auto& rule : proxy.rules)
            write_rule(out, rule);
    }
    return out;
}

}  // namespace faultline::rules
