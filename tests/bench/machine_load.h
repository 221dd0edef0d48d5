#pragma once

// How busy the whole (shared) machine is, for the benchmarks to print beside
// their figures: the noise to read them with.

#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <string>

namespace ycr::bench {

// Busy CPU seconds of the whole machine so far (0 if /proc/stat is
// unreadable): user + nice + system + irq + softirq + steal.
inline double MachineBusySeconds() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  uint64_t user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0,
           softirq = 0, steal = 0;
  if (!(in >> cpu >> user >> nice >> system >> idle >> iowait >> irq >>
        softirq >> steal) ||
      cpu != "cpu") {
    return 0;
  }
  return static_cast<double>(user + nice + system + irq + softirq + steal) /
         sysconf(_SC_CLK_TCK);
}

}  // namespace ycr::bench
