# Turns the dashboard page into a C++ source, so that the binary serves it with no file beside it.
# Usage: cmake -DINPUT=page.html -DOUTPUT=page.cpp -P embed.cmake
file(READ "${INPUT}" content)
string(FIND "${content}" ")faultline_page\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${INPUT} contains the raw string's delimiter")
endif()
file(WRITE "${OUTPUT}"
  "// Generated from ${INPUT} by cmake/embed.cmake; edit the page, not this file.\n"
  "#include \"control/dashboard.hpp\"\n\n"
  "namespace faultline::control {\n\n"
  "std::string_view dashboard_page() {\n"
  "    static constexpr std::string_view page = R\"faultline_page(${content})faultline_page\";\n"
  "    return page;\n"
  "}\n\n"
  "}  // namespace faultline::control\n")
