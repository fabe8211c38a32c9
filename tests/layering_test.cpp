// The dependency direction of the source folders, read from the includes themselves:
//
//   cli -> {control, proxy} -> rules -> {faults, teardown}
//
// Each library's build already fails on an include of a folder it does not link; this test also
// catches what the include path cannot: libuv in control/ or rules/, a third-party library in a
// folder that should not use it, and include cycles between files.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

namespace faultline {
namespace {

namespace fs = std::filesystem;

const fs::path source_root(FAULTLINE_SOURCE_DIR);

// What each folder may include of ours.
const std::map<std::string, std::set<std::string>> allowed_folders{
    {"faults", {"faults"}},
    {"teardown", {"teardown"}},
    {"rules", {"rules", "faults", "teardown"}},
    {"proxy", {"proxy", "rules", "faults", "teardown"}},
    {"control", {"control", "rules", "faults", "teardown"}},
    {"cli", {"cli", "control", "proxy", "rules", "faults", "teardown"}},
};

// Third-party headers and the only folders that may include them.
const std::map<std::string, std::set<std::string>> third_party_owners{
    {"uv.h", {"proxy", "cli"}},
    {"http_parser.h", {"control"}},
    {"toml++/toml.h", {"rules"}},
    {"spdlog/", {"teardown"}},
};

struct Include {
    std::string target;  // as written
    bool is_ours;        // "quoted" rather than <angled>
};

std::vector<Include> includes_of(const fs::path& file) {
    static const std::regex include(R"(^\s*#\s*include\s*([<"])([^>"]+)[>"])");
    std::vector<Include> found;
    std::ifstream in(file);
    std::string line;
    std::smatch match;
    while (std::getline(in, line)) {
        if (std::regex_search(line, match, include)) found.push_back({match[2], match[1] == "\""});
    }
    return found;
}

// Every source file of the folders, by its path relative to the root ("rules/rule.hpp").
std::vector<std::string> source_files() {
    std::vector<std::string> files;
    for (const auto& [folder, allowed] : allowed_folders) {
        for (const auto& entry : fs::directory_iterator(source_root / folder)) {
            auto extension = entry.path().extension();
            if (extension == ".hpp" || extension == ".cpp") {
                files.push_back(folder + "/" + entry.path().filename().string());
            }
        }
    }
    return files;
}

std::string folder_of(const std::string& path) {
    return path.substr(0, path.find('/'));
}

// The first cycle reachable from `file`, as "a -> b -> a"; empty when none.
std::string find_cycle(const std::string& file,
                       const std::map<std::string, std::vector<std::string>>& graph,
                       std::map<std::string, int>& state, std::vector<std::string>& path) {
    state[file] = 1;  // on the current path
    path.push_back(file);
    auto edges = graph.find(file);
    if (edges != graph.end()) {
        for (const auto& next : edges->second) {
            if (state[next] == 1) {
                std::string cycle;
                auto start = std::find(path.begin(), path.end(), next);
                for (auto it = start; it != path.end(); ++it)
                    cycle += *it + " -> ";
                return cycle + next;
            }
            if (state[next] == 0) {
                auto cycle = find_cycle(next, graph, state, path);
                if (!cycle.empty()) return cycle;
            }
        }
    }
    state[file] = 2;  // done
    path.pop_back();
    return {};
}

}  // namespace

TEST_SUITE("layering") {
    TEST_CASE("each folder includes only the folders below it") {
        for (const auto& file : source_files()) {
            const auto& allowed = allowed_folders.at(folder_of(file));
            for (const auto& include : includes_of(source_root / file)) {
                if (!include.is_ours) continue;
                INFO(file << " includes \"" << include.target << "\"");
                CHECK(allowed.contains(folder_of(include.target)));
            }
        }
    }

    TEST_CASE("libuv and the other libraries stay in the folders that own them") {
        for (const auto& file : source_files()) {
            for (const auto& include : includes_of(source_root / file)) {
                if (include.is_ours) continue;
                for (const auto& [library, owners] : third_party_owners) {
                    if (!include.target.starts_with(library)) continue;
                    INFO(file << " includes <" << include.target << ">");
                    CHECK(owners.contains(folder_of(file)));
                }
            }
        }
    }

    TEST_CASE("no two files include each other, directly or through others") {
        std::map<std::string, std::vector<std::string>> graph;
        const auto files = source_files();
        const std::set<std::string> known(files.begin(), files.end());
        for (const auto& file : files) {
            for (const auto& include : includes_of(source_root / file)) {
                if (include.is_ours && known.contains(include.target)) {
                    graph[file].push_back(include.target);
                }
            }
        }
        std::map<std::string, int> state;
        for (const auto& file : files) {
            std::vector<std::string> path;
            if (state[file] == 0) {
                auto cycle = find_cycle(file, graph, state, path);
                INFO(cycle);
                CHECK(cycle.empty());
            }
        }
    }
}

}  // namespace faultline
