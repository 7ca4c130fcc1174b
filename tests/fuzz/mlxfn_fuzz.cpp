// libFuzzer target: the .mlxfn reader must turn any bytes into a Function or one mlx::Error, and a parsed file must
// re-serialize to bytes that parse to the same Function.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "core/error.h"
#include "formats/mlxfn.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace mx = mlx::formats::mlxfn;
  try {
    mx::Function f = mx::parse(data, size, "fuzz.mlxfn");
    std::string again = mx::serialize(f);
    mx::Function g = mx::parse(reinterpret_cast<const uint8_t*>(again.data()), again.size(), "fuzz.mlxfn");
    if (!(g == f)) std::abort();
  } catch (const mlx::Error&) {
  }
  return 0;
}
