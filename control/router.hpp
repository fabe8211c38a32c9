// The route table's machinery. A route is a method, a path pattern and a handler; a pattern's
// `{name}` segments each match one non-empty path segment and hand it to the handler. A path that
// no pattern matches is a 404; a path that a pattern matches under another method is a 405.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "control/http.hpp"

namespace faultline::control {

// A request with the segments its route's pattern captured.
struct RoutedRequest {
    const HttpRequest& http;
    std::vector<std::pair<std::string_view, std::string>> parameters;

    // The captured segment of that name, empty when the pattern has none.
    [[nodiscard]] const std::string& parameter(std::string_view name) const;
};

// The path patterns match `path`: the captured segments, or false.
[[nodiscard]] bool match_path(std::string_view pattern, std::string_view path,
                              std::vector<std::pair<std::string_view, std::string>>& parameters);

template <typename Owner>
class Router {
  public:
    using Handler = HttpResponse (Owner::*)(const RoutedRequest&);
    struct Route {
        std::string_view method;
        std::string_view pattern;
        Handler handler;
    };

    explicit Router(std::vector<Route> routes) : routes_(std::move(routes)) {}

    [[nodiscard]] HttpResponse dispatch(Owner& owner, const HttpRequest& request) const {
        bool is_known_path = false;
        for (const auto& route : routes_) {
            RoutedRequest routed{request, {}};
            if (!match_path(route.pattern, request.path, routed.parameters)) continue;
            is_known_path = true;
            if (route.method == request.method) return (owner.*route.handler)(routed);
        }
        return is_known_path ? error_response(405, "method not allowed")
                             : error_response(404, "not found");
    }

  private:
    std::vector<Route> routes_;
};

}  // namespace faultline::control
