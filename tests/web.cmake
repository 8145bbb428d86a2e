# smpweb's tests. test_web (no browser) runs wherever smpweb builds. The
# browser test needs Debian's chromium and `npm ci` in tests/web; it is
# registered when SMP_WEB_TESTS is ON and then fails, naming what is missing,
# rather than skipping.
option(SMP_WEB_TESTS "Register the smpweb browser test (chromium, node, npm ci in tests/web)" ON)
if(TARGET smpweb)
  smp_test(test_web SOURCES web/test_web.c
    LIBS PkgConfig::ZMQ PkgConfig::JANSSON ${MATH_LIB}
    TIMEOUT 60 DEPENDS smpweb LABELS web)
  if(SMP_WEB_TESTS AND TARGET smpd AND TARGET smpsim)
    smp_test(test_web_browser SOURCES web/test_web_browser.c
      LIBS PkgConfig::ZMQ PkgConfig::JANSSON ${MATH_LIB}
      TIMEOUT 180 DEPENDS smpweb smpd smpsim LABELS web)
  endif()
endif()
