// JSON text byte-identical to Python's json.dump(obj, f, indent=4) (what mlx_lm writes for config.json and the index).
#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace mlx::formats {

// Python rules: ensure_ascii (every char outside 0x20..0x7E as \uXXXX, lower-case hex, surrogate pairs above
// U+FFFF), separators "," and ": " with indentation, empty containers as {} and [], floats as repr() (shortest
// round-trip, "1.0", "1e-05", "1e+16", Infinity/NaN), keys in the object's own order, no trailing newline.
std::string python_json_dump(const nlohmann::ordered_json& value, int indent = 4);

// repr(float) for a double, e.g. 1e-06 -> "1e-06", 1000000.0 -> "1000000.0".
std::string python_float_repr(double v);

}  // namespace mlx::formats
