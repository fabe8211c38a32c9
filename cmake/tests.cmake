# The tests, in tiers, fastest first; `ctest -L <label>` runs one tier:
#   unit     no sockets, no loop, no sleep: faults, teardown, rules (the rule engine on a manual
#            clock), the control API's HTTP handling, CI reports, and the layering check
#   loop     proxy/ on a real libuv loop with real sockets on 127.0.0.1
#   e2e      the built faultline binary, started as a user starts it (and the real Toxiproxy
#            client from npm)
#   browser  the dashboard in headless Chromium (playwright-core from npm)
# tests/ mirrors the source folders: tests/rules/engine_test.cpp tests rules/engine.*.
enable_testing()
include(doctest)

# The loop tier: test files that run a libuv loop.
set(FAULTLINE_LOOP_TESTS
    ${CMAKE_SOURCE_DIR}/tests/proxy/leg_test.cpp
    ${CMAKE_SOURCE_DIR}/tests/proxy/session_test.cpp)

file(GLOB FAULTLINE_UNIT_TESTS CONFIGURE_DEPENDS
     ${CMAKE_SOURCE_DIR}/tests/*_test.cpp
     ${CMAKE_SOURCE_DIR}/tests/faults/*.cpp ${CMAKE_SOURCE_DIR}/tests/teardown/*.cpp
     ${CMAKE_SOURCE_DIR}/tests/rules/*.cpp ${CMAKE_SOURCE_DIR}/tests/control/*.cpp
     ${CMAKE_SOURCE_DIR}/tests/cli/*.cpp ${CMAKE_SOURCE_DIR}/tests/proxy/*.cpp)
list(REMOVE_ITEM FAULTLINE_UNIT_TESTS ${FAULTLINE_LOOP_TESTS})
file(GLOB FAULTLINE_E2E_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/e2e/*.cpp)

# faultline_<tier>_tests: one doctest executable, each of its test cases a ctest test with the
# tier's label and a timeout.
function(faultline_tests tier timeout)
  add_executable(faultline_${tier}_tests ${CMAKE_SOURCE_DIR}/tests/main.cpp ${ARGN})
  target_include_directories(faultline_${tier}_tests PRIVATE ${CMAKE_SOURCE_DIR})
  target_compile_options(faultline_${tier}_tests PRIVATE ${FAULTLINE_WARNINGS})
  target_compile_definitions(faultline_${tier}_tests PRIVATE
      FAULTLINE_BINARY="$<TARGET_FILE:faultline>"
      FAULTLINE_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
  target_link_libraries(faultline_${tier}_tests PRIVATE faultline_cli doctest::doctest
                        Threads::Threads)
  doctest_discover_tests(faultline_${tier}_tests PROPERTIES TIMEOUT ${timeout} LABELS ${tier})
endfunction()

faultline_tests(unit 30 ${FAULTLINE_UNIT_TESTS})
faultline_tests(loop 60 ${FAULTLINE_LOOP_TESTS})
faultline_tests(e2e 60 ${FAULTLINE_E2E_TESTS})
add_dependencies(faultline_e2e_tests faultline)

# Compatibility: the real Toxiproxy client from npm drives the API (tests/compat; `make test`
# installs its node_modules).
find_program(NODE_EXECUTABLE node)
if(NODE_EXECUTABLE AND EXISTS ${CMAKE_SOURCE_DIR}/tests/compat/node_modules/toxiproxy-node-client)
  add_test(NAME "toxiproxy-node-client drives the API unchanged"
           COMMAND ${NODE_EXECUTABLE} --test ${CMAKE_SOURCE_DIR}/tests/compat/toxiproxy_node_client.test.mjs)
  set_tests_properties("toxiproxy-node-client drives the API unchanged" PROPERTIES
                       TIMEOUT 60 LABELS e2e ENVIRONMENT "FAULTLINE_BINARY=$<TARGET_FILE:faultline>")
elseif(DEFINED ENV{CI})
  message(FATAL_ERROR "tests/compat needs node and `npm ci --prefix tests/compat` (make test does both)")
endif()

# The dashboard page in a real headless Chromium, driven by playwright-core from npm (tests/browser;
# `make test` installs Debian's chromium and the node_modules). The screenshot goes to the build
# folder.
find_program(CHROMIUM_EXECUTABLE NAMES chromium chromium-browser)
if(NODE_EXECUTABLE AND CHROMIUM_EXECUTABLE
   AND EXISTS ${CMAKE_SOURCE_DIR}/tests/browser/node_modules/playwright-core)
  add_test(NAME "dashboard page works in a real browser"
           COMMAND ${NODE_EXECUTABLE} --test ${CMAKE_SOURCE_DIR}/tests/browser/dashboard.test.mjs)
  set_tests_properties("dashboard page works in a real browser" PROPERTIES
                       TIMEOUT 120 LABELS browser ENVIRONMENT
                       "FAULTLINE_BINARY=$<TARGET_FILE:faultline>;FAULTLINE_ARTIFACT_DIR=${CMAKE_BINARY_DIR};FAULTLINE_CHROMIUM=${CHROMIUM_EXECUTABLE}")
elseif(DEFINED ENV{CI})
  message(FATAL_ERROR "tests/browser needs node, chromium and `npm ci --prefix tests/browser` "
                      "(make test does all three)")
endif()
