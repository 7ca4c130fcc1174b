// The shared library's own translation unit: the modules are linked in whole around it.
extern "C" const char* mlxkit_version() { return "0.1.0"; }
