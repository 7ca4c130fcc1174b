# Third-party libraries, all from Debian 12 packages installed by scripts/setup.
find_package(Threads REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_package(fmt REQUIRED)
find_package(CLI11 CONFIG QUIET)
if(NOT TARGET CLI11::CLI11)
  add_library(CLI11::CLI11 INTERFACE IMPORTED)   # header-only; Debian's package ships the header
endif()
find_package(PkgConfig REQUIRED)
pkg_check_modules(ZSTD REQUIRED IMPORTED_TARGET libzstd)
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)
pkg_check_modules(UTF8PROC REQUIRED IMPORTED_TARGET libutf8proc)
pkg_check_modules(LIBEDIT REQUIRED IMPORTED_TARGET libedit)
pkg_check_modules(OPENBLAS REQUIRED IMPORTED_TARGET openblas)

# Short aliases so module CMakeLists read `DEPS zstd pcre2-8 utf8proc edit openblas`.
foreach(pair "zstd;ZSTD" "pcre2-8;PCRE2" "utf8proc;UTF8PROC" "edit;LIBEDIT" "openblas;OPENBLAS")
  list(GET pair 0 alias)
  list(GET pair 1 pkg)
  add_library(${alias} INTERFACE IMPORTED)
  target_link_libraries(${alias} INTERFACE PkgConfig::${pkg})
endforeach()
