// Reading a proxy's `[[proxy.rule]]` tables into Rules, with the configuration's located errors:
// `chaos.toml:14:9: proxy[0].rule[2].type: unknown fault type 'latncy'; known: ...`.
#pragma once

#include <toml++/toml.h>

#include <string_view>
#include <vector>

#include "rules/rule.hpp"
#include "rules/toml_reader.hpp"

namespace faultline::rules {

// Reads the value of a proxy's `rule` key; `proxy_path` is the proxy's (`proxy[0]`). One Rule per
// table, in file order, and two for stream = "both": `<name>_upstream` then `<name>_downstream`.
// Names must be unique within the proxy after that expansion. Errors go to `reader`.
[[nodiscard]] std::vector<Rule> read_rules(TomlReader& reader, const toml::node& rules,
                                           std::string_view proxy_path);

}  // namespace faultline::rules
