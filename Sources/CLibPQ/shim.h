// libpq enters Swift only through this header (Debian: libpq-dev, pkg-config: libpq).
#ifndef ENGRAM_CLIBPQ_SHIM_H
#define ENGRAM_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#endif
