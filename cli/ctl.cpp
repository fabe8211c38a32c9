// The ctl commands: a small blocking HTTP client for the API, and the tables it prints.
#include "cli/ctl.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>

#include "cli/table.hpp"

namespace faultline::cli {
namespace {

using nlohmann::json;

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

struct Failure {
    std::string message;
};

struct Answer {
    int status = 0;
    std::string body;
};

// A connected socket with one request sent (Connection: close); throws Failure when the API
// cannot be reached.
int send_request(const std::string& url, std::string_view method, const std::string& path,
                 const std::string& body) {
    std::string rest = url.starts_with("http://") ? url.substr(7) : url;
    if (auto slash = rest.find('/'); slash != std::string::npos) rest.resize(slash);
    auto colon = rest.rfind(':');
    std::string host = colon == std::string::npos ? rest : rest.substr(0, colon);
    std::string port = colon == std::string::npos ? "80" : rest.substr(colon + 1);
    if (host.starts_with('[') && host.ends_with(']')) host = host.substr(1, host.size() - 2);
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (getaddrinfo(host.c_str(), port.c_str(), &hints, &found) != 0 || !found) {
        throw Failure{"cannot resolve " + rest};
    }
    int fd = -1;
    for (addrinfo* ai = found; ai && fd < 0; ai = ai->ai_next) {
        fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
        if (fd >= 0 && ::connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            ::close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(found);
    if (fd < 0) throw Failure{"cannot connect to " + url + ": " + std::strerror(errno)};
    std::string raw = std::string(method) + " " + path + " HTTP/1.1\r\nHost: " + rest +
                      "\r\nConnection: close\r\n";
    if (const char* token = std::getenv("FAULTLINE_TOKEN")) {
        raw += "Authorization: Bearer " + std::string(token) + "\r\n";
    }
    if (!body.empty()) {
        raw += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
               "\r\n";
    }
    raw += "\r\n" + body;
    for (std::size_t sent = 0; sent < raw.size();) {
        ssize_t n = ::send(fd, raw.data() + sent, raw.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) {
            ::close(fd);
            throw Failure{"sending to " + url + " failed"};
        }
        sent += static_cast<std::size_t>(n);
    }
    return fd;
}

// Reads more of the answer into `reply`; false at its end.
bool receive_more(int fd, std::string& reply) {
    char buffer[16384];
    ssize_t n;
    do {
        n = ::recv(fd, buffer, sizeof buffer, 0);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) return false;
    reply.append(buffer, static_cast<std::size_t>(n));
    return true;
}

// The status line and headers taken off `reply`; Failure when it is not HTTP.
int take_head(const std::string& url, std::string& reply) {
    auto split = reply.find("\r\n\r\n");
    if (!reply.starts_with("HTTP/1.1 ") || split == std::string::npos) {
        throw Failure{"no HTTP answer from " + url};
    }
    int status = std::stoi(reply.substr(9, 3));
    reply.erase(0, split + 4);
    return status;
}

// One request, answered in full.
Answer request(const std::string& url, std::string_view method, const std::string& path,
               const std::string& body = {}) {
    int fd = send_request(url, method, path, body);
    std::string reply;
    while (receive_more(fd, reply)) {
    }
    ::close(fd);
    int status = take_head(url, reply);
    return {status, std::move(reply)};
}

// The answer's JSON, or Failure with the API's error message.
json checked(const Answer& answer) {
    json body = answer.body.empty() ? json() : json::parse(answer.body, nullptr, false);
    if (answer.status >= 400) {
        if (body.is_object() && body.contains("error")) {
            throw Failure{body["error"].get<std::string>()};
        }
        throw Failure{"HTTP " + std::to_string(answer.status)};
    }
    return body;
}

std::string cell(const json& value) {
    if (value.is_string()) return value.get<std::string>();
    if (value.is_null()) return "-";
    return value.dump();
}

void print_table(const TableRow& header, const std::vector<TableRow>& rows) {
    std::cout << format_table(header, rows);
}

void print_toxics(const json& toxics) {
    std::vector<std::vector<std::string>> rows;
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

const std::vector<std::string> event_header{"ID",     "PROXY",  "REASON",   "BY",
                                            "CLIENT", "SERVER", "DURATION", "RULE"};

std::vector<std::string> event_row(const json& r) {
    return {cell(r["id"]),
            cell(r["proxy"]),
            cell(r["reason"]),
            cell(r["initiator"]),
            cell(r["client"]["address"]) + "[" + cell(r["client"]["state"]) + "]",
            cell(r["server"]["address"]) + "[" + cell(r["server"]["state"]) + "]",
            cell(r["duration_ms"]) + "ms",
            cell(r["rule"])};
}

// `events --follow`: each record as it happens, until the API closes the stream or the user
// interrupts. Rows cannot be measured in advance, so the columns have fixed minimum widths.
int follow_events(const std::string& url, bool as_json) {
    int fd = send_request(url, "GET", "/events?follow=1", {});
    std::string reply;
    while (reply.find("\r\n\r\n") == std::string::npos) {
        if (!receive_more(fd, reply)) break;
    }
    int status = 0;
    try {
        status = take_head(url, reply);
        if (status != 200) {
            while (receive_more(fd, reply)) {
            }
            checked({status, reply});
        }
    } catch (...) {
        ::close(fd);
        throw;
    }
    const std::vector<std::size_t> widths{4, 8, 11, 7, 30, 30, 8};
    auto print_row = [&](const TableRow& row) {
        std::cout << format_row(row, widths) << std::flush;
    };
    if (!as_json) print_row(event_header);
    for (;;) {
        for (auto newline = reply.find('\n'); newline != std::string::npos;
             newline = reply.find('\n')) {
            std::string line = reply.substr(0, newline);
            reply.erase(0, newline + 1);
            if (as_json) {
                std::cout << line << std::endl;
                continue;
            }
            json record = json::parse(line, nullptr, false);
            if (record.is_object()) print_row(event_row(record));
        }
        if (!receive_more(fd, reply)) break;
    }
    ::close(fd);
    std::cerr << "faultline ctl: the event stream ended\n";
    return 1;
}

struct Options {
    std::vector<std::string> positional;
    std::map<std::string, std::string> flags;
    json attributes = json::object();
};

Options parse_options(const std::vector<std::string_view>& args) {
    Options options;
    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string arg(args[i]);
        if (arg == "--disabled" || arg == "--follow") {
            options.flags[arg] = "true";
        } else if (arg == "-a" || arg == "--attribute") {
            if (i + 1 >= args.size()) throw Failure{"-a needs KEY=VALUE"};
            std::string pair(args[++i]);
            auto equals = pair.find('=');
            if (equals == std::string::npos)
                throw Failure{"-a needs KEY=VALUE, got '" + pair + "'"};
            options.attributes[pair.substr(0, equals)] = attribute_value(pair.substr(equals + 1));
        } else if (arg.starts_with("--")) {
            static const std::set<std::string> with_value{"--listen", "--upstream", "--type",
                                                          "--name",   "--stream",   "--toxicity"};
            if (!with_value.contains(arg)) throw Failure{"unknown option '" + arg + "'"};
            if (i + 1 >= args.size()) throw Failure{arg + " needs a value"};
            options.flags[arg] = std::string(args[++i]);
        } else {
            options.positional.push_back(arg);
        }
    }
    return options;
}

const std::string& need(const Options& options, std::size_t index, std::string_view what) {
    if (index >= options.positional.size()) throw Failure{"missing " + std::string(what)};
    return options.positional[index];
}

int run_command(const std::string& url, bool as_json, const std::vector<std::string_view>& args) {
    if (args.empty()) throw Failure{"missing command"};
    std::string command(args[0]);
    Options options = parse_options({args.begin() + 1, args.end()});
    auto print = [&](const json& value) { std::cout << value.dump(as_json ? -1 : 2) << '\n'; };

    if (command == "list") {
        json proxies = checked(request(url, "GET", "/proxies"));
        if (as_json) return print(proxies), 0;
        std::vector<std::vector<std::string>> rows;
        for (const auto& [name, proxy] : proxies.items()) {
            rows.push_back({name, cell(proxy["listen"]), cell(proxy["upstream"]),
                            cell(proxy["enabled"]), std::to_string(proxy["toxics"].size())});
        }
        print_table({"PROXY", "LISTEN", "UPSTREAM", "ENABLED", "TOXICS"}, rows);
        return 0;
    }
    if (command == "inspect") {
        json proxy = checked(request(url, "GET", "/proxies/" + need(options, 0, "PROXY")));
        if (as_json) return print(proxy), 0;
        std::cout << "proxy " << cell(proxy["name"]) << ": " << cell(proxy["listen"]) << " -> "
                  << cell(proxy["upstream"]) << (proxy["enabled"] == true ? "" : " (disabled)")
                  << '\n';
        print_toxics(proxy["toxics"]);
        return 0;
    }
    if (command == "create") {
        json body{{"name", need(options, 0, "PROXY")},
                  {"upstream", options.flags["--upstream"]},
                  {"enabled", !options.flags.contains("--disabled")}};
        if (options.flags.contains("--listen")) body["listen"] = options.flags["--listen"];
        json proxy = checked(request(url, "POST", "/proxies", body.dump()));
        if (as_json) return print(proxy), 0;
        std::cout << "created proxy " << cell(proxy["name"]) << " on " << cell(proxy["listen"])
                  << '\n';
        return 0;
    }
    if (command == "delete") {
        checked(request(url, "DELETE", "/proxies/" + need(options, 0, "PROXY")));
        if (!as_json) std::cout << "deleted proxy " << options.positional[0] << '\n';
        return 0;
    }
    if (command == "toggle") {
        const std::string& name = need(options, 0, "PROXY");
        json proxy = checked(request(url, "GET", "/proxies/" + name));
        json body{{"enabled", proxy["enabled"] != true}};
        json updated = checked(request(url, "POST", "/proxies/" + name, body.dump()));
        if (as_json) return print(updated), 0;
        std::cout << "proxy " << name << (updated["enabled"] == true ? " enabled" : " disabled")
                  << '\n';
        return 0;
    }
    if (command == "toxic") {
        std::string action =
            need(options, 0, "toxic action (add, update, remove, enable, disable)");
        const std::string& proxy = need(options, 1, "PROXY");
        std::string base = "/proxies/" + proxy + "/toxics";
        json result;
        if (action == "add") {
            json body{{"type", options.flags["--type"]}, {"attributes", options.attributes}};
            if (options.flags.contains("--name")) body["name"] = options.flags["--name"];
            if (options.flags.contains("--stream")) body["stream"] = options.flags["--stream"];
            if (options.flags.contains("--toxicity")) {
                body["toxicity"] = std::stod(options.flags["--toxicity"]);
            }
            result = checked(request(url, "POST", base, body.dump()));
        } else {
            std::string path = base + "/" + need(options, 2, "TOXIC");
            if (action == "remove") {
                checked(request(url, "DELETE", path));
                if (!as_json) std::cout << "removed toxic " << options.positional[2] << '\n';
                return 0;
            }
            json body = json::object();
            if (action == "enable" || action == "disable") {
                body["enabled"] = action == "enable";
            } else if (action == "update") {
                if (!options.attributes.empty()) body["attributes"] = options.attributes;
                if (options.flags.contains("--toxicity")) {
                    body["toxicity"] = std::stod(options.flags["--toxicity"]);
                }
            } else {
                throw Failure{"unknown toxic action '" + action + "'"};
            }
            result = checked(request(url, "PATCH", path, body.dump()));
        }
        if (as_json) return print(result), 0;
        print_toxics(json::array({result}));
        return 0;
    }
    if (command == "conns") {
        json list = checked(request(url, "GET", "/connections"));
        if (as_json) return print(list), 0;
        std::vector<std::vector<std::string>> rows;
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
    if (command == "kill") {
        checked(request(url, "DELETE", "/connections/" + need(options, 0, "ID")));
        if (!as_json) std::cout << "killed connection " << options.positional[0] << '\n';
        return 0;
    }
    if (command == "events") {
        if (options.flags.contains("--follow")) return follow_events(url, as_json);
        json list = checked(request(url, "GET", "/events"));
        if (as_json) {
            for (const auto& record : list)
                std::cout << record.dump() << '\n';
            return 0;
        }
        std::vector<std::vector<std::string>> rows;
        for (const auto& record : list)
            rows.push_back(event_row(record));
        print_table(event_header, rows);
        return 0;
    }
    if (command == "metrics") {
        Answer answer = request(url, "GET", "/metrics");
        if (answer.status != 200) checked(answer);
        std::cout << answer.body;
        return 0;
    }
    throw Failure{"unknown command '" + command + "'"};
}

}  // namespace

int run_ctl(const std::vector<std::string_view>& args) {
    std::string url =
        std::getenv("FAULTLINE_URL") ? std::getenv("FAULTLINE_URL") : "http://127.0.0.1:8474";
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
    try {
        return run_command(url, as_json, rest);
    } catch (const Failure& failure) {
        std::cerr << "faultline ctl: " << failure.message << '\n';
        return 1;
    } catch (const std::exception& e) {
        std::cerr << "faultline ctl: " << e.what() << '\n';
        return 1;
    }
}

}  // namespace faultline::cli
