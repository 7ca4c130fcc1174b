// Ctrl-C as a flag: long loops poll interrupted() and stop cleanly instead of dying mid-write.
#pragma once

namespace mlx {

// Installs a SIGINT handler that sets the flag (a second Ctrl-C while the flag is set exits at once, code 130).
void install_interrupt_handler();
bool interrupted();
void clear_interrupt();

}  // namespace mlx
