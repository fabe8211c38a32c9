// The API's answers and request bodies in JSON, as its handlers write and read them, with the
// messages Toxiproxy answers for a bad body.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "control/http.hpp"

namespace faultline::control {

inline HttpResponse json_response(int status, const nlohmann::ordered_json& body) {
    return {status, body.dump(), "application/json", {}};
}

inline HttpResponse no_content() {
    return {204, {}, "application/json", {}};
}

// The request body as JSON, or the 400 Toxiproxy answers.
inline std::optional<nlohmann::json> body_of(const HttpRequest& request, HttpResponse& error) {
    if (request.body.empty()) {
        error = error_response(400, "bad request body: empty body");
        return std::nullopt;
    }
    try {
        return nlohmann::json::parse(request.body);
    } catch (const nlohmann::json::parse_error& e) {
        error = error_response(400, std::string("bad request body: ") + e.what());
        return std::nullopt;
    }
}

}  // namespace faultline::control
