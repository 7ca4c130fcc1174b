// Peak memory of this process, the figure our stats print where mlx_lm prints mx.get_peak_memory().
#pragma once

namespace mlx::runtime {

// Peak resident set size in GB (1e9 bytes), from /proc/self/status VmHWM, falling back to getrusage.
double peak_memory_gb();

}  // namespace mlx::runtime
