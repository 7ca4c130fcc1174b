// Python str operations on UTF-8 strings (by code point, Unicode-aware where Python is).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mlx::tmpl::pystr {

std::string upper(std::string_view s);
std::string lower(std::string_view s);
std::string title(std::string_view s);       // str.title()
std::string capitalize(std::string_view s);  // str.capitalize()
std::string jinja_title(std::string_view s); // jinja's |title: words split at [-\s({\[<]
// strip/lstrip/rstrip: chars nullopt → Python whitespace.
std::string strip(std::string_view s, const std::optional<std::string>& chars, bool left, bool right);
std::vector<std::string> split(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit);
std::vector<std::string> rsplit(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit);
std::vector<std::string> splitlines(std::string_view s, bool keepends = false);
std::string replace(std::string_view s, std::string_view old, std::string_view with, int64_t count, size_t limit);
size_t count(std::string_view s, std::string_view sub);
size_t length(std::string_view s);  // code points
bool is_alnum_cp(uint32_t c);
bool all_of(std::string_view s, bool (*pred)(uint32_t));
bool is_alpha_cp(uint32_t c);
bool is_digit_cp(uint32_t c);
bool is_upper_cp(uint32_t c);
bool is_lower_cp(uint32_t c);

}  // namespace mlx::tmpl::pystr
