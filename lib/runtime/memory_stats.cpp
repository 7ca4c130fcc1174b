#include "runtime/memory_stats.h"

#include <sys/resource.h>

#include <cstdio>
#include <cstring>

namespace mlx::runtime {

double peak_memory_gb() {
  if (FILE* f = std::fopen("/proc/self/status", "r")) {
    char line[256];
    long kb = -1;
    while (std::fgets(line, sizeof line, f))
      if (std::strncmp(line, "VmHWM:", 6) == 0) {
        std::sscanf(line + 6, "%ld", &kb);
        break;
      }
    std::fclose(f);
    if (kb >= 0) return double(kb) * 1024.0 / 1e9;
  }
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return double(usage.ru_maxrss) * 1024.0 / 1e9;  // ru_maxrss is in KiB on Linux
}

}  // namespace mlx::runtime
