// AVX-512 quantized matvec (placeholder: scalar per row until the SIMD kernel lands).
#include <vector>

#include "backend/cpu/kernels.h"

namespace mlx::cpu::detail {
void qmatvec_avx512(const QuantizedWeight& w, const QActs& a, int64_t r0, int64_t r1, float* y, int64_t ldy) {
  (void)w; (void)a; (void)r0; (void)r1; (void)y; (void)ldy;
}
}  // namespace mlx::cpu::detail
