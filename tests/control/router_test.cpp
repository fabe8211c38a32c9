// The route table's matching, without a server.
#include "control/router.hpp"

#include <doctest/doctest.h>

namespace faultline::control {
namespace {

struct Owner {
    HttpResponse named(const RoutedRequest& request) {
        return {
            200, request.parameter("proxy") + "/" + request.parameter("toxic"), "text/plain", {}};
    }
    HttpResponse root(const RoutedRequest&) { return {200, "root", "text/plain", {}}; }
};

HttpRequest request(std::string method, std::string path) {
    HttpRequest http;
    http.method = std::move(method);
    http.path = std::move(path);
    return http;
}

const Router<Owner> router({
    {"GET", "/", &Owner::root},
    {"GET", "/proxies/{proxy}/toxics/{toxic}", &Owner::named},
    {"DELETE", "/proxies/{proxy}/toxics/{toxic}", &Owner::named},
});

}  // namespace

TEST_SUITE("control/router") {
    TEST_CASE("a pattern's {name} segments each capture one non-empty path segment") {
        Owner owner;
        CHECK(router.dispatch(owner, request("GET", "/proxies/pg/toxics/lag")).body == "pg/lag");
        CHECK(router.dispatch(owner, request("DELETE", "/proxies/a.b/toxics/c-d")).body ==
              "a.b/c-d");
        CHECK(router.dispatch(owner, request("GET", "/")).body == "root");
        CHECK(router.dispatch(owner, request("GET", "/proxies//toxics/lag")).status == 404);
        CHECK(router.dispatch(owner, request("GET", "/proxies/pg/toxics/")).status == 404);
        CHECK(router.dispatch(owner, request("GET", "/proxies/pg/toxics/lag/more")).status == 404);
    }

    TEST_CASE("a path that no route matches is 404; one matched under another method is 405") {
        Owner owner;
        auto missing = router.dispatch(owner, request("GET", "/nothing"));
        CHECK(missing.status == 404);
        CHECK(missing.body == R"({"error":"not found","status":404})");
        auto wrong = router.dispatch(owner, request("PUT", "/proxies/pg/toxics/lag"));
        CHECK(wrong.status == 405);
        CHECK(wrong.body == R"({"error":"method not allowed","status":405})");
        CHECK(router.dispatch(owner, request("POST", "/")).status == 405);
    }
}

}  // namespace faultline::control
