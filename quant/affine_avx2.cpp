#include "quant/affine_kernels.h"
namespace mlx::quant::detail {
void affine_rows_avx2(const AffineJob& job, int64_t r0, int64_t r1) { affine_rows_scalar(job, r0, r1); }
}
