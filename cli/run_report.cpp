// The run summary as a table, JSON and JUnit XML, and the check of each [[expect]] entry.
#include "cli/run_report.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "cli/table.hpp"

namespace faultline::cli {
namespace {

std::uint64_t value_or_zero(const auto& map, const auto& key) {
    auto it = map.find(key);
    return it == map.end() ? 0 : it->second;
}

// Sums the entries whose proxy is `proxy`, or all of them when no proxy is named.
std::uint64_t sum(const std::map<std::pair<std::string, std::string>, std::uint64_t>& counts,
                  const std::optional<std::string>& proxy, const std::string& second) {
    std::uint64_t total = 0;
    for (const auto& [key, value] : counts) {
        if (key.second == second && (!proxy || key.first == *proxy)) total += value;
    }
    return total;
}

std::string times(std::uint64_t count) {
    return count == 1 ? "once" : std::to_string(count) + " times";
}

std::string command_line(const std::vector<std::string>& command) {
    std::string line;
    for (const auto& word : command) {
        if (!line.empty()) line += ' ';
        line += word;
    }
    return line;
}

// The length of the well-formed UTF-8 sequence at text[i] (1 to 4), or 0 when there is none.
std::size_t utf8_length(std::string_view text, std::size_t i) {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
    const unsigned char lead = byte(i);
    std::size_t length = lead < 0x80                    ? 1
                         : lead >= 0xC2 && lead <= 0xDF ? 2
                         : lead >= 0xE0 && lead <= 0xEF ? 3
                         : lead >= 0xF0 && lead <= 0xF4 ? 4
                                                        : 0;
    if (length == 0 || i + length > text.size()) return 0;
    for (std::size_t k = 1; k < length; ++k) {
        if ((byte(i + k) & 0xC0) != 0x80) return 0;
    }
    // Overlong forms, surrogates and code points above U+10FFFF.
    if ((lead == 0xE0 && byte(i + 1) < 0xA0) || (lead == 0xED && byte(i + 1) > 0x9F) ||
        (lead == 0xF0 && byte(i + 1) < 0x90) || (lead == 0xF4 && byte(i + 1) > 0x8F)) {
        return 0;
    }
    return length;
}

// Text for an XML attribute or element: markup escaped, control characters and bytes that are
// not UTF-8 (command arguments need not be) replaced, so that the file always parses.
std::string xml_escaped(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (static_cast<unsigned char>(c) >= 0x80) {
            const std::size_t length = utf8_length(text, i);
            if (length == 0) {
                out += "\xEF\xBF\xBD";  // U+FFFD
            } else {
                out.append(text.substr(i, length));
                i += length - 1;
            }
            continue;
        }
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            case '\'':
                out += "&apos;";
                break;
            default:
                // XML 1.0 allows no control characters but tab, newline and carriage return.
                if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') {
                    out += ' ';
                } else {
                    out += c;
                }
        }
    }
    return out;
}

std::string seconds(std::uint64_t milliseconds) {
    return fmt::format("{:.3f}", static_cast<double>(milliseconds) / 1000.0);
}

}  // namespace

std::vector<ExpectationResult> check_expectations(
    const std::vector<rules::Expectation>& expectations, const RunCounts& counts) {
    using Kind = rules::Expectation::Kind;
    std::vector<ExpectationResult> results;
    for (const auto& expectation : expectations) {
        ExpectationResult result;
        result.expectation = expectation;
        switch (expectation.kind) {
            case Kind::reason:
                result.actual = sum(counts.teardowns, expectation.proxy, expectation.reason);
                break;
            case Kind::connections:
                result.actual = value_or_zero(counts.connections, *expectation.proxy);
                break;
            case Kind::rule:
                for (const auto& key : expectation.rule_keys)
                    result.actual += value_or_zero(counts.rule_activations, key);
                break;
        }
        if (expectation.kind == Kind::rule) {
            result.met = (result.actual > 0) == expectation.fired;
            result.outcome =
                result.actual == 0 ? "it never fired" : "it fired " + times(result.actual);
        } else {
            result.met = (!expectation.min || result.actual >= *expectation.min) &&
                         (!expectation.max || result.actual <= *expectation.max);
            result.outcome = "saw " + std::to_string(result.actual);
        }
        results.push_back(std::move(result));
    }
    return results;
}

std::size_t RunSummary::unmet_expectations() const {
    return static_cast<std::size_t>(std::count_if(expectations.begin(), expectations.end(),
                                                  [](const auto& r) { return !r.met; }));
}

int RunSummary::exit_status() const {
    if (command_status != 0) return command_status;
    return unmet_expectations() > 0 ? 1 : 0;
}

std::string summary_text(const RunSummary& summary) {
    std::string out = "faultline run: `" + command_line(summary.command) + "` " +
                      summary.command_outcome + " after " + seconds(summary.duration_ms) + "s\n\n";

    std::vector<TableRow> rows;
    for (const auto& proxy : summary.proxies) {
        TableRow first{proxy.name, proxy.address,
                       std::to_string(value_or_zero(summary.counts.connections, proxy.name))};
        bool any = false;
        for (const auto& [key, count] : summary.counts.teardowns) {
            if (key.first != proxy.name) continue;
            if (!any) {
                first.insert(first.end(), {key.second, std::to_string(count)});
                rows.push_back(first);
            } else {
                rows.push_back({"", "", "", key.second, std::to_string(count)});
            }
            any = true;
        }
        if (!any) rows.push_back(first);
    }
    out += format_table({"PROXY", "ADDRESS", "CONNECTIONS", "REASON", "COUNT"}, rows);

    if (!summary.rules.empty()) {
        rows.clear();
        for (const auto& rule : summary.rules) {
            rows.push_back({rule.name, rule.proxy, rule.type,
                            std::to_string(value_or_zero(summary.counts.rule_activations,
                                                         std::pair{rule.proxy, rule.name}))});
        }
        out += "\n" + format_table({"RULE", "PROXY", "TYPE", "FIRED"}, rows);
    }

    if (!summary.expectations.empty()) {
        rows.clear();
        for (const auto& result : summary.expectations) {
            rows.push_back({result.expectation.describe(),
                            (result.met ? "met: " : "NOT MET: ") + result.outcome,
                            result.expectation.where});
        }
        out += "\n" + format_table({"EXPECTATION", "RESULT", "WHERE"}, rows);
    }

    out += "\n";
    if (summary.command_status != 0) {
        out += "faultline run: failed: the command " + summary.command_outcome + "\n";
    } else if (auto unmet = summary.unmet_expectations(); unmet > 0) {
        out += fmt::format("faultline run: failed: {} of {} expectations not met\n", unmet,
                           summary.expectations.size());
    } else {
        out += "faultline run: passed\n";
    }
    return out;
}

nlohmann::ordered_json report_json(const RunSummary& summary) {
    auto proxies = nlohmann::ordered_json::array();
    for (const auto& proxy : summary.proxies) {
        auto reasons = nlohmann::ordered_json::object();
        for (const auto& [key, count] : summary.counts.teardowns) {
            if (key.first == proxy.name) reasons[key.second] = count;
        }
        proxies.push_back({{"name", proxy.name},
                           {"address", proxy.address},
                           {"connections", value_or_zero(summary.counts.connections, proxy.name)},
                           {"teardowns", reasons}});
    }
    auto rules = nlohmann::ordered_json::array();
    for (const auto& rule : summary.rules) {
        rules.push_back({{"proxy", rule.proxy},
                         {"rule", rule.name},
                         {"type", rule.type},
                         {"fired", value_or_zero(summary.counts.rule_activations,
                                                 std::pair{rule.proxy, rule.name})}});
    }
    auto expectations = nlohmann::ordered_json::array();
    for (const auto& result : summary.expectations) {
        expectations.push_back({{"expectation", result.expectation.describe()},
                                {"where", result.expectation.where},
                                {"met", result.met},
                                {"actual", result.actual},
                                {"outcome", result.outcome}});
    }
    return {{"passed", summary.exit_status() == 0},
            {"exit_status", summary.exit_status()},
            {"command", summary.command},
            {"command_status", summary.command_status},
            {"command_outcome", summary.command_outcome},
            {"duration_ms", summary.duration_ms},
            {"proxies", proxies},
            {"rules", rules},
            {"expectations", expectations}};
}

// One test suite: the command is one test case and each expectation another.
std::string report_junit(const RunSummary& summary) {
    const std::size_t tests = 1 + summary.expectations.size();
    const std::size_t failures =
        (summary.command_status != 0 ? 1 : 0) + summary.unmet_expectations();
    const std::string time = seconds(summary.duration_ms);
    std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    out += fmt::format(
        "<testsuites name=\"faultline run\" tests=\"{}\" failures=\"{}\" time=\"{}\">\n", tests,
        failures, time);
    out += fmt::format(
        "  <testsuite name=\"faultline run\" tests=\"{}\" failures=\"{}\" errors=\"0\" "
        "time=\"{}\">\n",
        tests, failures, time);
    out += fmt::format(R"(    <testcase classname="faultline.command" name="{}" time="{}")",
                       xml_escaped(command_line(summary.command)), time);
    if (summary.command_status != 0) {
        out += fmt::format(">\n      <failure message=\"the command {}\"/>\n    </testcase>\n",
                           xml_escaped(summary.command_outcome));
    } else {
        out += "/>\n";
    }
    for (const auto& result : summary.expectations) {
        out += fmt::format(R"(    <testcase classname="faultline.expect" name="{}")",
                           xml_escaped(result.expectation.describe()));
        if (result.met) {
            out += "/>\n";
        } else {
            out += fmt::format(
                ">\n      <failure message=\"{}\">{}: expected {}; {}</failure>\n    "
                "</testcase>\n",
                xml_escaped(result.outcome), xml_escaped(result.expectation.where),
                xml_escaped(result.expectation.describe()), xml_escaped(result.outcome));
        }
    }
    out += "  </testsuite>\n</testsuites>\n";
    return out;
}

}  // namespace faultline::cli
