# cmake/install.cmake - what `cmake --install` puts where, and the .deb.
#
#   prefix/bin/                            busmon-agent, busmon, busmon-demo-producer
#   prefix/lib/systemd/system/             busmon-agent.service (ExecStart: prefix/bin)
#   prefix/share/man/man1/busmon.1         generated from --help at build time
#   prefix/share/man/man8/busmon-agent.8
#   prefix/share/doc/busmon/               README.md, the protocol, busmon.yaml.example
#   prefix/share/bash-completion/completions/busmon
#   /etc/busmon/busmon.yaml                the example configuration (the unit reads it)
#   /etc/default/busmon-agent              BUSMON_* variables for the unit
#
# /etc is /etc for the prefixes /usr and /usr/local, else <prefix>/etc (below).
# The .deb (`cpack -G DEB` in the build directory) installs
# with prefix /usr whatever CMAKE_INSTALL_PREFIX is; its Depends come from
# dpkg-shlibdeps, and the files in /etc are conffiles.
include(GNUInstallDirs)

set(BUSMON_SYSTEMD_UNITDIR "lib/systemd/system" CACHE STRING
    "systemd system unit directory, relative to the prefix")

# the version, from the one place the programs have it
file(STRINGS ${CMAKE_SOURCE_DIR}/agent/main.c _bm_version_line REGEX "define BUSMON_VERSION \"")
string(REGEX REPLACE ".*\"(.*)\".*" "\\1" BUSMON_VERSION_STRING "${_bm_version_line}")

install(TARGETS busmon-agent busmon busmon-demo-producer DESTINATION ${CMAKE_INSTALL_BINDIR})

# man pages: the programs' own --help in a written frame (deploy/man/)
set(_bm_man_env ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=0)
add_custom_command(
  OUTPUT ${CMAKE_BINARY_DIR}/man/busmon.1
  COMMAND ${_bm_man_env} ${CMAKE_COMMAND} -DPROGRAM=$<TARGET_FILE:busmon> -DSUBCOMMANDS=ON
          -DIN=${CMAKE_SOURCE_DIR}/deploy/man/busmon.1.in -DOUT=${CMAKE_BINARY_DIR}/man/busmon.1
          -P ${CMAKE_SOURCE_DIR}/cmake/manpage.cmake
  DEPENDS busmon ${CMAKE_SOURCE_DIR}/deploy/man/busmon.1.in ${CMAKE_SOURCE_DIR}/cmake/manpage.cmake
  COMMENT "Generating man/busmon.1 from busmon --help")
add_custom_command(
  OUTPUT ${CMAKE_BINARY_DIR}/man/busmon-agent.8
  COMMAND ${_bm_man_env} ${CMAKE_COMMAND} -DPROGRAM=$<TARGET_FILE:busmon-agent>
          -DIN=${CMAKE_SOURCE_DIR}/deploy/man/busmon-agent.8.in
          -DOUT=${CMAKE_BINARY_DIR}/man/busmon-agent.8 -P ${CMAKE_SOURCE_DIR}/cmake/manpage.cmake
  DEPENDS busmon-agent ${CMAKE_SOURCE_DIR}/deploy/man/busmon-agent.8.in
          ${CMAKE_SOURCE_DIR}/cmake/manpage.cmake
  COMMENT "Generating man/busmon-agent.8 from busmon-agent --help")
add_custom_target(man ALL DEPENDS ${CMAKE_BINARY_DIR}/man/busmon.1 ${CMAKE_BINARY_DIR}/man/busmon-agent.8)
install(FILES ${CMAKE_BINARY_DIR}/man/busmon.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${CMAKE_BINARY_DIR}/man/busmon-agent.8 DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)

# The unit and /etc. Where they go depends on the prefix, known only at install
# time (cpack installs with its own, /usr): for /usr and /usr/local the
# configuration is in /etc, where the unit reads it; any other prefix
# (/opt/busmon, ~/.local, a test root) keeps it in <prefix>/etc and writes
# nothing outside the prefix. The unit's ExecStart, --config and
# EnvironmentFile are set to where this install put them.
install(CODE "
  if(CMAKE_INSTALL_PREFIX MATCHES \"^/usr(/local)?/?$\")
    set(_bm_etc /etc)
  else()
    set(_bm_etc \"\${CMAKE_INSTALL_PREFIX}/etc\")
  endif()
  file(INSTALL \"${CMAKE_SOURCE_DIR}/deploy/busmon.yaml\" DESTINATION \"\${_bm_etc}/busmon\")
  file(INSTALL \"${CMAKE_SOURCE_DIR}/deploy/busmon-agent.default\" DESTINATION \"\${_bm_etc}/default\"
       RENAME busmon-agent)
  file(READ \"${CMAKE_SOURCE_DIR}/deploy/busmon-agent.service\" _unit)
  string(REPLACE \"=/usr/bin/\" \"=\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}/\" _unit \"\${_unit}\")
  string(REPLACE \" /etc/busmon/\" \" \${_bm_etc}/busmon/\" _unit \"\${_unit}\")
  string(REPLACE \"=-/etc/default/\" \"=-\${_bm_etc}/default/\" _unit \"\${_unit}\")
  file(WRITE \"${CMAKE_BINARY_DIR}/busmon-agent.service\" \"\${_unit}\")")
install(FILES ${CMAKE_BINARY_DIR}/busmon-agent.service DESTINATION ${BUSMON_SYSTEMD_UNITDIR})
# the .deb marks its files in /etc as conffiles (kept on upgrade when edited)
file(WRITE ${CMAKE_BINARY_DIR}/deb/conffiles "/etc/busmon/busmon.yaml\n/etc/default/busmon-agent\n")

install(FILES ${CMAKE_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES ${CMAKE_SOURCE_DIR}/proto/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR} RENAME protocol.md)
install(FILES ${CMAKE_SOURCE_DIR}/deploy/busmon.yaml DESTINATION ${CMAKE_INSTALL_DOCDIR}
        RENAME busmon.yaml.example)
install(FILES ${CMAKE_SOURCE_DIR}/deploy/busmon.bash-completion
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME busmon)

# ---- the .deb: cpack -G DEB ----------------------------------------------------------
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME busmon)
set(CPACK_PACKAGE_VERSION ${BUSMON_VERSION_STRING})
set(CPACK_PACKAGE_VENDOR busmon)
set(CPACK_PACKAGE_CONTACT "busmon maintainers <busmon@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "monitoring sidecar for multi-agent systems talking over Redis")
set(CPACK_PACKAGE_DESCRIPTION
    "busmon-agent reads command, result and error events from Redis Streams \
(and pub/sub), rebuilds each transaction's trace and each worker's health and \
performance, groups errors, evaluates alert rules and publishes it all back to \
Redis, to Prometheus (/metrics), to webhooks and to Alertmanager. The busmon \
command shows traces, workers, errors and alerts.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "redis-server, prometheus, prometheus-alertmanager")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${CMAKE_BINARY_DIR}/deb/conffiles;${CMAKE_SOURCE_DIR}/deploy/deb/postinst;${CMAKE_SOURCE_DIR}/deploy/deb/prerm;${CMAKE_SOURCE_DIR}/deploy/deb/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_OUTPUT_FILE_PREFIX ${CMAKE_BINARY_DIR}/packages)
include(CPack)
