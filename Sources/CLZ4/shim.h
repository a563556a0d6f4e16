// liblz4 enters Swift only through this header (Debian: liblz4-dev, pkg-config: liblz4).
#ifndef ENGRAM_CLZ4_SHIM_H
#define ENGRAM_CLZ4_SHIM_H
#include <lz4.h>
#endif
