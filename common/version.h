/* The one version of iceway. CMake's project(VERSION) is compiled into common/version.c
 * alone, so every binary, its start-up line, --version and iceway_build_info agree. */
#ifndef IW_COMMON_VERSION_H
#define IW_COMMON_VERSION_H

/* "0.1": the top CMakeLists.txt's project(VERSION). */
const char *iw_version(void);

#endif
