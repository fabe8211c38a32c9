// `faultline ctl`: one function per command, each a few calls of the API client and a table.
#include "cli/ctl.hpp"

#include <cstdlib>
#include <functional>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "cli/api_client.hpp"
#include "cli/table.hpp"

namespace faultline::cli {
namespace {

using nlohmann::json;
using Failure = ApiClient::Failure;

constexpr std::string_view ctl_usage = R"(usage: faultline ctl [--url URL] [--json] COMMAND

The API's address comes from --url, else $FAULTLINE_URL, else http://127.0.0.1:8474.

commands:
  list                                  proxies with their toxics
  inspect PROXY                         one proxy and its toxics
  create PROXY --listen ADDR --upstream ADDR [--disabled]
  delete PROXY
  toggle PROXY                          disable an enabled proxy, enable a disabled one
  toxic add PROXY --type TYPE [--name N] [--stream upstream|downstream] [--toxicity X] [-a KEY=VALUE]...
  toxic update PROXY TOXIC [--toxicity X] [-a KEY=VALUE]...
  toxic remove PROXY TOXIC
  toxic enable PROXY TOXIC | toxic disable PROXY TOXIC
  conns                                 live connections
  kill ID                               end a connection (Xlate Clear)
  events [--follow]                     recent teardown records; --follow prints each new one as
                                        it happens, until interrupted
  metrics                               Prometheus text
)";

// A command's arguments: positional words, --flags (with a value, or on/off), -a KEY=VALUE.
struct Options {
    std::vector<std::string> positional;
    std::map<std::string, std::string> flags;
    json attributes = json::object();

    // The positional word at `index`; Failure naming `what` when it is missing.
    [[nodiscard]] const std::string& need(std::size_t index, std::string_view what) const {
        if (index >= positional.size()) throw Failure("missing " + std::string(what));
        return positional[index];
    }
    [[nodiscard]] bool has(const std::string& flag) const { return flags.contains(flag); }
};

// What every command works with.
struct Ctl {
    const ApiClient& api;
    const Options& options;
    bool as_json;

    // Prints an API answer as it is (--json), or pretty.
    void print(const json& value) const { std::cout << value.dump(as_json ? -1 : 2) << '\n'; }
};

std::string cell(const json& value) {
    if (value.is_string()) return value.get<std::string>();
    if (value.is_null()) return "-";
    return value.dump();
}

void print_table(const TableRow& header, const std::vector<TableRow>& rows) {
    std::cout << format_table(header, rows);
}

void print_toxics(const json& toxics) {
    std::vector<TableRow> rows;
    for (const auto& toxic : toxics) {
        rows.push_back({cell(toxic["name"]), cell(toxic["type"]), cell(toxic["stream"]),
                        cell(toxic["toxicity"]), cell(toxic.value("enabled", true)),
                        toxic["attributes"].dump()});
    }
    print_table({"TOXIC", "TYPE", "STREAM", "TOXICITY", "ENABLED", "ATTRIBUTES"}, rows);
}

// "-a latency=100": integers and booleans as such, anything else a string.
json attribute_value(const std::string& text) {
    if (text == "true") return true;
    if (text == "false") return false;
    char* end = nullptr;
    long long number = std::strtoll(text.c_str(), &end, 10);
    if (!text.empty() && end && *end == '\0') return number;
    return text;
}

const TableRow event_header{"ID", "PROXY", "REASON", "BY", "CLIENT", "SERVER", "DURATION", "RULE"};

TableRow event_row(const json& r) {
    return {cell(r["id"]),
            cell(r["proxy"]),
            cell(r["reason"]),
            cell(r["initiator"]),
            cell(r["client"]["address"]) + "[" + cell(r["client"]["state"]) + "]",
            cell(r["server"]["address"]) + "[" + cell(r["server"]["state"]) + "]",
            cell(r["duration_ms"]) + "ms",
            cell(r["rule"])};
}

Options parse_options(const std::vector<std::string_view>& args) {
    Options options;
    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string arg(args[i]);
        if (arg == "--disabled" || arg == "--follow") {
            options.flags[arg] = "true";
        } else if (arg == "-a" || arg == "--attribute") {
            if (i + 1 >= args.size()) throw Failure("-a needs KEY=VALUE");
            std::string pair(args[++i]);
            auto equals = pair.find('=');
            if (equals == std::string::npos) {
                throw Failure("-a needs KEY=VALUE, got '" + pair + "'");
            }
            options.attributes[pair.substr(0, equals)] = attribute_value(pair.substr(equals + 1));
        } else if (arg.starts_with("--")) {
            static const std::set<std::string> with_value{"--listen", "--upstream", "--type",
                                                          "--name",   "--stream",   "--toxicity"};
            if (!with_value.contains(arg)) throw Failure("unknown option '" + arg + "'");
            if (i + 1 >= args.size()) throw Failure(arg + " needs a value");
            options.flags[arg] = std::string(args[++i]);
        } else {
            options.positional.push_back(arg);
        }
    }
    return options;
}

// ---------------------------------------------------------------------------------------------
// The commands.

int list_proxies(const Ctl& ctl) {
    json proxies = ctl.api.call("GET", "/proxies");
    if (ctl.as_json) return ctl.print(proxies), 0;
    std::vector<TableRow> rows;
    for (const auto& [name, proxy] : proxies.items()) {
        rows.push_back({name, cell(proxy["listen"]), cell(proxy["upstream"]),
                        cell(proxy["enabled"]), std::to_string(proxy["toxics"].size())});
    }
    print_table({"PROXY", "LISTEN", "UPSTREAM", "ENABLED", "TOXICS"}, rows);
    return 0;
}

int inspect(const Ctl& ctl) {
    json proxy = ctl.api.call("GET", "/proxies/" + ctl.options.need(0, "PROXY"));
    if (ctl.as_json) return ctl.print(proxy), 0;
    std::cout << "proxy " << cell(proxy["name"]) << ": " << cell(proxy["listen"]) << " -> "
              << cell(proxy["upstream"]) << (proxy["enabled"] == true ? "" : " (disabled)") << '\n';
    print_toxics(proxy["toxics"]);
    return 0;
}

int create(const Ctl& ctl) {
    const Options& options = ctl.options;
    json body{{"name", options.need(0, "PROXY")},
              {"upstream", options.has("--upstream") ? options.flags.at("--upstream") : ""},
              {"enabled", !options.has("--disabled")}};
    if (options.has("--listen")) body["listen"] = options.flags.at("--listen");
    json proxy = ctl.api.call("POST", "/proxies", body.dump());
    if (ctl.as_json) return ctl.print(proxy), 0;
    std::cout << "created proxy " << cell(proxy["name"]) << " on " << cell(proxy["listen"]) << '\n';
    return 0;
}

int remove_proxy(const Ctl& ctl) {
    (void)ctl.api.call("DELETE", "/proxies/" + ctl.options.need(0, "PROXY"));
    if (!ctl.as_json) std::cout << "deleted proxy " << ctl.options.positional[0] << '\n';
    return 0;
}

int toggle(const Ctl& ctl) {
    const std::string& name = ctl.options.need(0, "PROXY");
    json proxy = ctl.api.call("GET", "/proxies/" + name);
    json body{{"enabled", proxy["enabled"] != true}};
    json updated = ctl.api.call("POST", "/proxies/" + name, body.dump());
    if (ctl.as_json) return ctl.print(updated), 0;
    std::cout << "proxy " << name << (updated["enabled"] == true ? " enabled" : " disabled")
              << '\n';
    return 0;
}

// The body of `toxic add` and `toxic update`: what the options set.
json toxic_body(const Options& options, bool is_add) {
    json body = json::object();
    if (is_add) {
        body["type"] = options.has("--type") ? options.flags.at("--type") : "";
        body["attributes"] = options.attributes;
        if (options.has("--name")) body["name"] = options.flags.at("--name");
        if (options.has("--stream")) body["stream"] = options.flags.at("--stream");
    } else if (!options.attributes.empty()) {
        body["attributes"] = options.attributes;
    }
    if (options.has("--toxicity")) body["toxicity"] = std::stod(options.flags.at("--toxicity"));
    return body;
}

int toxic(const Ctl& ctl) {
    const Options& options = ctl.options;
    std::string action = options.need(0, "toxic action (add, update, remove, enable, disable)");
    std::string base = "/proxies/" + options.need(1, "PROXY") + "/toxics";
    json result;
    if (action == "add") {
        result = ctl.api.call("POST", base, toxic_body(options, true).dump());
    } else {
        std::string path = base + "/" + options.need(2, "TOXIC");
        if (action == "remove") {
            (void)ctl.api.call("DELETE", path);
            if (!ctl.as_json) std::cout << "removed toxic " << options.positional[2] << '\n';
            return 0;
        }
        json body;
        if (action == "enable" || action == "disable") {
            body = {{"enabled", action == "enable"}};
        } else if (action == "update") {
            body = toxic_body(options, false);
        } else {
            throw Failure("unknown toxic action '" + action + "'");
        }
        result = ctl.api.call("PATCH", path, body.dump());
    }
    if (ctl.as_json) return ctl.print(result), 0;
    print_toxics(json::array({result}));
    return 0;
}

int conns(const Ctl& ctl) {
    json list = ctl.api.call("GET", "/connections");
    if (ctl.as_json) return ctl.print(list), 0;
    std::vector<TableRow> rows;
    for (const auto& c : list) {
        std::string rules;
        for (const auto& r : c["rules"])
            rules += (rules.empty() ? "" : ",") + cell(r);
        rows.push_back({cell(c["id"]), cell(c["proxy"]), cell(c["client"]), cell(c["upstream"]),
                        cell(c["age_ms"]) + "ms", cell(c["bytes_up"]), cell(c["bytes_down"]),
                        rules.empty() ? "-" : rules});
    }
    print_table({"ID", "PROXY", "CLIENT", "UPSTREAM", "AGE", "UP", "DOWN", "RULES"}, rows);
    return 0;
}

int kill_connection(const Ctl& ctl) {
    (void)ctl.api.call("DELETE", "/connections/" + ctl.options.need(0, "ID"));
    if (!ctl.as_json) std::cout << "killed connection " << ctl.options.positional[0] << '\n';
    return 0;
}

// `events --follow`: each record as it happens, until the API closes the stream or the user
// interrupts. Rows cannot be measured in advance, so the columns have fixed minimum widths.
int follow_events(const Ctl& ctl) {
    const std::vector<std::size_t> widths{4, 8, 11, 7, 30, 30, 8};
    auto print_row = [&](const TableRow& row) {
        std::cout << format_row(row, widths) << std::flush;
    };
    ctl.api.follow(
        "/events?follow=1",
        [&] {
            if (!ctl.as_json) print_row(event_header);
        },
        [&](const std::string& line) {
            if (ctl.as_json) {
                std::cout << line << std::endl;
                return;
            }
            json record = json::parse(line, nullptr, false);
            if (record.is_object()) print_row(event_row(record));
        });
    std::cerr << "faultline ctl: the event stream ended\n";
    return 1;
}

int events(const Ctl& ctl) {
    if (ctl.options.has("--follow")) return follow_events(ctl);
    json list = ctl.api.call("GET", "/events");
    if (ctl.as_json) {
        for (const auto& record : list)
            std::cout << record.dump() << '\n';
        return 0;
    }
    std::vector<TableRow> rows;
    for (const auto& record : list)
        rows.push_back(event_row(record));
    print_table(event_header, rows);
    return 0;
}

int metrics(const Ctl& ctl) {
    ApiClient::Answer answer = ctl.api.request("GET", "/metrics");
    if (answer.status != 200) (void)ApiClient::checked(answer);
    std::cout << answer.body;
    return 0;
}

// One line per command.
const std::map<std::string_view, int (*)(const Ctl&)> commands{
    {"list", list_proxies}, {"inspect", inspect}, {"create", create}, {"delete", remove_proxy},
    {"toggle", toggle},     {"toxic", toxic},     {"conns", conns},   {"kill", kill_connection},
    {"events", events},     {"metrics", metrics},
};

}  // namespace

int run_ctl(const std::vector<std::string_view>& args) {
    const char* url_variable = std::getenv("FAULTLINE_URL");
    std::string url = url_variable ? url_variable : "http://127.0.0.1:8474";
    bool as_json = false;
    std::vector<std::string_view> rest;
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--help" || args[i] == "-h") {
            std::cout << ctl_usage;
            return 0;
        }
        if (args[i] == "--json") {
            as_json = true;
        } else if (args[i] == "--url" && i + 1 < args.size()) {
            url = std::string(args[++i]);
        } else {
            rest.push_back(args[i]);
        }
    }
    std::optional<std::string> token;
    if (const char* value = std::getenv("FAULTLINE_TOKEN")) token = value;
    try {
        if (rest.empty()) throw Failure("missing command");
        const Options options = parse_options({rest.begin() + 1, rest.end()});
        auto command = commands.find(rest[0]);
        if (command == commands.end()) {
            throw Failure("unknown command '" + std::string(rest[0]) + "'");
        }
        const ApiClient api(url, token);
        return command->second(Ctl{api, options, as_json});
    } catch (const std::exception& e) {
        std::cerr << "faultline ctl: " << e.what() << '\n';
        return 1;
    }
}

}  // namespace faultline::cli
