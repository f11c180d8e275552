#include "common/version.h"

#ifndef IW_VERSION
#error "IW_VERSION comes from common/CMakeLists.txt"
#endif

const char *iw_version(void)
{
	return IW_VERSION;
}
